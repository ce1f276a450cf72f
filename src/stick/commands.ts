/**
 * The runtime API's stick-table commands, answered from the primary's tables
 * (./primary.ts) in HAProxy's words (stick_table.c): `show table [<t> [data.<type>
 * <op> <v>]… | [key <k>]]`, `clear table <t> [data.<type> <op> <v>]… | [key <k>]`,
 * `set table <t> key <k> [data.<type> <v>]…`. An entry line is
 * `0x<id>: key=<k> use=<n> exp=<ms> shard=0 [server_id=<id>] <data>=<v>… [server_key=<name>]`,
 * the id a stable hash of table and key (HAProxy prints the entry's address).
 * Changes reach every worker at once.
 */
import type { Model } from '../config/model';
import { DATA_INDEX, DATA_TYPES, USE } from './layout';
import type { PrimaryStickTables } from './primary';
import { tableKey, type StickEntry, type StickStore } from './store';

/** HAProxy's STKTABLE_FILTER_LEN. */
const MAX_FILTERS = 4;
const OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  le: (a, b) => a <= b,
  ge: (a, b) => a >= b,
  lt: (a, b) => a < b,
  gt: (a, b) => a > b,
};

interface Filter {
  type: number;
  op: (a: number, b: number) => boolean;
  value: number;
}

/** What the commands work on. */
export interface TableCommandContext {
  tables: PrimaryStickTables;
  model: Model;
}

/** The entries a command names: one key, data filters, or all; or HAProxy's error text. */
type Selection = { key: string } | { filters: Filter[] } | string;

function select(store: StickStore, args: string[], usage: string): Selection {
  if (args.length === 0) return { filters: [] };
  if (args[0] === 'key') {
    if (args[1] === undefined) return 'Key value expected\n';
    const key = tableKey(store.def, args[1]);
    return key === undefined ? 'Invalid key\n' : { key };
  }
  if (!args[0].startsWith('data.')) return usage;
  const filters: Filter[] = [];
  let i = 0;
  for (; i < args.length && filters.length < MAX_FILTERS; i += 3) {
    const n = filters.length + 1;
    if (!args[i].startsWith('data.')) break;
    const type = DATA_INDEX.get(args[i].slice(5));
    if (type === undefined) return `Filter entry #${n}: Unknown data type\n`;
    if (store.layout.slot[type] < 0) return `Filter entry #${n}: Data type not stored in this table\n`;
    const op = OPERATORS[args[i + 1] ?? ''];
    if (!op) return `Filter entry #${n}: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"\n`;
    if (args[i + 2] === undefined || !/^-?\d+$/.test(args[i + 2])) return `Filter entry #${n}: Require a valid integer value to compare against\n`;
    filters.push({ type, op, value: Number(args[i + 2]) });
  }
  if (i < args.length) return `Detected extra data in filter, ${i + 1}th word of input, after '${args[i - 1]}'\n`;
  return { filters };
}

function matches(store: StickStore, e: StickEntry, filters: Filter[], now: number): boolean {
  for (const f of filters) if (!f.op(store.read(e, f.type, now), f.value)) return false;
  return true;
}

const SHOW_USAGE = 'Optional argument only supports "data.<store_data_type>" <operator> <value> or key <key>\n';
const CLEAR_USAGE = 'Required arguments: <table> "data.<store_data_type>" <operator> <value> or <table> key <key>\n';
const SET_USAGE = 'Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n';

/** HAProxy's table line; a table with fleet-wide counters (./redis.ts) adds its store's state and fallbacks to local counting. */
function head(c: TableCommandContext, store: StickStore): string {
  const d = store.def;
  const fleet = c.tables.fleet?.status(store);
  const extra = fleet ? `, redis:${fleet.state}, redis_fallbacks:${fleet.fallbacks}` : '';
  return `# table: ${d.name}, type: ${d.type}, size:${d.size}, used:${store.size}${extra}\n`;
}

export function showTable(c: TableCommandContext, args: string[]): string {
  const [name, ...rest] = args;
  if (name === undefined) return c.tables.list().map((s) => head(c, s)).join('');
  const store = c.tables.named(name);
  if (!store) return 'No such table\n';
  const sel = select(store, rest, SHOW_USAGE);
  if (typeof sel === 'string') return sel;
  const now = Date.now();
  const servers = new Map(c.model.backends.find((b) => b.name === name && b.stick)?.servers.map((s) => [s.name, s.id]));
  const line = (e: StickEntry) => entryLine(store, e, now, servers.size ? servers : undefined);
  if ('key' in sel) {
    const e = store.get(sel.key, now);
    return e ? head(c, store) + line(e) : '';
  }
  let out = head(c, store);
  for (const e of store.entries()) {
    if (e.expires !== 0 && e.expires <= now) continue;
    if (matches(store, e, sel.filters, now)) out += line(e);
  }
  return out;
}

/** HAProxy's entry line; `servers` (name → id) when the table is a `stick on` table. */
function entryLine(store: StickStore, e: StickEntry, now: number, servers: Map<string, number> | undefined): string {
  let out = `0x${entryId(store.def.name, e.key)}: key=${e.key} use=${e.values[USE]} exp=${e.expires ? Math.max(0, e.expires - now) : 0} shard=0`;
  if (servers) out += ` server_id=${servers.get(e.server) ?? 0}`;
  for (const type of store.layout.stored) {
    const d = DATA_TYPES[type];
    out += d.kind === 'rate' ? ` ${d.name}(${store.layout.period[type]})=` : ` ${d.name}=`;
    out += store.read(e, type, now);
  }
  if (servers) out += ` server_key=${e.server || '-'}`;
  return out + '\n';
}

export function clearTable(c: TableCommandContext, args: string[]): string {
  const [name, ...rest] = args;
  if (name === undefined) return CLEAR_USAGE;
  const store = c.tables.named(name);
  if (!store) return 'No such table\n';
  const sel = select(store, rest, CLEAR_USAGE);
  if (typeof sel === 'string') return sel;
  const now = Date.now();
  if ('key' in sel) {
    const e = store.get(sel.key, now);
    if (!e) return '';
    if (store.inUse(e)) return 'Entry currently in use, cannot remove\n';
    store.remove(e.key);
    c.tables.removed(store, [e.key]);
    return '';
  }
  const gone: string[] = [];
  for (const e of store.entries()) if (!store.inUse(e) && matches(store, e, sel.filters, now)) gone.push(e.key);
  for (const k of gone) store.remove(k);
  c.tables.removed(store, gone);
  return '';
}

export function setTable(c: TableCommandContext, args: string[]): string {
  const [name, kw, keyText, ...data] = args;
  if (name === undefined) return SET_USAGE;
  const store = c.tables.named(name);
  if (!store) return 'No such table\n';
  if (kw !== 'key') return SET_USAGE;
  if (keyText === undefined) return 'Key value expected\n';
  const key = tableKey(store.def, keyText);
  if (key === undefined) return 'Invalid key\n';
  const sets: [number, number][] = [];
  for (let i = 0; i < data.length; i += 2) {
    if (!data[i].startsWith('data.') || data[i + 1] === undefined) return '"data.<type>" followed by a value expected\n';
    const type = DATA_INDEX.get(data[i].slice(5));
    if (type === undefined) return 'Unknown data type\n';
    if (store.layout.slot[type] < 0) return 'Data type not stored in this table\n';
    if (!/^-?\d+$/.test(data[i + 1])) return 'Require a valid integer value to store\n';
    sets.push([type, Number(data[i + 1])]);
  }
  const now = Date.now();
  const e = store.obtain(key, now, true)!;
  for (const [type, value] of sets) store.set(e, type, value, now);
  store.touch(e, now);
  c.tables.set(store, [e]);
  return '';
}

/** A stable pseudo-address for an entry (HAProxy prints the entry's pointer): 48 bits of two FNV-1a hashes of table and key. */
export function entryId(table: string, key: string): string {
  const text = `${table}\0${key}`;
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + (b & 0xffff).toString(16).padStart(4, '0');
}
