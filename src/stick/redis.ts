/**
 * Fleet-wide stick counters (`stick_table.redis`): the counters and rates of a table
 * are also kept in Redis, shared by every tslb node pointing at it, so a limit holds
 * over the fleet and not per node.
 *
 * - The primary holds the node's tables (./primary.ts); every worker batch applied
 *   there is also added to `pending` here. Every `flush_interval`, one pipelined
 *   round trip sends each entry's pending increments (a Lua script per entry: one
 *   atomic step) and reads the fleet totals back; the entries' values become the
 *   fleet's plus what was added here since the flush left, and go to the workers as
 *   any change does. No request waits for Redis: reads are always local.
 * - Keys: one hash per entry, `<prefix><table>:<key>`: a counter is a field of its
 *   name; a rate is HAProxy's two-period frequency counter (./freq.ts) in three
 *   fields `<rate>.b` (number of the current period, wall clock / period), `.c` (its
 *   events) and `.p` (the previous period's). Periods are aligned on the wall clock,
 *   so every node agrees on them (clocks kept by NTP). The hash expires `expire`
 *   after its last flush (none when the table has no expire).
 * - Entries refreshed: those with increments, and those incremented here within the
 *   last REFRESH window (a key this node tracks learns the other nodes' counts even
 *   when it adds nothing itself); at most MAX_FLUSH_ENTRIES a flush, in turns.
 * - Fleet-wide: counters (conn_cnt, sess_cnt, http_req_cnt, http_err_cnt, bytes_*_cnt,
 *   gpc0) and rates. Per node: conn_cur and use (live connections of this node;
 *   shared, a crashed node's would stay), gpt0 (a value set, not added).
 * - Redis down (connection closed, or a flush unanswered within `timeout`): tables
 *   count locally, from the last fleet values on; the transition is logged once and
 *   counted (show table, Prometheus); ioredis reconnects with backoff. Increments go
 *   on piling up per entry and are sent at the first flush after recovery (counters
 *   in full, rates for the periods still current); a flush lost in the failure is not
 *   resent (never counted twice). A field Redis does not have (restarted empty, expired) is
 *   seeded with the node's own value first (see FLUSH_SCRIPT).
 */
import { Redis, type ChainableCommander } from 'ioredis';
import type { Logger } from '../log/logger';
import type { StickRedisDef } from '../config/model';
import { DATA_TYPES } from './layout';
import type { FleetCounters, FleetStatus } from './primary';
import type { StickEntry, StickStore } from './store';

/**
 * Adds the increments of a chunk of entries and answers their fleet totals, in one
 * atomic step. KEYS: the entries' hashes. ARGV: ttl ms (0: none); the counters (how
 * many, then their names); the rates (how many, then their names); then for each key
 * its counters' increments and bases, and for each rate the current period's number,
 * its events, the previous period's events and the bases of both (see
 * TableSync.pushEntry). A base is the node's value before the increments: it seeds a
 * field Redis does not have (a Redis restarted empty, an expired key), so the fleet's
 * counts survive the loss of Redis's data; a field Redis has ignores it. The answer,
 * per key: each counter's total, then each rate's period number, events and previous
 * events.
 */
const FLUSH_SCRIPT = `
local ttl = tonumber(ARGV[1])
local nc = tonumber(ARGV[2])
local counters = {}
for j = 1, nc do counters[j] = ARGV[2 + j] end
local nr = tonumber(ARGV[3 + nc])
local rates = {}
for j = 1, nr do
  local name = ARGV[3 + nc + j]
  rates[j] = { name .. '.b', name .. '.c', name .. '.p' }
end
local a = 4 + nc + nr
local out = {}
for _, key in ipairs(KEYS) do
  for j = 1, nc do
    redis.call('HSETNX', key, counters[j], ARGV[a + 1])
    out[#out + 1] = redis.call('HINCRBY', key, counters[j], ARGV[a])
    a = a + 2
  end
  for j = 1, nr do
    local f = rates[j]
    local b, c, p = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local v = redis.call('HMGET', key, f[1], f[2], f[3])
    local hb, hc, hp = b, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    if v[1] then hb, hc, hp = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0 end
    a = a + 5
    if b > hb then
      if b == hb + 1 then hp = hc else hp = 0 end
      hc = 0
      hb = b
    end
    if b == hb then
      hc = hc + c
      hp = hp + p
    elseif b == hb - 1 then
      hp = hp + c
    end
    redis.call('HSET', key, f[1], hb, f[2], hc, f[3], hp)
    out[#out + 1] = hb
    out[#out + 1] = hc
    out[#out + 1] = hp
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
return out
`;

/** Entries per script call: Redis runs one call at a time, so a chunk is short (~1 ms). */
const CHUNK = 256;
/**
 * Entries per flush, so that one stays within its timeout (4096 entries: 30-100 ms of
 * primary CPU, answered in 0.2-0.45 s on a 2-core machine at load ~15,
 * bench/redis-flush.js); more entries take turns.
 */
const MAX_FLUSH_ENTRIES = 4096;

type FlushPipeline = ChainableCommander & { tslbFlush(keys: number, ...args: (string | number)[]): FlushPipeline };

/** Longest time an entry not incremented here is still refreshed from the fleet (at least its longest rate period). */
const REFRESH_MS = 10_000;
/** Reconnection backoff: 100 ms doubling up to 5 s. */
const RETRY_MAX_MS = 5000;

type LinkState = FleetStatus['state'];

/** One Redis connection, shared by the tables with the same URL and timeout. */
class RedisLink {
  readonly client: Redis;
  state: LinkState = 'connecting';
  readonly syncs = new Set<TableSync>();
  private lastError = '';

  constructor(
    /** URL and timeout: tables that share both share the connection. */
    readonly key: string,
    readonly url: string,
    timeout: number,
    private readonly log: Logger,
  ) {
    this.client = new Redis(url, {
      // A command waits for nothing: when disconnected it fails at once, and one lost
      // with the connection is not resent (it may have been applied).
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(timeout, 1000),
      commandTimeout: timeout,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), RETRY_MAX_MS),
    });
    this.client.defineCommand('tslbFlush', { lua: FLUSH_SCRIPT });
    this.client.on('ready', () => this.up());
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.client.on('close', () => this.down(this.lastError || 'connection closed'));
  }

  up(): void {
    if (this.state === 'up') return;
    this.state = 'up';
    this.log.info({ event: 'redis-up', url: redacted(this.url), tables: this.names() }, `redis ${redacted(this.url)} up: stick tables ${this.names().join(', ')} count fleet-wide`);
  }

  down(reason: string): void {
    if (this.state === 'down') return;
    this.state = 'down';
    for (const s of this.syncs) s.owner.fellBack(s.store.def.name);
    this.log.warn({ event: 'redis-down', url: redacted(this.url), reason, tables: this.names() }, `redis ${redacted(this.url)} down (${reason}): stick tables ${this.names().join(', ')} count locally until it is back`);
  }

  /** No table uses it any more: closed without counting a fallback. */
  close(): void {
    this.client.removeAllListeners('close');
    this.client.removeAllListeners('ready');
    this.client.disconnect();
  }

  private names(): string[] {
    return [...this.syncs].map((s) => s.store.def.name);
  }
}

/** A URL without its password, for logs. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** A table's counters and rates that go to Redis: slot and kind of each. */
interface SharedData {
  name: string;
  at: number;
  /** ms; 0 for a counter. */
  period: number;
}

/** One table's exchange with Redis. */
class TableSync {
  /** Increments since the last flush, in the shape of the values: a counter's sum; a rate's [period number, events, previous period's events]. */
  private readonly pending = new Map<StickEntry, number[]>();
  /** Entries incremented here, with the time of the last increment. */
  private readonly recent = new Map<StickEntry, number>();
  private readonly counters: SharedData[] = [];
  private readonly rates: SharedData[] = [];
  private readonly refreshMs: number;
  private timer: NodeJS.Timeout;
  private inflight = false;

  constructor(
    readonly store: StickStore,
    readonly link: RedisLink,
    readonly owner: RedisCounters,
  ) {
    const { stored, slot, period } = store.layout;
    for (const type of stored) {
      const d = DATA_TYPES[type];
      if (d.kind === 'counter') this.counters.push({ name: d.name, at: slot[type], period: 0 });
      else if (d.kind === 'rate') this.rates.push({ name: d.name, at: slot[type], period: period[type] });
    }
    this.refreshMs = Math.max(REFRESH_MS, ...this.rates.map((r) => r.period));
    this.timer = this.start();
  }

  get def(): StickRedisDef {
    return this.store.def.redis!;
  }

  /** (Re)starts the flush timer at the table's interval. */
  start(): NodeJS.Timeout {
    const timer = setInterval(() => this.flush(), this.def.flushInterval);
    timer.unref();
    return timer;
  }

  restart(): void {
    clearInterval(this.timer);
    this.timer = this.start();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A worker's delta applied to `e` at the primary. */
  added(e: StickEntry, delta: number[], now: number): void {
    this.recent.set(e, now);
    let p = this.pending.get(e);
    for (const c of this.counters) {
      if (!delta[c.at]) continue;
      p ??= this.newPending(e);
      p[c.at] += delta[c.at];
    }
    for (const r of this.rates) {
      const n = delta[r.at + 1];
      if (!n) continue;
      p ??= this.newPending(e);
      rotate(p, r.at, Math.floor(now / r.period));
      p[r.at + 1] += n;
    }
  }

  private newPending(e: StickEntry): number[] {
    const p = new Array<number>(this.store.layout.slots).fill(0);
    this.pending.set(e, p);
    return p;
  }

  /** Sends the pending increments of the entries to refresh, unless Redis is disconnected or a flush is in flight. */
  flush(): void {
    const now = Date.now();
    // A link down for slowness is still connected: its next flush is the probe that brings it back.
    const send = this.link.client.status === 'ready' && !this.inflight;
    const batch: StickEntry[] = [];
    for (const [e, last] of this.recent) {
      const p = this.pending.get(e);
      // Gone from the table (expired, evicted, cleared), or idle here long enough.
      if (this.store.peek(e.key) !== e || (!p && now - last > this.refreshMs)) {
        this.recent.delete(e);
        this.pending.delete(e);
      } else if (send && batch.length < MAX_FLUSH_ENTRIES) batch.push(e);
    }
    if (batch.length === 0) return;
    // A full flush: those sent go to the end, so that beyond MAX_FLUSH_ENTRIES entries take turns.
    if (batch.length === MAX_FLUSH_ENTRIES) {
      for (const e of batch) {
        const last = this.recent.get(e)!;
        this.recent.delete(e);
        this.recent.set(e, last);
      }
    }
    const pipe = this.link.client.pipeline() as FlushPipeline;
    const head: (string | number)[] = [this.store.def.expire, this.counters.length, ...this.counters.map((c) => c.name), this.rates.length, ...this.rates.map((r) => r.name)];
    const keyPrefix = this.def.prefix + this.store.def.name + ':';
    for (let from = 0; from < batch.length; from += CHUNK) {
      const chunk = batch.slice(from, from + CHUNK);
      const args: (string | number)[] = chunk.map((e) => keyPrefix + e.key);
      args.push(...head);
      for (const e of chunk) this.pushEntry(args, e, this.pending.get(e), now);
      pipe.tslbFlush(chunk.length, ...args);
    }
    for (const e of batch) this.pending.delete(e);
    this.inflight = true;
    pipe.exec().then(
      (results) => this.answered(batch, results ?? []),
      (err: Error) => this.failed(err),
    );
  }

  /**
   * An entry's ARGV: each counter's increment and base (its value without the
   * increment), then each rate's current period number, its events and the previous
   * period's (increments), and the bases of both.
   */
  private pushEntry(args: (string | number)[], e: StickEntry, p: number[] | undefined, now: number): void {
    const v = e.values;
    for (const c of this.counters) {
      const inc = p ? p[c.at] : 0;
      args.push(inc, v[c.at] - inc);
    }
    for (const r of this.rates) {
      const b = Math.floor(now / r.period);
      // Events of periods before the previous one no longer count in a rate.
      const age = p && (p[r.at + 1] || p[r.at + 2]) ? b - p[r.at] : 2;
      const curr = age === 0 ? p![r.at + 1] : 0;
      const prev = age === 0 ? p![r.at + 2] : age === 1 ? p![r.at + 1] : 0;
      // The node's own counts in period b and the one before (its tick is a period start once synced).
      const local = b - Math.floor(v[r.at] / r.period);
      const localCurr = local === 0 ? v[r.at + 1] : 0;
      const localPrev = local === 0 ? v[r.at + 2] : local === 1 ? v[r.at + 1] : 0;
      args.push(b, curr, prev, Math.max(0, localCurr - curr), Math.max(0, localPrev - prev));
    }
  }

  private answered(batch: StickEntry[], results: [Error | null, unknown][]): void {
    this.inflight = false;
    const failed = results.find(([err]) => err);
    if (failed) return this.failed(failed[0]!);
    this.link.up();
    const now = Date.now();
    const changed: StickEntry[] = [];
    const width = this.counters.length + 3 * this.rates.length;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i];
      if (this.store.peek(e.key) !== e) continue;
      const reply = results[Math.floor(i / CHUNK)][1] as number[];
      this.overlay(e, reply, (i % CHUNK) * width, this.pending.get(e), now);
      changed.push(e);
    }
    this.owner.changed(this.store, changed);
  }

  private failed(err: Error): void {
    this.inflight = false;
    this.link.down(err.message);
  }

  /** The entry's values: the fleet's totals (`reply` from `i`, script order) plus `p`, what was added here since the flush left. */
  private overlay(e: StickEntry, reply: number[], i: number, p: number[] | undefined, now: number): void {
    const v = e.values;
    for (const c of this.counters) v[c.at] = Number(reply[i++]) + (p ? p[c.at] : 0);
    for (const r of this.rates) {
      const hb = Number(reply[i]);
      let curr = Number(reply[i + 1]);
      let prev = Number(reply[i + 2]);
      i += 3;
      // The fleet's counts as of the period it is in, moved on to this node's current one.
      let b = Math.floor(now / r.period);
      if (b === hb + 1) {
        prev = curr;
        curr = 0;
      } else if (b > hb + 1) prev = curr = 0;
      else b = hb;
      if (p && (p[r.at + 1] || p[r.at + 2])) {
        if (p[r.at] === b) {
          curr += p[r.at + 1];
          prev += p[r.at + 2];
        } else if (p[r.at] === b - 1) prev += p[r.at + 1];
      }
      v[r.at] = b * r.period;
      v[r.at + 1] = curr;
      v[r.at + 2] = prev;
    }
  }
}

/** Moves a pending rate `[period number, events, previous events]` at `at` on to period `b`. */
function rotate(p: number[], at: number, b: number): void {
  if (p[at + 1] === 0 && p[at + 2] === 0) p[at] = b;
  else if (b === p[at] + 1) {
    p[at + 2] = p[at + 1];
    p[at + 1] = 0;
    p[at] = b;
  } else if (b > p[at] + 1) {
    p[at + 1] = p[at + 2] = 0;
    p[at] = b;
  }
}

/** The primary's Redis-backed tables (one link per URL and timeout). */
export class RedisCounters implements FleetCounters {
  private readonly links = new Map<string, RedisLink>();
  private readonly syncs = new Map<StickStore, TableSync>();
  /** Fallbacks by table name (kept across reloads). */
  private readonly fallbacks = new Map<string, number>();

  constructor(
    private readonly log: Logger,
    /** Entries whose values changed: to the workers (PrimaryStickTables.changed). */
    readonly changed: (store: StickStore, entries: StickEntry[]) => void,
  ) {}

  useStores(stores: Iterable<StickStore>): void {
    const live = new Set<StickStore>();
    for (const store of stores) {
      const def = store.def.redis;
      if (!def) continue;
      live.add(store);
      const linkKey = `${def.url} ${def.timeout}`;
      let sync = this.syncs.get(store);
      if (sync && sync.link.key !== linkKey) {
        this.drop(store, sync);
        sync = undefined;
      }
      if (sync) sync.restart();
      else {
        const link = this.links.get(linkKey) ?? this.links.set(linkKey, new RedisLink(linkKey, def.url, def.timeout, this.log)).get(linkKey)!;
        sync = new TableSync(store, link, this);
        link.syncs.add(sync);
        this.syncs.set(store, sync);
      }
    }
    for (const [store, sync] of this.syncs) if (!live.has(store)) this.drop(store, sync);
  }

  added(store: StickStore, e: StickEntry, delta: number[], now: number): void {
    this.syncs.get(store)?.added(e, delta, now);
  }

  fellBack(table: string): void {
    this.fallbacks.set(table, (this.fallbacks.get(table) ?? 0) + 1);
  }

  /** The state of table `name`'s Redis store; undefined when it has none. */
  status(store: StickStore): FleetStatus | undefined {
    const sync = this.syncs.get(store);
    return sync && { table: store.def.name, state: sync.link.state, fallbacks: this.fallbacks.get(store.def.name) ?? 0 };
  }

  close(): void {
    for (const [store, sync] of this.syncs) this.drop(store, sync);
  }

  private drop(store: StickStore, sync: TableSync): void {
    sync.stop();
    this.syncs.delete(store);
    sync.link.syncs.delete(sync);
    if (sync.link.syncs.size === 0) {
      this.links.delete(sync.link.key);
      sync.link.close();
    }
  }
}
