/**
 * `stick_table.redis` → StickRedisDef: where a table's fleet-wide counters live
 * (src/stick/redis.ts). HAProxy has no such setting (its tables are shared between
 * nodes by `peers` only), so there is no `stick-table` line form: the YAML object
 * form of `stick_table` carries it.
 */
import type { StickRedisDef, StickTableDef } from './model';
import type { StickRedisInput } from './schema-protection';
import type { Diagnostics, Where } from './source';
import { parseTime } from './haproxy-syntax';
import { DATA_INDEX, DATA_TYPES } from '../stick/layout';

const DEFAULT_PREFIX = 'tslb:';
const DEFAULT_FLUSH_MS = 100;
const DEFAULT_TIMEOUT_MS = 1000;
const MAX_FLUSH_MS = 60_000;
const MAX_TIMEOUT_MS = 60_000;

/** The table's Redis store, or undefined (errors reported) when a field is wrong. */
export function stickRedisOf(input: StickRedisInput, table: Omit<StickTableDef, 'name'>, where: Where, diag: Diagnostics): StickRedisDef | undefined {
  const at = (key: string): Where => ({ ...where, segs: [...where.segs, key] });
  let ok = true;
  const fail = (key: string, message: string) => {
    diag.error(at(key), message);
    ok = false;
  };
  let url: URL | undefined;
  try {
    url = new URL(input.url);
  } catch {
    fail('url', `redis url: "${input.url}" is not a URL (redis://host:6379/0)`);
  }
  if (url && url.protocol !== 'redis:' && url.protocol !== 'rediss:') fail('url', `redis url: scheme must be redis:// or rediss://, not "${url.protocol}"`);
  else if (url && !url.hostname) fail('url', 'redis url: needs a host (redis://127.0.0.1:6379/0)');
  else if (url && url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) fail('url', `redis url: the path is a database number (/0), not "${url.pathname}"`);

  const time = (key: 'flush_interval' | 'timeout', fallback: number, max: number): number => {
    const raw = input[key];
    if (raw === undefined) return fallback;
    const t = parseTime(raw);
    if (t.error !== undefined) fail(key, `redis ${key}: ${t.error}`);
    else if (t.value < 1 || t.value > max) fail(key, `redis ${key}: must be 1ms..${max / 1000}s, not "${raw}"`);
    else return t.value;
    return fallback;
  };
  const flushInterval = time('flush_interval', DEFAULT_FLUSH_MS, MAX_FLUSH_MS);
  const timeout = time('timeout', DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);

  // A rate's events are sent in the period they happened in: at least two flushes per period.
  const rates = table.store.filter((s) => s.period !== undefined);
  const shortest = Math.min(...rates.map((s) => s.period!));
  if (rates.length && flushInterval * 2 > shortest) {
    const name = rates.find((s) => s.period === shortest)!.type;
    fail(input.flush_interval === undefined ? 'url' : 'flush_interval', `redis flush_interval (${flushInterval}ms) must be at most half the shortest rate period (${name}(${shortest}ms))`);
  }
  const shared = table.store.some((s) => {
    const kind = DATA_TYPES[DATA_INDEX.get(s.type)!].kind;
    return kind === 'counter' || kind === 'rate';
  });
  if (!shared) {
    diag.error(where, 'redis: the table stores no counter or rate to share (conn_cur and gpt0 stay per node): add e.g. store http_req_rate(10s)');
    ok = false;
  }
  if (!ok) return undefined;
  return { url: input.url, prefix: input.prefix ?? DEFAULT_PREFIX, flushInterval, timeout };
}
