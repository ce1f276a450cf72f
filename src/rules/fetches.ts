/**
 * The fetch keyword table. Each row says where the fetch is valid and which match
 * method a suffixed form implies (`path_beg` = `path` + `-m beg`), so the config
 * check can refuse a misplaced fetch and the compiler needs no central switch.
 */
import type { MatchMethod } from '../config/model';
import type { SampleContext, Stage } from './context';

export type Sample = string | number | boolean | string[] | undefined;

export interface FetchDefinition {
  name: string;
  stages: Stage[];
  /** Default match method when no `-m` is given. */
  method: MatchMethod;
  /** Minimum/maximum number of arguments. */
  minArgs: number;
  maxArgs: number;
  fetch(ctx: SampleContext, args: string[]): Sample;
}

const HTTP: Stage[] = ['request', 'response'];
const ANY: Stage[] = ['connection', 'request', 'response'];

const base: FetchDefinition[] = [
  { name: 'src', stages: ANY, method: 'ip', minArgs: 0, maxArgs: 0, fetch: (c) => c.src },
  { name: 'src_port', stages: ANY, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.srcPort },
  { name: 'dst', stages: ANY, method: 'ip', minArgs: 0, maxArgs: 0, fetch: (c) => c.dst },
  { name: 'dst_port', stages: ANY, method: 'int', minArgs: 0, maxArgs: 0, fetch: (c) => c.dstPort },
  { name: 'ssl_fc', stages: ANY, method: 'bool', minArgs: 0, maxArgs: 0, fetch: (c) => c.ssl },
  { name: 'ssl_fc_sni', stages: ANY, method: 'str', minArgs: 0, maxArgs: 0, fetch: (c) => c.sni },
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
table.set('req_ssl_sni', { ...table.get('ssl_fc_sni')!, name: 'req_ssl_sni' });

export const fetches: ReadonlyMap<string, FetchDefinition> = table;
