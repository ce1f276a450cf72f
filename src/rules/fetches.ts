/**
 * The fetch keyword table. Each row says where the fetch is valid and which match
 * method a suffixed form implies (`path_beg` = `path` + `-m beg`), so the config
 * check can refuse a misplaced fetch and the compiler needs no central switch.
 */
import type { Condition, Frontend, MatchMethod, StickRule, TcpAction } from '../config/model';
import type { SampleContext, Stage } from './context';
import { proxyStates } from './proxy-state';
import { stickFetches } from '../stick/fetches';

export type Sample = string | number | boolean | string[] | undefined;

export interface FetchDefinition {
  name: string;
  stages: Stage[];
  /** Default match method when no `-m` is given. */
  method: MatchMethod;
  /** Minimum/maximum number of arguments. */
  minArgs: number;
  maxArgs: number;
  /** Why the arguments are wrong beyond their number (an occurrence must be a non-zero integer…). */
  checkArgs?(args: string[]): string | undefined;
  /**
   * The first argument names a backend or frontend, checked by the config loader; a
   * backend left out is the backend whose rule it is (an error elsewhere), a frontend
   * left out the frontend of the request.
   */
  names?: 'backend' | 'frontend' | 'userlist';
  /**
   * Reads the client's first bytes (the TLS ClientHello of a connection we do not
   * terminate): a tcp frontend using it waits for them, up to its inspect delay.
   */
  needsPayload?: boolean;
  fetch(ctx: SampleContext, args: string[]): Sample;
}

const HTTP: Stage[] = ['request', 'response'];
const RESPONSE: Stage[] = ['response'];
/** Request body fetches: http-request rules and routing (HAProxy's SMP_USE_HRQHV), and logs. */
const REQUEST: Stage[] = ['request'];
const ANY: Stage[] = ['connection', 'request', 'response'];
/** Payload fetches: HAProxy's `tcp-request content` stage, before a backend is chosen. */
const PAYLOAD: Stage[] = ['connection'];

/** `hdr(name,occ)`: occurrence 1 is the first value, -1 the last; without it, every value. */
function occurrence(values: string[], occ: string | undefined): Sample {
  if (occ === undefined) return values;
  const n = Number(occ);
  return n > 0 ? values[n - 1] : values[values.length + n];
}

function checkOccurrence(args: string[]): string | undefined {
  return args[1] === undefined || /^-?[1-9]\d*$/.test(args[1]) ? undefined : `occurrence "${args[1]}" must be a non-zero integer`;
}

/** The values of every Cookie header named `name` (every cookie without a name), as HAProxy's req.cook iterates them. */
function cookies(c: SampleContext, name: string | undefined): string[] {
  const out: string[] = [];
  for (const line of c.headerValues('cookie')) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq >= 0 && (name === undefined || part.slice(0, eq).trim() === name)) out.push(part.slice(eq + 1).trim());
    }
  }
  return out;
}

/**
 * The values of parameter `name` (any parameter without a name) of a query string or
 * url-encoded form, as written (not decoded); `delim` separates them. `anyCase`: the
 * name matches whatever its case (req.body_param's `i`).
 */
function params(q: string, name: string | undefined, delim: string, anyCase = false): string[] {
  const out: string[] = [];
  if (q === '') return out;
  const wanted = anyCase ? name?.toLowerCase() : name;
  for (const part of q.split(delim)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (wanted === undefined || (anyCase ? part.slice(0, eq).toLowerCase() : part.slice(0, eq)) === wanted) out.push(part.slice(eq + 1));
  }
  return out;
}

/** The Content-Length of the request, else the buffered body's length once it is all in (a chunked body). */
function bodySize(c: SampleContext): number | undefined {
  const v = c.header('content-length');
  if (v !== undefined && c.header('transfer-encoding') === undefined) return Number(v);
  return c.body?.complete ? c.body.length : undefined;
}

/** Headers of the message the rule sees: the response in response rules, as HAProxy's hdr() (logs: the request). */
function headersOf(c: SampleContext, name: string): string[] {
  return c.stage === 'response' && !c.logging ? c.responseHeaderValues(name) : c.headerValues(name);
}

const base: FetchDefinition[] = [
  { name: 'src', stages: ANY, method: 'ip', minArgs: 0, maxArgs: 0, fetch: (c) => c.src },
  { name: 'src_port', stages: ANY, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.srcPort },
  { name: 'dst', stages: ANY, method: 'ip', minArgs: 0, maxArgs: 0, fetch: (c) => c.dst },
  { name: 'dst_port', stages: ANY, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.dstPort },
  { name: 'ssl_fc', stages: ANY, method: 'bool', minArgs: 0, maxArgs: 0, fetch: (c) => c.ssl },
  { name: 'ssl_fc_sni', stages: ANY, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.sni },
  // The client certificate of a bind with `verify optional|required`.
  { name: 'ssl_c_used', stages: ANY, method: 'bool', minArgs: 0, maxArgs: 0, fetch: (c) => c.clientCert !== undefined },
  // X509_V_OK on TLS: a certificate that fails verification closes the connection (no ca-ignore-err/crt-ignore-err).
  { name: 'ssl_c_verify', stages: ANY, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => (c.ssl ? 0 : undefined) },
  { name: 'ssl_c_s_dn', stages: ANY, method: 'str', minArgs: 0, maxArgs: 2, fetch: (c, a) => distinguishedName(c.clientCert?.subject, a) },
  { name: 'ssl_c_i_dn', stages: ANY, method: 'str', minArgs: 0, maxArgs: 2, fetch: (c, a) => distinguishedName(c.clientCert?.issuer, a) },
  { name: 'ssl_c_sha1', stages: ANY, method: 'bin', minArgs: 0, maxArgs: 0, fetch: (c) => c.clientCert?.sha1 },
  { name: 'ssl_c_serial', stages: ANY, method: 'bin', minArgs: 0, maxArgs: 0, fetch: (c) => c.clientCert?.serial },
  // The ClientHello of TLS passed through (ssl_fc_sni is the SNI of TLS we terminate).
  { name: 'req_ssl_sni', stages: PAYLOAD, method: 'str', minArgs: 0, maxArgs: 0, needsPayload: true, fetch: (c) => c.clientHelloSni },
  { name: 'req_ssl_hello_type', stages: PAYLOAD, method: 'int', minArgs: 0, maxArgs: 0, needsPayload: true, fetch: (c) => c.clientHelloType },
  { name: 'http_auth', stages: ['request'], method: 'bool', minArgs: 1, maxArgs: 1, names: 'userlist', fetch: (c, a) => c.httpAuth?.(a[0]) ?? false },
  { name: 'var', stages: ANY, method: 'str', minArgs: 1, maxArgs: 1, fetch: (c, a) => c.variable?.(a[0]) },
  { name: 'fe_name', stages: ANY, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.frontend },
  { name: 'nbsrv', stages: ANY, method: 'int', minArgs: 0, maxArgs: 1, names: 'backend', fetch: (_, a) => proxyStates().usableServers(a[0]) },
  { name: 'be_conn', stages: ANY, method: 'int', minArgs: 0, maxArgs: 1, names: 'backend', fetch: (_, a) => proxyStates().backendConnections(a[0]) },
  {
    name: 'fe_conn',
    stages: ANY,
    method: 'int',
    minArgs: 0,
    maxArgs: 1,
    names: 'frontend',
    fetch: (c, a) => proxyStates().frontendConnections(a.length ? a[0] : c.frontend),
  },
  { name: 'method', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.method() },
  { name: 'path', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.path() },
  {
    name: 'pathq',
    stages: HTTP,
    method: 'str',
    minArgs: 0,
    maxArgs: 0,
    fetch: (c) => {
      const q = c.query();
      return q === '' ? c.path() : `${c.path()}?${q}`;
    },
  },
  { name: 'url', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.url() },
  { name: 'query', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.query() },
  {
    name: 'url_param',
    stages: HTTP,
    method: 'str',
    minArgs: 0,
    maxArgs: 2,
    checkArgs: (a) => (a[1] !== undefined && a[1].length !== 1 ? `delimiter "${a[1]}" must be one character` : undefined),
    fetch: (c, a) => params(c.query(), a[0], a[1] ?? '&'),
  },
  // The first Host header and the path (HAProxy's `base`): the path alone without a Host.
  {
    name: 'base',
    stages: HTTP,
    method: 'str',
    minArgs: 0,
    maxArgs: 0,
    fetch: (c) => {
      const host = c.headerValues('host')[0];
      return host === undefined ? c.path() : host + c.path();
    },
  },
  { name: 'req.ver', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.version() },
  { name: 'hdr', stages: HTTP, method: 'str', minArgs: 1, maxArgs: 2, checkArgs: checkOccurrence, fetch: (c, a) => occurrence(headersOf(c, a[0]), a[1]) },
  { name: 'req.hdr', stages: HTTP, method: 'str', minArgs: 1, maxArgs: 2, checkArgs: checkOccurrence, fetch: (c, a) => occurrence(c.headerValues(a[0]), a[1]) },
  { name: 'res.hdr', stages: RESPONSE, method: 'str', minArgs: 1, maxArgs: 2, checkArgs: checkOccurrence, fetch: (c, a) => occurrence(c.responseHeaderValues(a[0]), a[1]) },
  { name: 'cook', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 1, fetch: (c, a) => cookies(c, a[0]) },
  // The request body as buffered for the rules (src/http/request-body.ts): no sample where the request buffers none.
  { name: 'req.body', stages: REQUEST, method: 'bin', minArgs: 0, maxArgs: 0, fetch: (c) => c.body?.text() },
  { name: 'req.body_len', stages: REQUEST, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.body?.length },
  { name: 'req.body_size', stages: REQUEST, method: 'int', minArgs: 0, maxArgs: 0, fetch: bodySize },
  {
    name: 'req.body_param',
    stages: REQUEST,
    method: 'str',
    minArgs: 0,
    maxArgs: 2,
    checkArgs: (a) => (a[1] !== undefined && a[1] !== 'i' ? `"${a[1]}": the second argument can only be i (case-insensitive name)` : undefined),
    // With a name, its first occurrence (HAProxy); without, every parameter's value (an ACL matches any).
    fetch: (c, a) => {
      if (c.body === undefined) return undefined;
      const values = params(c.body.text(), a[0], '&', a[1] === 'i');
      return a[0] === undefined ? values : values[0];
    },
  },
  { name: 'status', stages: RESPONSE, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.status() },
];

/**
 * HAProxy's `ssl_c_s_dn([<entry>[,<occ>]])`: the whole DN as `/C=FR/O=Example/CN=name`,
 * or the value of one entry, the first (or the occ-th, counted from the end when
 * negative) of that type. HAProxy's third argument (rfc2253 format) is not supported.
 */
function distinguishedName(dn: string | undefined, args: string[]): string | undefined {
  if (dn === undefined) return undefined;
  const rdns = dn.split('\n').filter(Boolean);
  if (!args[0]) return rdns.map((r) => '/' + r).join('');
  const prefix = args[0].toUpperCase() + '=';
  const values = rdns.filter((r) => r.toUpperCase().startsWith(prefix)).map((r) => r.slice(prefix.length));
  const occ = args[1] === undefined ? 1 : Number(args[1]);
  return occ < 0 ? values[values.length + occ] : values[occ - 1];
}

/** Suffixed forms (`path_beg`, `hdr_dom`…) imply a match method on their base fetch. */
const MATCH_SUFFIXES: [string, MatchMethod][] = [
  ['_beg', 'beg'],
  ['_end', 'end'],
  ['_sub', 'sub'],
  ['_dir', 'dir'],
  ['_dom', 'dom'],
  ['_reg', 'reg'],
  ['_len', 'len'],
];

/** `_cnt`: how many values; `_val`: each value's leading integer (HAProxy's strl2ic); `_ip`: matched as addresses. */
type Derived = '_cnt' | '_val' | '_ip';

function values(s: Sample): string[] {
  return s === undefined ? [] : Array.isArray(s) ? s : [String(s)];
}

function derived(d: FetchDefinition, suffix: Derived): FetchDefinition {
  const name = d.name + suffix;
  switch (suffix) {
    case '_cnt':
      return { ...d, name, method: 'int', fetch: (c, a) => values(d.fetch(c, a)).length };
    case '_val':
      return { ...d, name, method: 'int', fetch: (c, a) => values(d.fetch(c, a)).map((v) => String(parseInt(v, 10))) };
    case '_ip':
      return { ...d, name, method: 'ip' };
  }
}

const table = new Map<string, FetchDefinition>();
for (const d of base) table.set(d.name, d);
// Aliases HAProxy users write.
const ALIASES: [string, string][] = [
  ['req.ssl_sni', 'req_ssl_sni'],
  ['req.ssl_hello_type', 'req_ssl_hello_type'],
  ['shdr', 'res.hdr'],
  ['req.cook', 'cook'],
  ['urlp', 'url_param'],
];
for (const [alias, name] of ALIASES) table.set(alias, { ...table.get(name)!, name: alias });

const DERIVED: [string, boolean, Derived[]][] = [
  ['path', true, []],
  ['url', true, []],
  ['query', true, []],
  ['base', true, []],
  ['hdr', true, ['_cnt', '_val', '_ip']],
  ['req.hdr', false, ['_cnt', '_val', '_ip']],
  ['shdr', true, ['_cnt', '_val', '_ip']],
  ['res.hdr', false, ['_cnt', '_val', '_ip']],
  ['cook', true, ['_cnt', '_val']],
  ['req.cook', false, ['_cnt', '_val']],
  ['urlp', true, ['_val']],
];
for (const [name, withMatches, more] of DERIVED) {
  const d = table.get(name)!;
  if (withMatches) for (const [suffix, method] of MATCH_SUFFIXES) table.set(name + suffix, { ...d, name: name + suffix, method });
  for (const suffix of more) table.set(name + suffix, derived(d, suffix));
}
// Stick counters (sc_*, src_*, table_cnt): src/stick/fetches.ts.
for (const d of stickFetches) table.set(d.name, d);

export const fetches: ReadonlyMap<string, FetchDefinition> = table;

/** The fetch a sample expression (`req.payload(0,1),hex`) starts with. */
export function leadingFetch(expr: string): string {
  return expr.split(/[(,]/, 1)[0].trim();
}

/** Whether evaluating `cond` reads the client's first bytes (a payload fetch). */
export function readsPayload(cond: Condition): boolean {
  switch (cond.kind) {
    case 'true':
    case 'false':
      return false;
    case 'not':
      return readsPayload(cond.expr);
    case 'and':
    case 'or':
      return cond.terms.some(readsPayload);
    case 'match':
      return table.get(cond.fetch)?.needsPayload === true;
  }
}

/**
 * A tcp frontend reads the client's first bytes before choosing a backend when a
 * use_backend rule (its condition or its dynamic name), a tcp-request content rule, or
 * the `stick on` of a backend it routes to, uses a payload fetch.
 */
export function frontendReadsPayload(fe: Pick<Frontend, 'mode' | 'useBackend' | 'defaultBackend' | 'tcpRequest'>, stickOf: (backend: string) => StickRule | undefined): boolean {
  if (fe.mode !== 'tcp') return false;
  const namesFromPayload = (r: Frontend['useBackend'][number]) => r.backendName?.some((p) => typeof p !== 'string' && table.get(p.fetch)?.needsPayload === true);
  if (fe.useBackend.some((r) => readsPayload(r.condition) || namesFromPayload(r))) return true;
  const actionFetch = (a: TcpAction) => (a.action === 'track-sc' ? a.fetch : a.action === 'sc-set-gpt0' ? leadingFetch(a.value) : '');
  if (fe.tcpRequest?.some((r) => (r.condition && readsPayload(r.condition)) || table.get(actionFetch(r.act))?.needsPayload)) return true;
  const targets = fe.useBackend.map((r) => r.backend);
  if (fe.defaultBackend) targets.push(fe.defaultBackend);
  return targets.some((name) => {
    const stick = stickOf(name);
    return stick !== undefined && table.get(stick.fetch)?.needsPayload === true;
  });
}
