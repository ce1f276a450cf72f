/**
 * The HAProxy lines of protection, as written in YAML strings or options lists:
 * `stick-table …`, `tcp-request connection|session|content …` and
 * `rate-limit sessions N`. Each parser returns plain values or one message; the
 * builder (./protection.ts) attaches positions and checks what refers to what.
 */
import type { StickTableDef, StoredData, TcpAction, TcpRequestRule } from './model';
import { parseSize, parseTime, splitWords, type Parsed } from './haproxy-syntax';
import { MAX_SIZE, MAX_STICK_KEY } from './limits';
import { DATA_INDEX, DATA_TYPES } from '../stick/layout';
import { didYouMean } from './suggest';
import type { Stage } from '../rules/context';
import { parseSampleExpr } from '../rules/sample-expr';

const TABLE_TYPES = ['ip', 'ipv6', 'integer', 'string'] as const;
/** HAProxy's implicit data of a `stick on` table: accepted in `store`, kept in the entry's server. */
const SERVER_DATA = new Set(['server_id', 'server_key', 'server_name']);

/** `stick-table type ip|ipv6|integer|string [len N] size N [expire T] [store <data>,…] [peers <section>]` (the words after `stick-table`). */
export function parseStickTable(text: string): Parsed<Omit<StickTableDef, 'name'>> {
  const words = splitWords(text);
  const t: Omit<StickTableDef, 'name'> = { type: 'ip', keyLen: 32, size: 0, expire: 0, store: [] };
  let lenGiven = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const arg = words[i + 1];
    if (w === 'redis') return { error: 'stick-table: redis is not an HAProxy keyword (HAProxy shares tables with peers only): use the YAML object form, stick_table: { type, size, store, redis: { url } }' };
    if (arg === undefined) return { error: `stick-table: ${w} needs an argument` };
    i++;
    if (w === 'type') {
      if (!(TABLE_TYPES as readonly string[]).includes(arg)) return { error: `stick-table: type must be ${TABLE_TYPES.join(', ')}, not "${arg}"` };
      t.type = arg as StickTableDef['type'];
    } else if (w === 'len') {
      if (!/^\d+$/.test(arg) || Number(arg) === 0 || Number(arg) > MAX_STICK_KEY) return { error: `stick-table: len must be 1..${MAX_STICK_KEY}, not "${arg}"` };
      t.keyLen = Number(arg);
      lenGiven = true;
    } else if (w === 'size') {
      const n = parseSize(arg);
      if (n.error !== undefined || n.value === 0) return { error: `stick-table: size must be 1..${MAX_SIZE} entries (k, m, g allowed), not "${arg}"` };
      t.size = n.value;
    } else if (w === 'expire') {
      const e = parseTime(arg);
      if (e.error !== undefined) return { error: `stick-table expire: ${e.error}` };
      t.expire = e.value;
    } else if (w === 'store') {
      const err = parseStore(arg, t.store);
      if (err) return { error: err };
    } else if (w === 'peers') t.peers = arg;
    else return { error: `stick-table: unsupported keyword "${w}" (type, len, size, expire, store, peers)` };
  }
  if (!t.size) return { error: 'stick-table: needs size <entries>' };
  if (lenGiven && t.type !== 'string') return { error: 'stick-table: len applies to type string only' };
  return { value: t };
}

/** `conn_cur,conn_rate(10s)` added to `store`; an error message or undefined. */
function parseStore(list: string, store: StoredData[]): string | undefined {
  for (const item of list.split(',')) {
    const m = /^([a-z0-9_]+)(?:\(([^)]*)\))?$/.exec(item.trim());
    if (!m) return `stick-table store: bad data type "${item}"`;
    const [, name, arg] = m;
    if (SERVER_DATA.has(name)) continue;
    const index = DATA_INDEX.get(name);
    if (index === undefined) return `stick-table store: unknown or unsupported data type "${name}"${didYouMean(name, DATA_INDEX.keys())}`;
    if (store.some((s) => s.type === name)) return `stick-table store: ${name} is given twice`;
    if (DATA_TYPES[index].kind === 'rate') {
      if (arg === undefined) return `stick-table store: ${name} needs a period, e.g. ${name}(10s)`;
      const p = parseTime(arg);
      if (p.error !== undefined || p.value === 0) return `stick-table store: ${name} period must be a time above 0, not "${arg}"`;
      store.push({ type: name, period: p.value });
    } else {
      if (arg !== undefined) return `stick-table store: ${name} takes no argument`;
      store.push({ type: name });
    }
  }
  return undefined;
}

export type TcpRequestLine =
  | { kind: 'rule'; stage: TcpRequestRule['stage']; act: TcpAction; actionText: string; cond?: { key: 'if' | 'unless'; text: string } }
  | { kind: 'inspect-delay'; ms: number };

const ACTIONS = 'accept, reject, silent-drop, track-sc0|1|2 <fetch> [table <table>], sc-inc-gpc0(<0..2>), sc-set-gpt0(<0..2>) <int|expr>';

/** `tcp-request connection|session|content <action> [if|unless <condition>]` or `tcp-request inspect-delay <time>` (the words after `tcp-request`). */
export function parseTcpRequest(text: string): Parsed<TcpRequestLine> {
  const m = /^\s*(\S+)\s*(.*?)(?:\s+(if|unless)\s+(.+?))?\s*$/.exec(text);
  if (!m || !m[1]) return { error: 'tcp-request: expected connection, session, content or inspect-delay' };
  const [, stage, action, key, cond] = m;
  if (stage === 'inspect-delay') {
    const t = parseTime(action);
    return t.error !== undefined ? { error: `tcp-request inspect-delay: ${t.error}` } : { value: { kind: 'inspect-delay', ms: t.value } };
  }
  if (stage !== 'connection' && stage !== 'session' && stage !== 'content') {
    return { error: `tcp-request: unknown rule set "${stage}" (connection, session, content, inspect-delay)` };
  }
  const act = parseTcpAction(splitWords(action));
  if (act.error !== undefined) return { error: `tcp-request ${stage}: ${act.error}` };
  const line: TcpRequestLine = { kind: 'rule', stage, act: act.value, actionText: action.trim() };
  if (key) line.cond = { key: key as 'if' | 'unless', text: cond };
  return { value: line };
}

/** One action, as its words: `track-sc0 src table t`. */
export function parseTcpAction(words: string[]): Parsed<TcpAction> {
  const [name, ...rest] = words;
  if (name === undefined) return { error: `needs an action (${ACTIONS})` };
  if (name === 'accept' || name === 'reject' || name === 'silent-drop') {
    return rest.length ? { error: `${name} takes no argument, found "${rest.join(' ')}"` } : { value: { action: name } };
  }
  const track = /^track-sc([0-2])$/.exec(name);
  if (track) {
    const [fetchWord, tableWord, table, ...extra] = rest;
    if (fetchWord === undefined) return { error: `${name} needs a sample fetch such as src` };
    const f = /^([a-z0-9_.]+)(?:\((.*)\))?$/.exec(fetchWord);
    if (!f) return { error: `${name}: bad sample fetch "${fetchWord}" (converters are not supported)` };
    if (tableWord !== undefined && (tableWord !== 'table' || table === undefined)) return { error: `${name}: expected "table <name>" after the fetch, not "${rest.slice(1).join(' ')}"` };
    if (extra.length) return { error: `${name}: unexpected "${extra.join(' ')}"` };
    return { value: { action: 'track-sc', counter: Number(track[1]), fetch: f[1], args: f[2] ? f[2].split(',').map((a) => a.trim()) : [], table: table ?? '' } };
  }
  const inc = /^sc-inc-gpc0\(([0-2])\)$/.exec(name);
  if (inc) return rest.length ? { error: `${name} takes no argument` } : { value: { action: 'sc-inc-gpc0', counter: Number(inc[1]) } };
  const gpt = /^sc-set-gpt0(?:\((.*)\))?$/.exec(name);
  if (gpt) {
    if (gpt[1] === undefined || !/^[0-2]$/.test(gpt[1]) || rest.length !== 1) return { error: 'expects sc-set-gpt0(<0..2>) <int|expr>' };
    return { value: { action: 'sc-set-gpt0', counter: Number(gpt[1]), value: rest[0] } };
  }
  return { error: `unsupported action "${name}" (${ACTIONS})` };
}

/**
 * Mistakes in sc-set-gpt0's value at `stage`: an integer above gpt0's 32 bits, or a
 * sample expression that does not parse or is not available there.
 */
export function gpt0ValueErrors(value: string, stage: Stage): string[] {
  if (/^\d+$/.test(value)) return Number(value) > 0xffffffff ? [`gpt0 is an unsigned 32-bit integer: ${value}`] : [];
  const found: string[] = [];
  const expr = parseSampleExpr(value, found);
  if (expr && !expr.stages.includes(stage)) found.push(`${value}: not available in ${stage === 'connection' ? 'tcp-request' : stage} rules`);
  return found;
}

/** `rate-limit sessions <N>` (the words after `rate-limit`). */
export function parseRateLimit(text: string): Parsed<number> {
  const words = splitWords(text);
  if (words[0] !== 'sessions' || words.length !== 2 || !/^\d+$/.test(words[1]) || Number(words[1]) > MAX_SIZE) {
    return { error: `rate-limit: expected "sessions <N>" with N 0..${MAX_SIZE}, not "${text.trim()}"` };
  }
  return { value: Number(words[1]) };
}
