/**
 * The stick-counter fetches, registered in the fetch table (src/rules/fetches.ts) and
 * valid in every ACL, as HAProxy's (stick_table.c):
 * - `sc_<data>(N[,T])` and `sc0_<data>([T])` … `sc2_<data>([T])` read the entry the
 *   connection tracks with counter N (no sample when it tracks none; with T, the same
 *   key in table T);
 * - `src_<data>([T])` reads the entry of the client address in T, by default the
 *   frontend's own table (0 when the address has no entry);
 * - `table_cnt([T])`: the entries in the table.
 * A data type the table does not store gives no sample (the ACL does not match).
 */
import type { SampleContext } from '../rules/context';
import type { FetchDefinition, Sample } from '../rules/fetches';
import {
  BYTES_IN_CNT,
  BYTES_OUT_CNT,
  CONN_CNT,
  CONN_CUR,
  CONN_RATE,
  GPC0,
  GPC0_RATE,
  GPT0,
  HTTP_ERR_CNT,
  HTTP_ERR_RATE,
  HTTP_REQ_CNT,
  HTTP_REQ_RATE,
  SESS_CNT,
  SESS_RATE,
  BYTES_IN_RATE,
  BYTES_OUT_RATE,
} from './layout';
import type { StickEntry } from './store';
import { incrementGpc0, stickTable, type WorkerTable } from './worker';

/** How a fetch reads an entry: `e` undefined when the key has none. */
interface DataFetch {
  suffix: string;
  read(t: WorkerTable, e: StickEntry | undefined): Sample;
  /** src_ form: make the entry when missing (src_inc_gpc0). */
  creates?: boolean;
}

function stored(suffix: string, type: number, shift = 0): DataFetch {
  return { suffix, read: (t, e) => (t.stores(type) ? Math.floor(t.read(e, type) / 2 ** shift) : undefined) };
}

const DATA: DataFetch[] = [
  stored('conn_cur', CONN_CUR),
  stored('conn_cnt', CONN_CNT),
  stored('conn_rate', CONN_RATE),
  stored('sess_cnt', SESS_CNT),
  stored('sess_rate', SESS_RATE),
  stored('http_req_cnt', HTTP_REQ_CNT),
  stored('http_req_rate', HTTP_REQ_RATE),
  stored('http_err_cnt', HTTP_ERR_CNT),
  stored('http_err_rate', HTTP_ERR_RATE),
  stored('bytes_in_rate', BYTES_IN_RATE),
  stored('bytes_out_rate', BYTES_OUT_RATE),
  stored('kbytes_in', BYTES_IN_CNT, 10),
  stored('kbytes_out', BYTES_OUT_CNT, 10),
  stored('get_gpc0', GPC0),
  stored('gpc0_rate', GPC0_RATE),
  stored('get_gpt0', GPT0),
  { suffix: 'inc_gpc0', read: (t, e) => (e ? incrementGpc0(t, e) : 0), creates: true },
  {
    suffix: 'clr_gpc0',
    read: (t, e) => {
      if (!t.stores(GPC0)) return undefined;
      if (!e) return 0;
      const before = t.read(e, GPC0);
      t.count(e, GPC0, -before);
      return before;
    },
  },
];

// The entry a fetch resolved (module-level, so a fetch allocates nothing).
let foundTable: WorkerTable | undefined;
let foundEntry: StickEntry | undefined;

/** Counter `n` of the connection, or the same key in table `other`; false when not tracked. */
function tracked(ctx: SampleContext, n: number, other: string | undefined): boolean {
  const tr = ctx.trackers;
  const t = tr?.tables[n];
  if (!t) return false;
  const e = tr!.entries[n]!;
  if (other === undefined) {
    foundTable = t;
    foundEntry = e;
    return true;
  }
  const o = stickTable(other);
  if (!o || o.def.type !== t.def.type || o.def.keyLen !== t.def.keyLen) return false;
  foundTable = o;
  foundEntry = o.lookup(e.key);
  return true;
}

/** The client address's entry in `name` (default: the frontend's table); false when there is no such table or key. */
function bySource(ctx: SampleContext, name: string | undefined, create: boolean): boolean {
  const t = stickTable(name ?? ctx.frontend);
  const key = t?.key(ctx.src);
  if (key === undefined) return false;
  foundTable = t;
  foundEntry = create ? t!.obtain(key) : t!.lookup(key);
  return true;
}

function int(name: string, minArgs: number, maxArgs: number, fetch: FetchDefinition['fetch']): FetchDefinition {
  return { name, stages: ['connection', 'request', 'response'], method: 'int', minArgs, maxArgs, fetch };
}

/** Where a stick fetch takes its table from, for the config check. */
export type TableRef = { form: 'sc'; counter: string; table: string | undefined } | { form: 'src' | 'table'; table: string | undefined };
const refs = new Map<string, (args: string[]) => TableRef>();

function build(): FetchDefinition[] {
  const out: FetchDefinition[] = [];
  for (const d of DATA) {
    out.push(int(`sc_${d.suffix}`, 1, 2, (c, a) => (tracked(c, Number(a[0]), a[1]) ? d.read(foundTable!, foundEntry) : undefined)));
    refs.set(`sc_${d.suffix}`, (a) => ({ form: 'sc', counter: a[0], table: a[1] }));
    for (let n = 0; n < 3; n++) {
      out.push(int(`sc${n}_${d.suffix}`, 0, 1, (c, a) => (tracked(c, n, a[0]) ? d.read(foundTable!, foundEntry) : undefined)));
      refs.set(`sc${n}_${d.suffix}`, (a) => ({ form: 'sc', counter: String(n), table: a[0] }));
    }
    const creates = d.creates === true;
    out.push(int(`src_${d.suffix}`, 0, 1, (c, a) => (bySource(c, a[0], creates) ? d.read(foundTable!, foundEntry) : undefined)));
    refs.set(`src_${d.suffix}`, (a) => ({ form: 'src', table: a[0] }));
  }
  const trackedBool = (n: number, c: SampleContext) => c.trackers?.tables[n] !== undefined;
  out.push({ ...int('sc_tracked', 1, 2, (c, a) => trackedBool(Number(a[0]), c)), method: 'bool' });
  refs.set('sc_tracked', (a) => ({ form: 'sc', counter: a[0], table: a[1] }));
  for (let n = 0; n < 3; n++) {
    out.push({ ...int(`sc${n}_tracked`, 0, 1, (c) => trackedBool(n, c)), method: 'bool' });
    refs.set(`sc${n}_tracked`, (a) => ({ form: 'sc', counter: String(n), table: a[0] }));
  }
  out.push(int('table_cnt', 0, 1, (c, a) => stickTable(a[0] ?? c.frontend)?.size));
  refs.set('table_cnt', (a) => ({ form: 'table', table: a[0] }));
  return out;
}

export const stickFetches: readonly FetchDefinition[] = build();

/** The table a stick fetch reads (for the config check), or undefined for other fetches. */
export function stickFetchTable(fetch: string, args: string[]): TableRef | undefined {
  return refs.get(fetch)?.(args);
}
