/**
 * The keyword table of http-request / http-response actions as HAProxy lines
 * (`http-request set-header X-Host %[req.hdr(host)] if is_api`): where each is
 * valid, and how its words become the model's action. The native YAML form builds
 * the same actions (build.ts); checkAction checks both (log-format values, regexes,
 * sample expressions, variable names). The runtime side is src/http/actions.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AnswerSpec, HttpAction } from './model';
import type { AnswerInput, HttpRuleInput } from './schema-http-rules';
import type { Stage } from '../rules/context';
import { compileValueTemplate, parseSampleExpr } from '../rules/sample-expr';
import { gpt0ValueErrors, parseTcpAction } from './stick-syntax';
import { parseSize, parseTime } from './haproxy-syntax';
import { didYouMean } from './suggest';

export type RuleSet = 'request' | 'response' | 'after-response';

interface ActionSyntax {
  /** The rule sets it is valid in. */
  where: RuleSet[];
  /** The action from the words after the keyword (`arg`: the keyword's parenthesised argument, `set-var(txn.x)`). */
  parse(words: string[], arg: string | undefined): HttpAction | string;
}

const BOTH: RuleSet[] = ['request', 'response'];
/** Actions HAProxy's http-after-response takes as well. */
const EVERY: RuleSet[] = ['request', 'response', 'after-response'];
const REQUEST: RuleSet[] = ['request'];
const RESPONSE: RuleSet[] = ['response'];

function exactly(n: number, words: string[], usage: string): string | undefined {
  return words.length === n ? undefined : `expects ${usage}`;
}

/**
 * `[status N] [content-type T] [default-errorfiles | errorfile F | string S | lf-string S | file F | lf-file F] [hdr N V]*`
 * (return; deny with `deny_status`).
 */
function parseAnswer(words: string[], statusWord: string, status: number): { status: number; answer?: AnswerSpec } | string {
  const answer: AnswerSpec = { headers: [] };
  let hasAnswer = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === 'default-errorfiles') {
      answer.defaultErrorfiles = true;
      hasAnswer = true;
      continue;
    }
    const v = words[i + 1];
    if (v === undefined) return `"${w}" expects a value`;
    i++;
    switch (w) {
      case statusWord:
        if (!/^[1-5][0-9][0-9]$/.test(v)) return `${statusWord} expects an HTTP status, got "${v}"`;
        status = Number(v);
        continue;
      case 'content-type':
        answer.contentType = v;
        break;
      case 'string':
        answer.string = v;
        break;
      case 'lf-string':
        answer.lfString = v;
        break;
      case 'file':
        answer.file = v;
        break;
      case 'lf-file':
        answer.lfFile = v;
        break;
      case 'errorfile':
        answer.errorfile = v;
        break;
      case 'errorfiles':
        answer.errorfiles = v;
        break;
      case 'hdr': {
        const value = words[++i];
        if (value === undefined) return 'hdr expects a name and a value';
        answer.headers.push({ name: v, value });
        break;
      }
      default:
        return `unexpected "${w}" (expected ${statusWord}, content-type, default-errorfiles, errorfile, errorfiles, string, lf-string, file, lf-file, hdr)`;
    }
    hasAnswer = true;
  }
  return { status, answer: hasAnswer ? answer : undefined };
}

/** track-scN, sc-inc-gpc0(N) and sc-set-gpt0(N) read as the tcp-request actions are. */
function stickAction(words: string[]): HttpAction | string {
  const r = parseTcpAction(words);
  if (r.error !== undefined) return r.error;
  const a = r.value;
  return a.action === 'track-sc' || a.action === 'sc-inc-gpc0' || a.action === 'sc-set-gpt0' ? a : 'expects track-sc<0..2> <fetch> [table <table>] or sc-inc-gpc0(<0..2>)';
}

/** `wait-for-body time <time> [at-least <bytes>]`, from the line's words or the YAML fields. */
function waitForBody(time: string | number | undefined, atLeast: string | number | undefined): HttpAction | string {
  if (time === undefined) return 'expects time <time> [at-least <bytes>]';
  const t = parseTime(time);
  if (t.error !== undefined) return t.error;
  const n = atLeast === undefined ? { value: 0 } : parseSize(atLeast);
  if (n.error !== undefined) return n.error;
  return { action: 'wait-for-body', time: t.value, atLeast: n.value };
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;
const DEL_HEADER_MATCHES = ['str', 'beg', 'end', 'sub', 'reg'] as const;

export const actionSyntax: ReadonlyMap<string, ActionSyntax> = new Map<string, ActionSyntax>([
  ['allow', { where: EVERY, parse: (w) => exactly(0, w, 'no argument') ?? { action: 'allow' } }],
  [
    'deny',
    {
      where: BOTH,
      parse: (w) => {
        const r = parseAnswer(w, 'deny_status', 403);
        return typeof r === 'string' ? r : { action: 'deny', status: r.status, ...(r.answer ? { answer: r.answer } : {}) };
      },
    },
  ],
  [
    'tarpit',
    {
      where: REQUEST,
      parse: (w) => {
        if (w.length === 0) return { action: 'tarpit', status: 500 };
        if (w.length === 2 && w[0] === 'deny_status' && /^[1-5][0-9][0-9]$/.test(w[1])) return { action: 'tarpit', status: Number(w[1]) };
        return 'expects [deny_status <status>]';
      },
    },
  ],
  [
    'return',
    {
      where: REQUEST,
      parse: (w) => {
        const r = parseAnswer(w, 'status', 200);
        return typeof r === 'string' ? r : { action: 'return', status: r.status, answer: r.answer ?? { headers: [] } };
      },
    },
  ],
  [
    'redirect',
    {
      where: REQUEST,
      parse: (w) => {
        const [kind, target] = w;
        if ((kind !== 'location' && kind !== 'prefix' && kind !== 'scheme') || target === undefined) return 'expects location|prefix|scheme <value> [code <code>]';
        let code: (typeof REDIRECT_CODES)[number] = 302;
        const uri: { dropQuery?: boolean; appendSlash?: boolean } = {};
        for (let i = 2; i < w.length; i++) {
          if (w[i] === 'code' && REDIRECT_CODES.includes(Number(w[i + 1]) as 302)) code = Number(w[++i]) as 302;
          else if (w[i] === 'drop-query' && kind !== 'location') uri.dropQuery = true;
          else if (w[i] === 'append-slash' && kind !== 'location') uri.appendSlash = true;
          else return `unexpected "${w[i]}" (expected code 301|302|303|307|308${kind !== 'location' ? ', drop-query, append-slash' : ''})`;
        }
        if (kind === 'location') return { action: 'redirect-location', location: target, code };
        if (kind === 'prefix') return { action: 'redirect-prefix', prefix: target, code, ...uri };
        return { action: 'redirect-scheme', scheme: target, code, ...uri };
      },
    },
  ],
  ['set-header', { where: EVERY, parse: (w) => exactly(2, w, '<name> <fmt>') ?? { action: 'set-header', name: w[0], value: w[1] } }],
  ['add-header', { where: EVERY, parse: (w) => exactly(2, w, '<name> <fmt>') ?? { action: 'add-header', name: w[0], value: w[1] } }],
  [
    'del-header',
    {
      where: EVERY,
      parse: (w) => {
        if (w.length === 1) return { action: 'del-header', name: w[0] };
        if (w.length === 3 && w[1] === '-m' && DEL_HEADER_MATCHES.includes(w[2] as 'str')) return { action: 'del-header', name: w[0], match: w[2] as 'str' };
        return '<name> [-m str|beg|end|sub|reg]';
      },
    },
  ],
  ['replace-header', { where: EVERY, parse: (w) => exactly(3, w, '<name> <regex> <fmt>') ?? { action: 'replace-header', name: w[0], regex: w[1], replace: w[2] } }],
  ['replace-value', { where: EVERY, parse: (w) => exactly(3, w, '<name> <regex> <fmt>') ?? { action: 'replace-value', name: w[0], regex: w[1], replace: w[2] } }],
  ['set-method', { where: REQUEST, parse: (w) => exactly(1, w, '<fmt>') ?? { action: 'set-method', value: w[0] } }],
  ['set-path', { where: REQUEST, parse: (w) => exactly(1, w, '<fmt>') ?? { action: 'set-path', value: w[0] } }],
  ['set-query', { where: REQUEST, parse: (w) => exactly(1, w, '<fmt>') ?? { action: 'set-query', value: w[0] } }],
  ['set-uri', { where: REQUEST, parse: (w) => exactly(1, w, '<fmt>') ?? { action: 'set-uri', value: w[0] } }],
  ['replace-path', { where: REQUEST, parse: (w) => exactly(2, w, '<regex> <fmt>') ?? { action: 'replace-path', regex: w[0], replace: w[1] } }],
  ['set-var', { where: EVERY, parse: (w, arg) => (arg === undefined ? 'expects set-var(<scope>.<name>) <expr>' : (exactly(1, w, '<expr>') ?? { action: 'set-var', name: arg, expr: w[0] })) }],
  ['set-src', { where: REQUEST, parse: (w) => exactly(1, w, '<expr>') ?? { action: 'set-src', expr: w[0] } }],
  ['unset-var', { where: EVERY, parse: (w, arg) => (arg === undefined ? 'expects unset-var(<scope>.<name>)' : (exactly(0, w, 'no argument') ?? { action: 'unset-var', name: arg })) }],
  [
    'capture',
    {
      where: REQUEST,
      parse: (w) =>
        w.length === 3 && w[1] === 'len' && /^[1-9][0-9]*$/.test(w[2]) ? { action: 'capture', expr: w[0], len: Number(w[2]), slot: 0 } : 'expects <sample> len <length>',
    },
  ],
  [
    'auth',
    {
      where: REQUEST,
      parse: (w) => (w.length === 0 ? { action: 'auth' } : w.length === 2 && w[0] === 'realm' ? { action: 'auth', realm: w[1] } : 'expects [realm <realm>]'),
    },
  ],
  ...[0, 1, 2].map((n): [string, ActionSyntax] => [`track-sc${n}`, { where: REQUEST, parse: (w) => stickAction([`track-sc${n}`, ...w]) }]),
  [
    'normalize-uri',
    {
      where: REQUEST,
      parse: (w) => {
        const [mode, option, ...extra] = w;
        const flag = mode === 'path-strip-dotdot' ? 'full' : mode === 'percent-decode-unreserved' ? 'strict' : undefined;
        if (mode !== 'path-merge-slashes' && flag === undefined) return 'expects path-merge-slashes, path-strip-dotdot [full] or percent-decode-unreserved [strict]';
        if (extra.length || (option !== undefined && option !== flag)) return `${mode}: unexpected "${w.slice(1).join(' ')}"${flag ? ` (only ${flag})` : ''}`;
        return { action: 'normalize-uri', mode: mode as 'path-merge-slashes', ...(option ? { [option]: true } : {}) };
      },
    },
  ],
  ['sc-inc-gpc0', { where: BOTH, parse: (w, arg) => stickAction([`sc-inc-gpc0(${arg ?? ''})`, ...w]) }],
  ['sc-set-gpt0', { where: BOTH, parse: (w, arg) => stickAction([arg === undefined ? 'sc-set-gpt0' : `sc-set-gpt0(${arg})`, ...w]) }],
  [
    'set-status',
    {
      where: ['response', 'after-response'],
      parse: (w) => {
        if (!/^[1-5][0-9][0-9]$/.test(w[0] ?? '')) return 'expects <status> [reason <text>]';
        if (w.length === 1) return { action: 'set-status', status: Number(w[0]) };
        if (w.length === 3 && w[1] === 'reason') return { action: 'set-status', status: Number(w[0]), reason: w[2] };
        return 'expects <status> [reason <text>]';
      },
    },
  ],
  ['cache-use', { where: REQUEST, parse: (w) => exactly(1, w, '<cache>') ?? { action: 'cache-use', cache: w[0] } }],
  ['cache-store', { where: RESPONSE, parse: (w) => exactly(1, w, '<cache>') ?? { action: 'cache-store', cache: w[0] } }],
  [
    'wait-for-body',
    {
      where: REQUEST,
      parse: (w) =>
        w[0] === 'time' && (w.length === 2 || (w.length === 4 && w[2] === 'at-least')) ? waitForBody(w[1], w[3]) : 'expects time <time> [at-least <bytes>]',
    },
  ],
]);

/**
 * The action of a rule line's words (after `http-request`/`http-response`, before
 * `if`/`unless`), or why not: an unknown keyword, one not valid in this rule set, bad arguments.
 */
export function parseActionWords(words: string[], when: RuleSet): HttpAction | string {
  const m = /^([a-z0-9_-]+)(?:\(([^)]*)\))?$/.exec(words[0] ?? '');
  const keyword = m ? m[1] : (words[0] ?? '');
  const syntax = actionSyntax.get(keyword);
  if (!syntax) return `unknown http-${when} action "${keyword}"${didYouMean(keyword, actionSyntax.keys())}`;
  if (!syntax.where.includes(when)) return `"${keyword}" is not an http-${when} action (valid in ${syntax.where.map((w) => 'http-' + w).join(', ')})`;
  const parsed = syntax.parse(words.slice(1), m?.[2]);
  return typeof parsed === 'string' ? `${keyword}: ${parsed}` : parsed;
}

const VAR_NAME = /^(txn|req|res|sess)\.[A-Za-z0-9_.]+$/;

/** A mistake in an action's value; `field`: the native YAML key it is under, when it has one. */
export interface ActionError {
  message: string;
  field?: string;
}

/** Mistakes in an action's values, whatever form it was written in. */
export function checkAction(a: HttpAction, stage: Stage): ActionError[] {
  const errors: ActionError[] = [];
  const push = (field: string | undefined, messages: string[]): void => {
    for (const message of messages) errors.push(field === undefined ? { message } : { message, field });
  };
  const template = (v: string, field: string): void => {
    const found: string[] = [];
    compileValueTemplate(v, stage, found);
    push(field, found);
  };
  const regex = (r: string, field: string): void => {
    try {
      new RegExp(r);
    } catch (e) {
      push(field, [`bad regex "${r}": ${(e as Error).message}`]);
    }
  };
  const headerName = (n: string): void => {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n)) push('name', [`"${n}" is not a valid header name`]);
  };
  switch (a.action) {
    case 'set-header':
    case 'add-header':
      headerName(a.name);
      template(a.value, 'value');
      break;
    case 'replace-header':
    case 'replace-value':
    case 'replace-path':
      if (a.action !== 'replace-path') headerName(a.name);
      regex(a.regex, 'regex');
      template(a.replace, 'replace');
      break;
    case 'set-method':
    case 'set-path':
    case 'set-query':
    case 'set-uri':
      template(a.value, '');
      break;
    case 'redirect-location':
      template(a.location, 'location');
      break;
    case 'del-header':
      if (a.match === 'reg') regex(a.name, 'name');
      break;
    case 'sc-set-gpt0':
      push(undefined, gpt0ValueErrors(a.value, stage));
      break;
    case 'capture':
    case 'set-src': {
      const found: string[] = [];
      parseSampleExpr(a.expr, found);
      push(a.action === 'capture' ? 'sample' : 'expr', found);
      break;
    }
    case 'set-var': {
      const found: string[] = [];
      const expr = parseSampleExpr(a.expr, found);
      if (expr && !expr.stages.includes(stage)) found.push(`${a.expr}: not available in ${stage} rules`);
      push('expr', found);
      if (!VAR_NAME.test(a.name)) push('name', [`variable "${a.name}" needs a scope: txn., req., res. or sess.`]);
      break;
    }
    case 'unset-var':
      if (!VAR_NAME.test(a.name)) push(undefined, [`variable "${a.name}" needs a scope: txn., req., res. or sess.`]);
      break;
    case 'return':
    case 'deny': {
      const answer = a.answer;
      if (!answer) break;
      const bodies = [answer.string, answer.lfString, answer.file, answer.lfFile].filter((b) => b !== undefined).length;
      const pages = [answer.errorfile, answer.errorfiles, answer.defaultErrorfiles].filter((b) => b !== undefined).length;
      if (bodies + pages > 1) push(undefined, ['takes one of default-errorfiles, errorfile, errorfiles, string, lf-string, file, lf-file']);
      if (bodies === 1 && answer.contentType === undefined) push(undefined, ['a body needs its content-type']);
      if (answer.errorfile !== undefined) {
        if (!existsSync(answer.errorfile)) push('errorfile', [`errorfile ${answer.errorfile}: not found`]);
        else if (!/^HTTP\/1\.[01] \d{3}/.test(readFileSync(answer.errorfile, 'latin1').slice(0, 12))) push('errorfile', [`${answer.errorfile}: an errorfile is a raw HTTP response starting with "HTTP/1.x"`]);
      }
      if (answer.lfString !== undefined) template(answer.lfString, 'lf_string');
      for (const h of answer.headers) {
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(h.name)) push('headers', [`"${h.name}" is not a valid header name`]);
        template(h.value, 'headers');
      }
      break;
    }
  }
  return errors;
}

/** The native YAML keys of a rule's action (`set_header: {name, value}`), one per rule. */
export const YAML_ACTIONS = [
  'redirect',
  'allow',
  'deny',
  'return',
  'set_header',
  'add_header',
  'del_header',
  'replace_header',
  'replace_value',
  'set_method',
  'set_path',
  'set_query',
  'set_uri',
  'replace_path',
  'set_var',
  'unset_var',
  'set_status',
  'auth',
  'tarpit',
  'capture',
  'cache_use',
  'cache_store',
  'wait_for_body',
] as const satisfies readonly (keyof HttpRuleInput)[];

type YamlAction = (typeof YAML_ACTIONS)[number];

function answerFromYaml(a: AnswerInput): AnswerSpec {
  return {
    ...(a.content_type !== undefined ? { contentType: a.content_type } : {}),
    ...(a.string !== undefined ? { string: a.string } : {}),
    ...(a.lf_string !== undefined ? { lfString: a.lf_string } : {}),
    ...(a.file !== undefined ? { file: a.file } : {}),
    ...(a.lf_file !== undefined ? { lfFile: a.lf_file } : {}),
    ...(a.errorfile !== undefined ? { errorfile: a.errorfile } : {}),
    ...(a.errorfiles !== undefined ? { errorfiles: a.errorfiles } : {}),
    ...(a.default_errorfiles ? { defaultErrorfiles: true as const } : {}),
    headers: Object.entries(a.headers ?? {}).map(([name, value]) => ({ name, value })),
  };
}

/** The action of a native YAML rule's `key`, or why not (misplaced, incomplete). */
export function actionFromYaml(r: HttpRuleInput, key: YamlAction, when: RuleSet): HttpAction | string {
  const keyword = key.replace(/_/g, '-');
  const where = actionSyntax.get(keyword)!.where;
  if (!where.includes(when)) return `${key} is not an http_${when.replace('-', '_')} action (valid in ${where.map((w) => 'http_' + w.replace('-', '_')).join(', ')})`;
  switch (key) {
    case 'redirect': {
      const rd = r.redirect!;
      const code = rd.code ?? 302;
      const targets = (['scheme', 'location', 'prefix'] as const).filter((k) => rd[k] !== undefined);
      if (targets.length !== 1) return 'redirect takes exactly one of scheme, location, prefix';
      const t = targets[0];
      const uri = { ...(rd.drop_query ? { dropQuery: true } : {}), ...(rd.append_slash ? { appendSlash: true } : {}) };
      if (t === 'location' && (rd.drop_query || rd.append_slash)) return 'drop_query and append_slash go with a scheme or prefix redirect';
      return t === 'scheme'
        ? { action: 'redirect-scheme', scheme: rd.scheme!, code, ...uri }
        : t === 'location'
          ? { action: 'redirect-location', location: rd.location!, code }
          : { action: 'redirect-prefix', prefix: rd.prefix!, code, ...uri };
    }
    case 'allow':
      return { action: 'allow' };
    case 'deny': {
      const d = r.deny!;
      const answer = answerFromYaml(d);
      const hasAnswer = answer.string !== undefined || answer.lfString !== undefined || answer.file !== undefined || answer.lfFile !== undefined || answer.errorfile !== undefined || answer.errorfiles !== undefined || answer.headers.length > 0 || answer.contentType !== undefined;
      return { action: 'deny', status: d.status ?? 403, ...(hasAnswer ? { answer } : {}) };
    }
    case 'return':
      return { action: 'return', status: r.return!.status ?? 200, answer: answerFromYaml(r.return!) };
    case 'set_header':
    case 'add_header':
      return { action: keyword as 'set-header', name: r[key]!.name, value: r[key]!.value };
    case 'del_header': {
      const d = r.del_header!;
      return typeof d === 'string' ? { action: 'del-header', name: d } : { action: 'del-header', name: d.name, ...(d.match ? { match: d.match } : {}) };
    }
    case 'replace_header':
    case 'replace_value':
      return { action: keyword as 'replace-header', name: r[key]!.name, regex: r[key]!.regex, replace: r[key]!.replace };
    case 'set_method':
    case 'set_path':
    case 'set_query':
    case 'set_uri':
      return { action: keyword as 'set-path', value: r[key]! };
    case 'replace_path':
      return { action: 'replace-path', regex: r.replace_path!.regex, replace: r.replace_path!.replace };
    case 'set_var':
      return { action: 'set-var', name: r.set_var!.name, expr: r.set_var!.expr };
    case 'unset_var':
      return { action: 'unset-var', name: r.unset_var! };
    case 'tarpit':
      return { action: 'tarpit', status: r.tarpit!.status ?? 500 };
    case 'capture':
      return { action: 'capture', expr: r.capture!.sample, len: r.capture!.len, slot: 0 };
    case 'auth':
      return { action: 'auth', ...(r.auth!.realm !== undefined ? { realm: r.auth!.realm } : {}) };
    case 'cache_use':
      return { action: 'cache-use', cache: r.cache_use! };
    case 'cache_store':
      return { action: 'cache-store', cache: r.cache_store! };
    case 'wait_for_body':
      return waitForBody(r.wait_for_body!.time, r.wait_for_body!.at_least);
    case 'set_status':
      return { action: 'set-status', status: r.set_status!.status, ...(r.set_status!.reason !== undefined ? { reason: r.set_status!.reason } : {}) };
  }
}

function answerText(a: AnswerSpec | undefined): string {
  if (!a) return '';
  let t = a.contentType !== undefined ? ` content-type ${a.contentType}` : '';
  if (a.string !== undefined) t += ` string ${JSON.stringify(a.string)}`;
  if (a.lfString !== undefined) t += ` lf-string ${JSON.stringify(a.lfString)}`;
  if (a.file !== undefined) t += ` file ${a.file}`;
  if (a.lfFile !== undefined) t += ` lf-file ${a.lfFile}`;
  if (a.errorfile !== undefined) t += ` errorfile ${a.errorfile}`;
  if (a.errorfiles !== undefined) t += ` errorfiles ${a.errorfiles}`;
  if (a.defaultErrorfiles) t += ' default-errorfiles';
  for (const h of a.headers) t += ` hdr ${h.name} ${JSON.stringify(h.value)}`;
  return t;
}

/** The action as an HAProxy line says it (rule listings, `show` output). */
export function actionText(a: HttpAction): string {
  switch (a.action) {
    case 'redirect-scheme':
      return `redirect scheme ${a.scheme} code ${a.code}${a.dropQuery ? ' drop-query' : ''}${a.appendSlash ? ' append-slash' : ''}`;
    case 'redirect-location':
      return `redirect location ${a.location} code ${a.code}`;
    case 'redirect-prefix':
      return `redirect prefix ${a.prefix} code ${a.code}${a.dropQuery ? ' drop-query' : ''}${a.appendSlash ? ' append-slash' : ''}`;
    case 'allow':
      return 'allow';
    case 'deny':
      return `deny deny_status ${a.status}${answerText(a.answer)}`;
    case 'return':
      return `return status ${a.status}${answerText(a.answer)}`;
    case 'set-header':
    case 'add-header':
      return `${a.action} ${a.name} ${a.value}`;
    case 'del-header':
      return `del-header ${a.name}${a.match ? ` -m ${a.match}` : ''}`;
    case 'replace-header':
    case 'replace-value':
      return `${a.action} ${a.name} ${a.regex} ${a.replace}`;
    case 'set-method':
    case 'set-path':
    case 'set-query':
    case 'set-uri':
      return `${a.action} ${a.value}`;
    case 'replace-path':
      return `replace-path ${a.regex} ${a.replace}`;
    case 'set-var':
      return `set-var(${a.name}) ${a.expr}`;
    case 'unset-var':
      return `unset-var(${a.name})`;
    case 'set-src':
      return `set-src ${a.expr}`;
    case 'capture':
      return `capture ${a.expr} len ${a.len}`;
    case 'tarpit':
      return `tarpit deny_status ${a.status}`;
    case 'auth':
      return `auth${a.realm !== undefined ? ` realm ${a.realm}` : ''}`;
    case 'set-status':
      return `set-status ${a.status}${a.reason !== undefined ? ` reason ${a.reason}` : ''}`;
    case 'track-sc':
      return `track-sc${a.counter} ${a.fetch}${a.args.length ? `(${a.args.join(',')})` : ''}${a.table ? ` table ${a.table}` : ''}`;
    case 'sc-inc-gpc0':
      return `sc-inc-gpc0(${a.counter})`;
    case 'cache-use':
    case 'cache-store':
      return `${a.action} ${a.cache}`;
    case 'sc-set-gpt0':
      return `sc-set-gpt0(${a.counter}) ${a.value}`;
    case 'normalize-uri':
      return `normalize-uri ${a.mode}${a.full ? ' full' : ''}${a.strict ? ' strict' : ''}`;
    case 'wait-for-body':
      return `wait-for-body time ${a.time}${a.atLeast ? ` at-least ${a.atLeast}` : ''}`;
  }
}
