/**
 * Parses HAProxy ACL expressions into Model.Condition.
 *
 * An expression is a sequence of terms joined by `||` / `or`; adjacent terms are
 * ANDed. A term is `[!]name` (a named or predefined ACL) or `[!]{ criterion }`
 * (an anonymous ACL). As an extension used by the seed (`condition: "hdr(host)
 * -i api.company.com"`), a term that starts with a fetch name is an inline
 * criterion running to the next `||` / `or`.
 *
 * A criterion is `fetch[(args)][,converter[(args)]…] [flags] [patterns…]` with
 * flags `-i`, `-m <method>`, `-n`, `--`. Fetch names, arity and the stage where
 * they are valid come from the fetch table (fetches.ts).
 */
import { splitHaproxyWords, type SplitOptions } from '../config/words';
import { converters as converterTable } from './converters';
import { isIP } from 'node:net';
import type { Condition, MatchMethod } from '../config/model';
import { didYouMean } from '../config/suggest';
import type { Stage } from './context';
import { fetches } from './fetches';

export interface ParseConditionResult {
  condition?: Condition;
  error?: string;
}

type Leaf = Extract<Condition, { kind: 'match' }>;

const METHODS: MatchMethod[] = ['found', 'bool', 'int', 'ip', 'str', 'beg', 'end', 'sub', 'dir', 'dom', 'reg', 'len', 'bin'];

/** Converters the compiler applies to a sample. */

const STAGE_WORDS: Record<Stage, string> = {
  connection: 'a tcp frontend (connection stage)',
  request: 'http-request rules',
  response: 'http-response rules',
};

class AclError extends Error {}

/** HAProxy's predefined ACLs that make sense here, as criteria. */
const PREDEFINED: Record<string, string> = {
  TRUE: '',
  FALSE: '',
  LOCALHOST: 'src 127.0.0.1/8 ::1',
  METH_GET: 'method GET HEAD',
  METH_HEAD: 'method HEAD',
  METH_POST: 'method POST',
  METH_PUT: 'method PUT',
  METH_DELETE: 'method DELETE',
  METH_OPTIONS: 'method OPTIONS',
  METH_CONNECT: 'method CONNECT',
  METH_TRACE: 'method TRACE',
  HTTP_1_0: 'req.ver 1.0',
  HTTP_1_1: 'req.ver 1.1',
};

/** Parses an ACL expression (`use_backend … if <expr>`). */
export function parseCondition(text: string, stage: Stage, named?: ReadonlyMap<string, Condition>): ParseConditionResult {
  try {
    const tokens = tokenize(text);
    if (tokens.length === 0) throw new AclError('empty condition');
    const p = new ExprParser(tokens, stage, named ?? new Map());
    const condition = p.parseOr();
    if (p.pos < tokens.length) throw new AclError(`unexpected "${tokens[p.pos]}"`);
    return { condition };
  } catch (e) {
    if (e instanceof AclError) return { error: e.message };
    throw e;
  }
}

/** Parses one ACL criterion (the body of a named `acl`): `path_beg /api/ /v2/`. */
export function parseCriterion(text: string, stage: Stage): ParseConditionResult {
  try {
    const words = tokenize(text);
    if (words.length === 0) throw new AclError('empty ACL');
    return { condition: buildCriterion(words, stage) };
  } catch (e) {
    if (e instanceof AclError) return { error: e.message };
    throw e;
  }
}

/** HAProxy escapes in ACLs; other sequences (regex `\.`) stay as written. */
const ACL_WORDS: SplitOptions = { escapes: ' \t"\'\\#', anyEscapeInDoubleQuotes: true, lineBreaksAreBlanks: true };

/** Words separated by blanks; quotes and `\` escapes as in HAProxy; `!` split off a following `{`. */
function tokenize(text: string): string[] {
  const { words: out, unterminatedQuote } = splitHaproxyWords(text, ACL_WORDS);
  if (unterminatedQuote) throw new AclError('unterminated quote');
  // `!{` and `!name` are written without a blank.
  const tokens: string[] = [];
  for (const w of out) {
    if (w.length > 1 && w[0] === '!' && !w.startsWith('!=')) tokens.push('!', w.slice(1));
    else tokens.push(w);
  }
  return tokens;
}

class ExprParser {
  pos = 0;
  constructor(
    readonly tokens: string[],
    readonly stage: Stage,
    readonly named: ReadonlyMap<string, Condition>,
  ) {}

  private atOr(): boolean {
    const t = this.tokens[this.pos];
    return t === '||' || t === 'or';
  }

  parseOr(): Condition {
    const terms = [this.parseAnd()];
    while (this.atOr()) {
      this.pos++;
      terms.push(this.parseAnd());
    }
    return terms.length === 1 ? terms[0] : { kind: 'or', terms };
  }

  private parseAnd(): Condition {
    const terms: Condition[] = [];
    while (this.pos < this.tokens.length && !this.atOr() && this.tokens[this.pos] !== '}') terms.push(this.parseTerm());
    if (terms.length === 0) throw new AclError(this.pos < this.tokens.length ? `unexpected "${this.tokens[this.pos]}"` : 'missing term at end');
    return terms.length === 1 ? terms[0] : { kind: 'and', terms };
  }

  private parseTerm(): Condition {
    let negate = false;
    while (this.tokens[this.pos] === '!') {
      negate = !negate;
      this.pos++;
    }
    const t = this.tokens[this.pos];
    if (t === undefined) throw new AclError('missing term after "!"');
    let cond: Condition;
    if (t === '{') {
      const end = this.tokens.indexOf('}', this.pos + 1);
      if (end < 0) throw new AclError('missing "}"');
      const words = this.tokens.slice(this.pos + 1, end);
      if (words.length === 0) throw new AclError('empty "{ }"');
      cond = buildCriterion(words, this.stage);
      this.pos = end + 1;
    } else if (this.named.has(t)) {
      cond = this.named.get(t)!;
      this.pos++;
    } else if (t in PREDEFINED) {
      cond = t === 'TRUE' ? { kind: 'true' } : t === 'FALSE' ? { kind: 'false' } : buildCriterion(tokenize(PREDEFINED[t]), this.stage);
      this.pos++;
    } else if (fetches.has(fetchName(t))) {
      // Inline criterion (seed style): runs to the next `||` / `or`.
      let end = this.pos + 1;
      while (end < this.tokens.length && !['||', 'or', '}', '{'].includes(this.tokens[end])) end++;
      cond = buildCriterion(this.tokens.slice(this.pos, end), this.stage);
      this.pos = end;
    } else {
      const names = [...this.named.keys(), ...Object.keys(PREDEFINED), ...fetches.keys()];
      throw new AclError(`unknown ACL or fetch "${t}"${didYouMean(fetchName(t), names)}`);
    }
    return negate ? { kind: 'not', expr: cond } : cond;
  }
}

/** The fetch keyword of `hdr(host),lower`. */
function fetchName(word: string): string {
  const m = /^[^(,]+/.exec(word);
  return m ? m[0] : word;
}

/** Splits `name(a,b)` into name and args. Commas inside parentheses separate args. */
function splitCall(text: string): { name: string; args: string[] } {
  const open = text.indexOf('(');
  if (open < 0) return { name: text, args: [] };
  if (!text.endsWith(')')) throw new AclError(`missing ")" in "${text}"`);
  const inner = text.slice(open + 1, -1);
  return { name: text.slice(0, open), args: inner === '' ? [] : inner.split(',').map((a) => a.trim()) };
}

/** Splits `hdr(host),lower,upper` at top-level commas. */
function splitSampleExpression(word: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < word.length; i++) {
    if (word[i] === '(') depth++;
    else if (word[i] === ')') depth--;
    else if (word[i] === ',' && depth === 0) {
      parts.push(word.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(word.slice(start));
  return parts;
}

function buildCriterion(words: string[], stage: Stage): Leaf {
  const text = words.join(' ');
  const [fetchPart, ...convParts] = splitSampleExpression(words[0]);
  const { name: fetch, args } = splitCall(fetchPart);
  const def = fetches.get(fetch);
  if (!def) throw new AclError(`unknown fetch "${fetch}"${didYouMean(fetch, fetches.keys())}`);
  if (args.length < def.minArgs || args.length > def.maxArgs) {
    const want = def.minArgs === def.maxArgs ? `${def.minArgs}` : `${def.minArgs} to ${def.maxArgs}`;
    throw new AclError(`fetch "${fetch}" takes ${want} argument${def.maxArgs === 1 ? '' : 's'}, got ${args.length}`);
  }
  if (!def.stages.includes(stage)) {
    throw new AclError(`fetch "${fetch}" is not available in ${STAGE_WORDS[stage]} (valid in: ${def.stages.join(', ')})`);
  }
  const converters = convParts.map((c) => {
    const call = splitCall(c);
    const conv = converterTable.get(call.name);
    if (!conv) throw new AclError(`unknown converter "${call.name}"${didYouMean(call.name, converterTable.keys())}`);
    if (call.args.length < conv.minArgs || call.args.length > conv.maxArgs) throw new AclError(`converter "${call.name}": wrong number of arguments`);
    return call;
  });

  let method: MatchMethod = def.method;
  let explicitMethod = false;
  let ignoreCase = false;
  let i = 1;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-') || w.length < 2 || /^-\d/.test(w)) break;
    if (w === '-i') ignoreCase = true;
    else if (w === '-n') continue;
    else if (w === '-m') {
      const m = words[++i];
      if (!METHODS.includes(m as MatchMethod)) throw new AclError(`unknown match method "-m ${m ?? ''}"${m ? didYouMean(m, METHODS) : ''}`);
      method = m as MatchMethod;
      explicitMethod = true;
    } else if (w === '-f' || w === '-M') throw new AclError(`ACL flag "${w}" (pattern files) is not supported; list the patterns inline`);
    else throw new AclError(`unknown ACL flag "${w}" (expected -i, -m <method>, -n, --)`);
  }
  const rest = words.slice(i);
  const patterns: string[] = [];
  if (method === 'int' || method === 'len') {
    for (let k = 0; k < rest.length; k++) {
      const w = rest[k];
      if (/^(lt|le|gt|ge|eq)$/.test(w)) {
        const n = rest[++k];
        if (n === undefined || !/^-?\d+$/.test(n)) throw new AclError(`operator "${w}" needs an integer`);
        patterns.push(`${w} ${n}`);
      } else if (/^-?\d+$/.test(w) || /^(-?\d*):(-?\d*)$/.test(w)) patterns.push(w);
      else throw new AclError(`"${w}" is not an integer, range (N:M) or operator (lt le gt ge eq N)`);
    }
  } else if (method === 'bin') {
    for (const w of rest) if (!/^([0-9A-Fa-f]{2})+$/.test(w)) throw new AclError(`"${w}" is not a hex string (-m bin)`);
    patterns.push(...rest);
  } else patterns.push(...rest);

  if (patterns.length === 0 && method !== 'found' && method !== 'bool') {
    // A pattern-less ACL on a boolean or integer fetch tests its truth, as in HAProxy.
    if (!explicitMethod && (def.method === 'bool' || def.method === 'int')) method = 'bool';
    else throw new AclError(`"${text}": no pattern to match (use -m found to test presence)`);
  }
  if ((method === 'found' || method === 'bool') && patterns.length) {
    throw new AclError(`"${text}": -m ${method} takes no pattern`);
  }
  for (const p of patterns) {
    if (method === 'ip') checkIpPattern(p);
    else if (method === 'reg') {
      try {
        new RegExp(p);
      } catch (e) {
        throw new AclError(`bad regex "${p}": ${(e as Error).message}`);
      }
    }
  }
  return { kind: 'match', fetch, args, converters, method, ignoreCase, patterns, text };
}

function checkIpPattern(p: string): void {
  const [addr, bits, extra] = p.split('/');
  const family = isIP(addr);
  if (!family || extra !== undefined) throw new AclError(`"${p}" is not an IP address or CIDR`);
  if (bits !== undefined) {
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(bits) || Number(bits) > max) throw new AclError(`"${p}": prefix length must be 0..${max}`);
  }
}
