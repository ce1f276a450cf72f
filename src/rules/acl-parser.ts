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
 * flags `-i`, `-m <method>`, `-f <file>` (several allowed), `-M`, `-n`, `--`. Fetch
 * names, arity and the stage where they are valid come from the fetch table
 * (fetches.ts). Pattern files are named here; the config loader reads them.
 */
import { splitHaproxyWords, type SplitOptions } from '../config/words';
import { converters as converterTable } from './converters';
import type { Condition, MatchMethod, ParsedSample } from '../config/model';
import { didYouMean } from '../config/suggest';
import type { Stage } from './context';
import { fetches } from './fetches';
import { patternError } from './pattern-index';

export interface ParseConditionResult {
  condition?: Condition;
  error?: string;
}

/** Where a rule is: `nbsrv` / `be_conn` without a backend name mean the backend whose rule it is. */
export interface RuleScope {
  backend?: string;
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
export function parseCondition(text: string, stage: Stage, named?: ReadonlyMap<string, Condition>, scope: RuleScope = {}): ParseConditionResult {
  try {
    const tokens = tokenize(text);
    if (tokens.length === 0) throw new AclError('empty condition');
    const p = new ExprParser(tokens, stage, named ?? new Map(), scope);
    const condition = p.parseOr();
    if (p.pos < tokens.length) throw new AclError(`unexpected "${tokens[p.pos]}"`);
    return { condition };
  } catch (e) {
    if (e instanceof AclError) return { error: e.message };
    throw e;
  }
}

/** Parses one ACL criterion (the body of a named `acl`): `path_beg /api/ /v2/`. */
export function parseCriterion(text: string, stage: Stage, scope: RuleScope = {}): ParseConditionResult {
  try {
    const words = tokenize(text);
    if (words.length === 0) throw new AclError('empty ACL');
    return { condition: buildCriterion(words, stage, scope) };
  } catch (e) {
    if (e instanceof AclError) return { error: e.message };
    throw e;
  }
}

/**
 * A name built per request, as HAProxy's log-format names (`use_backend
 * be_%[req.hdr(host),lower,map(hosts.map,www)]`): literal text and `%[sample]` parts.
 */
export function parseNameTemplate(text: string, stage: Stage, scope: RuleScope = {}): { parts?: (string | ParsedSample)[]; error?: string } {
  try {
    const parts: (string | ParsedSample)[] = [];
    let i = 0;
    while (i < text.length) {
      const open = text.indexOf('%[', i);
      const literal = text.slice(i, open < 0 ? text.length : open);
      if (literal.includes('%')) throw new AclError(`"${text}": only %[sample] is supported in a name`);
      if (literal) parts.push(literal);
      if (open < 0) break;
      const close = text.indexOf(']', open);
      if (close < 0) throw new AclError(`"${text}": missing "]"`);
      parts.push(parseSample(text.slice(open + 2, close).trim(), stage, scope));
      i = close + 1;
    }
    return { parts };
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
    readonly scope: RuleScope,
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
      cond = buildCriterion(words, this.stage, this.scope);
      this.pos = end + 1;
    } else if (this.named.has(t)) {
      cond = this.named.get(t)!;
      this.pos++;
    } else if (t in PREDEFINED) {
      cond = t === 'TRUE' ? { kind: 'true' } : t === 'FALSE' ? { kind: 'false' } : buildCriterion(tokenize(PREDEFINED[t]), this.stage, this.scope);
      this.pos++;
    } else if (fetches.has(fetchName(t))) {
      // Inline criterion (seed style): runs to the next `||` / `or`.
      let end = this.pos + 1;
      while (end < this.tokens.length && !['||', 'or', '}', '{'].includes(this.tokens[end])) end++;
      cond = buildCriterion(this.tokens.slice(this.pos, end), this.stage, this.scope);
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

/** `fetch(args),converter(args),…`, checked against the fetch and converter tables. */
function parseSample(word: string, stage: Stage, scope: RuleScope): ParsedSample {
  const [fetchPart, ...convParts] = splitSampleExpression(word);
  const { name: fetch, args } = splitCall(fetchPart);
  const def = fetches.get(fetch);
  if (!def) throw new AclError(`unknown fetch "${fetch}"${didYouMean(fetch, fetches.keys())}`);
  if (args.length < def.minArgs || args.length > def.maxArgs) {
    const want = def.minArgs === def.maxArgs ? `${def.minArgs}` : `${def.minArgs} to ${def.maxArgs}`;
    throw new AclError(`fetch "${fetch}" takes ${want} argument${def.maxArgs === 1 ? '' : 's'}, got ${args.length}`);
  }
  const argError = def.checkArgs?.(args);
  if (argError) throw new AclError(`fetch "${fetch}": ${argError}`);
  if (def.names === 'backend' && args.length === 0) {
    if (scope.backend === undefined) throw new AclError(`fetch "${fetch}" needs a backend name outside a backend`);
    args.push(scope.backend);
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
  return { fetch, args, converters };
}

function buildCriterion(words: string[], stage: Stage, scope: RuleScope): Leaf {
  const text = words.join(' ');
  const { fetch, args, converters } = parseSample(words[0], stage, scope);
  const def = fetches.get(fetch)!;

  let method: MatchMethod = def.method;
  let explicitMethod = false;
  let ignoreCase = false;
  const files: string[] = [];
  let mapFiles = false;
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
    } else if (w === '-f') {
      const f = words[++i];
      if (f === undefined) throw new AclError('"-f" needs a file name');
      files.push(f);
    } else if (w === '-M') mapFiles = true;
    else throw new AclError(`unknown ACL flag "${w}" (expected -i, -m <method>, -f <file>, -M, -n, --)`);
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
      } else patterns.push(w);
    }
  } else patterns.push(...rest);

  if (mapFiles && files.length === 0) throw new AclError(`"${text}": -M applies to the files of -f`);
  if (patterns.length === 0 && files.length === 0 && method !== 'found' && method !== 'bool') {
    // A pattern-less ACL on a boolean or integer fetch tests its truth, as in HAProxy.
    if (!explicitMethod && (def.method === 'bool' || def.method === 'int')) method = 'bool';
    else throw new AclError(`"${text}": no pattern to match (use -m found to test presence)`);
  }
  if ((method === 'found' || method === 'bool') && (patterns.length || files.length)) {
    throw new AclError(`"${text}": -m ${method} takes no pattern`);
  }
  for (const p of patterns) {
    const error = patternError(method, p);
    if (error) throw new AclError(error);
  }
  const leaf: Leaf = { kind: 'match', fetch, args, converters, method, ignoreCase, patterns, text };
  if (files.length) leaf.files = files;
  if (mapFiles) leaf.mapFiles = true;
  return leaf;
}
