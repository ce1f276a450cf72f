/**
 * The fetch keyword table. Each row says where the fetch is valid and which match
 * method a suffixed form implies (`path_beg` = `path` + `-m beg`), so the config
 * check can refuse a misplaced fetch and the compiler needs no central switch.
 */
import type { Condition, Frontend, MatchMethod, StickRule } from '../config/model';
import type { SampleContext, Stage } from './context';
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
  /**
   * Reads the client's first bytes (the TLS ClientHello of a connection we do not
   * terminate): a tcp frontend using it waits for them, up to its inspect delay.
   */
  needsPayload?: boolean;
  fetch(ctx: SampleContext, args: string[]): Sample;
}

const HTTP: Stage[] = ['request', 'response'];
const ANY: Stage[] = ['connection', 'request', 'response'];
/** Payload fetches: HAProxy's `tcp-request content` stage, before a backend is chosen. */
const PAYLOAD: Stage[] = ['connection'];

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
  { name: 'http_auth', stages: ['request'], method: 'bool', minArgs: 1, maxArgs: 1, fetch: (c, a) => c.httpAuth?.(a[0]) ?? false },
  { name: 'var', stages: ANY, method: 'str', minArgs: 1, maxArgs: 1, fetch: (c, a) => c.variable?.(a[0]) },
  { name: 'fe_name', stages: ANY, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.frontend },
  { name: 'method', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.method() },
  { name: 'path', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.path() },
  { name: 'url', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.url() },
  { name: 'query', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.query() },
  { name: 'req.ver', stages: HTTP, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.version() },
  {
    name: 'hdr',
    stages: HTTP,
    method: 'str',
    minArgs: 1,
    maxArgs: 2,
    fetch: (c, a) => c.headerValues(a[0]),
  },
  { name: 'status', stages: ['response'], method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.status() },
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
const SUFFIXES: [string, MatchMethod][] = [
  ['_beg', 'beg'],
  ['_end', 'end'],
  ['_sub', 'sub'],
  ['_dir', 'dir'],
  ['_dom', 'dom'],
  ['_reg', 'reg'],
  ['_len', 'len'],
  ['_cnt', 'int'],
];

const table = new Map<string, FetchDefinition>();
for (const d of base) table.set(d.name, d);
for (const name of ['path', 'url', 'hdr', 'query']) {
  const d = table.get(name)!;
  for (const [suffix, method] of SUFFIXES) {
    if (suffix === '_cnt' && name !== 'hdr') continue;
    const fetch: FetchDefinition['fetch'] =
      suffix === '_cnt' ? (c, a) => c.headerValues(a[0]).length : d.fetch;
    table.set(name + suffix, { ...d, name: name + suffix, method, fetch });
  }
}
// Aliases HAProxy users write.
table.set('req.hdr', { ...table.get('hdr')!, name: 'req.hdr' });
table.set('req.ssl_sni', { ...table.get('req_ssl_sni')!, name: 'req.ssl_sni' });
table.set('req.ssl_hello_type', { ...table.get('req_ssl_hello_type')!, name: 'req.ssl_hello_type' });
// Stick counters (sc_*, src_*, table_cnt): src/stick/fetches.ts.
for (const d of stickFetches) table.set(d.name, d);

export const fetches: ReadonlyMap<string, FetchDefinition> = table;

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
 * use_backend rule, a tcp-request content rule, or the `stick on` of a backend it
 * routes to, uses a payload fetch.
 */
export function frontendReadsPayload(fe: Pick<Frontend, 'mode' | 'useBackend' | 'defaultBackend' | 'tcpRequest'>, stickOf: (backend: string) => StickRule | undefined): boolean {
  if (fe.mode !== 'tcp') return false;
  if (fe.useBackend.some((r) => readsPayload(r.condition))) return true;
  if (fe.tcpRequest?.some((r) => (r.condition && readsPayload(r.condition)) || (r.act.action === 'track-sc' && table.get(r.act.fetch)?.needsPayload))) return true;
  const targets = fe.useBackend.map((r) => r.backend);
  if (fe.defaultBackend) targets.push(fe.defaultBackend);
  return targets.some((name) => {
    const stick = stickOf(name);
    return stick !== undefined && table.get(stick.fetch)?.needsPayload === true;
  });
}
