/**
 * The primary's view of every counter: workers report deltas (src/worker/report.ts),
 * this sums them per frontend/backend/server name — monotonic across worker restarts
 * and reloads. src/primary/stats-rows.ts turns them, with the model and health states,
 * into HAProxy's `show stat` rows, src/primary/stats-info.ts into `show info`.
 */
import type { Model } from '../config/model';
import type { CounterReport } from '../ipc/messages';
import type { FleetStatus } from '../stick/primary';
import type { StatRow } from './stats-rows';
import { type BucketsKey, COUNTER_OFFSETS, COUNTER_SLOTS, COUNTER_WIDTHS, GAUGE_KEYS, type NumericKey } from '../worker/report';

/** A server's health and administrative state, as the health monitor (src/primary/health.ts) reports it. */
export interface ServerHealthView {
  backend: string;
  server: string;
  /** Operational state from checks (true when unchecked). */
  up: boolean;
  admin: 'ready' | 'drain' | 'maint';
  /** Effective weight. */
  weight: number;
  /** HAProxy `status` text when the monitor knows better ("UP 1/3", "DOWN 1/2"…); derived otherwise. */
  status?: string;
  /** `check_status` (L4OK, L7STS…), `check_code`, `check_duration` (ms), `check_desc`. */
  checkStatus?: string;
  checkCode?: number;
  checkDuration?: number;
  checkDesc?: string;
  /** Failed checks, UP→DOWN transitions. */
  chkfail?: number;
  chkdown?: number;
  /** Current health counter (0..rise+fall-1), as HAProxy's check_health. */
  health?: number;
  /** Epoch ms of the last state change. */
  lastchg?: number;
  /** Total ms spent DOWN. */
  downtime?: number;
  /** Passive-health actions taken (HAProxy `hanafail`). */
  hanafail?: number;
  /** Effective maxconn (an agent or `set maxconn server` may change it); 0 = unlimited. */
  maxconn?: number;
  /** Effective address and port when `set server … addr` or DNS changed them ('' = none: resolution maintenance). */
  address?: string;
  port?: number;
  /** DNS gives no address (HAProxy's RMAINT), and the host name the address comes from. */
  rmaint?: boolean;
  fqdn?: string;
}

const N = COUNTER_SLOTS;
const IDX = COUNTER_OFFSETS;

/** The transaction timers: queue, connect, response, total (HAProxy qtime/ctime/rtime/ttime). */
export const TIMERS = ['qtime', 'ctime', 'rtime', 'ttime'] as const;
export type Timer = (typeof TIMERS)[number];
/** The timers also counted in latency histogram buckets (Counters.rtimeBuckets, ttimeBuckets). */
export const TIMER_HISTOGRAMS: Readonly<Partial<Record<Timer, BucketsKey>>> = { rtime: 'rtimeBuckets', ttime: 'ttimeBuckets' };
const TIMER_SUM = TIMERS.map((t) => IDX[`${t}Sum`]);
const TIMER_COUNT = TIMERS.map((t) => IDX[`${t}Count`]);
const TIMER_MAX = TIMERS.map((t) => IDX[`${t}Max`]);
const TIMER_MAX_GAUGE = TIMERS.map((t) => GAUGE_KEYS.has(`${t}Max`));
/** Current/peak pairs each worker reports as absolute values (sessions, queued requests). */
const LEVELS = [
  { cur: IDX.sessCur, max: IDX.sessMax },
  { cur: IDX.queueCur, max: IDX.queueMax },
];
/** Values that are not summed into totals: the session and queue levels and the per-worker timer maxima. */
const NOT_SUMMED = new Set([...LEVELS.flatMap((l) => [l.cur, l.max]), ...TIMER_MAX]);

/** A level summed over workers (current sessions, queue length) with its cluster-wide peak. */
class Level {
  /** Current value per worker pid. */
  readonly current = new Map<number, number>();
  /** Last peak each worker reported, to see new peaks. */
  readonly workerMax = new Map<number, number>();
  max = 0;

  get cur(): number {
    let sum = 0;
    for (const v of this.current.values()) sum += v;
    return sum;
  }

  apply(pid: number, cur: number, wmax: number): void {
    this.current.set(pid, cur);
    // A higher per-worker peak means a peak happened since the last report: its size is
    // that worker's peak plus what the others have now.
    const candidate = wmax > (this.workerMax.get(pid) ?? 0) ? this.cur - cur + wmax : this.cur;
    this.workerMax.set(pid, wmax);
    if (candidate > this.max) this.max = candidate;
  }

  forget(pid: number): void {
    this.current.delete(pid);
    this.workerMax.delete(pid);
  }
}
/** HAProxy averages timers over the last 1024 samples (swrate). */
const AVG_WINDOW = 1024;

/** One frontend, backend or server, summed over workers. */
export class ObjectStats {
  /** Accumulated deltas (the gauge slots stay 0: see current/max). */
  readonly totals = new Float64Array(N);
  /** Sessions and queued requests, in LEVELS order. */
  private readonly levels = LEVELS.map(() => new Level());
  rate = 0;
  rateMax = 0;
  reqRate = 0;
  reqRateMax = 0;
  /** Bytes into and out of the compressors over the last second (HAProxy's CompressBpsIn/Out, summed over frontends). */
  compInRate = 0;
  compOutRate = 0;
  /** Epoch ms of the last new session (0: never). */
  lastSession = 0;
  /** Per timer (TIMERS order): sliding average and maximum, in ms. */
  readonly timeAvg = new Float64Array(TIMERS.length);
  readonly timeMax = new Float64Array(TIMERS.length);
  /** Each worker's own timer maxima, absolute (they may arrive as deltas). */
  private readonly workerTimeMax = new Map<number, Float64Array>();
  private prevSess = 0;
  private prevReq = 0;
  private prevCompIn = 0;
  private prevCompOut = 0;

  get(key: NumericKey): number {
    for (let l = 0; l < LEVELS.length; l++) {
      if (IDX[key] === LEVELS[l].cur) return this.levels[l].cur;
      if (IDX[key] === LEVELS[l].max) return this.levels[l].max;
    }
    const t = TIMER_MAX.indexOf(IDX[key]);
    if (t >= 0) return this.timeMax[t];
    return this.totals[IDX[key]];
  }

  /** A histogram's summed buckets (not cumulative: see Counters.rtimeBuckets), a view on the totals. */
  buckets(key: BucketsKey): Float64Array {
    return this.totals.subarray(IDX[key], IDX[key] + COUNTER_WIDTHS[key]);
  }

  /** Current sessions. */
  get cur(): number {
    return this.levels[0].cur;
  }

  /** Peak sessions. */
  get max(): number {
    return this.levels[0].max;
  }

  apply(pid: number, values: number[], now: number): void {
    for (let i = 0; i < N && i < values.length; i++) if (!NOT_SUMMED.has(i)) this.totals[i] += values[i];
    if (values[IDX.sessTotal] > 0) this.lastSession = now;
    this.applyTimers(pid, values);
    for (let l = 0; l < LEVELS.length; l++) this.levels[l].apply(pid, values[LEVELS[l].cur] ?? 0, values[LEVELS[l].max] ?? 0);
  }

  private applyTimers(pid: number, values: number[]): void {
    let own = this.workerTimeMax.get(pid);
    if (!own) this.workerTimeMax.set(pid, (own = new Float64Array(TIMERS.length)));
    for (let t = 0; t < TIMERS.length; t++) {
      const m = values[TIMER_MAX[t]] ?? 0;
      own[t] = TIMER_MAX_GAUGE[t] ? m : own[t] + m;
      if (own[t] > this.timeMax[t]) this.timeMax[t] = own[t];
      const count = values[TIMER_COUNT[t]] ?? 0;
      if (count <= 0) continue;
      const seen = this.totals[TIMER_COUNT[t]];
      // Exact mean until the window is full, then move toward each report's mean by its weight.
      if (seen <= AVG_WINDOW) this.timeAvg[t] = this.totals[TIMER_SUM[t]] / seen;
      else this.timeAvg[t] += Math.min(1, count / AVG_WINDOW) * (values[TIMER_SUM[t]] / count - this.timeAvg[t]);
    }
  }

  /** Once a second: per-second rates, and forget workers that are gone. */
  tick(live: ReadonlySet<number>): void {
    for (const pid of this.workerTimeMax.keys()) if (!live.has(pid)) {
      for (const level of this.levels) level.forget(pid);
      this.workerTimeMax.delete(pid);
    }
    const sess = this.totals[IDX.sessTotal];
    const req = this.totals[IDX.reqTotal];
    this.rate = Math.max(0, sess - this.prevSess);
    this.reqRate = Math.max(0, req - this.prevReq);
    this.prevSess = sess;
    this.prevReq = req;
    const compIn = this.totals[IDX.compIn];
    const compOut = this.totals[IDX.compOut];
    this.compInRate = Math.max(0, compIn - this.prevCompIn);
    this.compOutRate = Math.max(0, compOut - this.prevCompOut);
    this.prevCompIn = compIn;
    this.prevCompOut = compOut;
    if (this.rate > this.rateMax) this.rateMax = this.rate;
    if (this.reqRate > this.reqRateMax) this.reqRateMax = this.reqRate;
  }

  /** HAProxy `clear counters`: maxima only; `all`: every cumulative counter too. */
  clear(all: boolean): void {
    for (const level of this.levels) level.max = level.cur;
    this.rateMax = 0;
    this.reqRateMax = 0;
    // Workers report a timer maximum again only when they see a higher one.
    this.timeMax.fill(0);
    if (!all) return;
    this.totals.fill(0);
    this.timeAvg.fill(0);
    this.prevSess = 0;
    this.prevReq = 0;
    this.prevCompIn = 0;
    this.prevCompOut = 0;
    this.lastSession = 0;
  }
}

/** Sums worker reports by object name; survives reloads (objects are kept by name). */
export class StatsAggregator {
  readonly frontends = new Map<string, ObjectStats>();
  readonly backends = new Map<string, ObjectStats>();
  /** By `backend/server`. */
  readonly servers = new Map<string, ObjectStats>();

  constructor(model: Model) {
    this.update(model);
  }

  /** A new generation: keep the counters of objects that still exist, start new ones at 0. */
  update(model: Model): void {
    sync(this.frontends, model.frontends.map((f) => f.name));
    sync(this.backends, model.backends.map((b) => b.name));
    sync(this.servers, model.backends.flatMap((b) => b.servers.map((s) => `${b.name}/${s.name}`)));
  }

  apply(pid: number, report: CounterReport, now = Date.now()): void {
    applyAll(this.frontends, report.frontends, pid, now);
    applyAll(this.backends, report.backends, pid, now);
    applyAll(this.servers, report.servers, pid, now);
  }

  tick(livePids: Iterable<number>): void {
    const live = new Set(livePids);
    for (const m of [this.frontends, this.backends, this.servers]) for (const o of m.values()) o.tick(live);
  }

  clear(all: boolean): void {
    for (const m of [this.frontends, this.backends, this.servers]) for (const o of m.values()) o.clear(all);
  }

  server(backend: string, server: string): ObjectStats | undefined {
    return this.servers.get(`${backend}/${server}`);
  }
}

function sync(map: Map<string, ObjectStats>, names: string[]): void {
  const keep = new Set(names);
  for (const k of map.keys()) if (!keep.has(k)) map.delete(k);
  for (const n of names) if (!map.has(n)) map.set(n, new ObjectStats());
}

function applyAll(map: Map<string, ObjectStats>, part: Record<string, number[]>, pid: number, now: number): void {
  for (const name in part) map.get(name)?.apply(pid, part[name], now);
}

// ---------------------------------------------------------------- the shared view

/** What the runtime API, stats page and exporter read: a consistent view over the live state. */
export interface StatsView {
  model(): Model;
  stats: StatsAggregator;
  health(): ServerHealthView[];
  rows(): StatRow[];
  info(): [string, string | number][];
  /** ACME orders ended, by result (src/primary/acme.ts). */
  acmeRenewals?: { success: number; failure: number };
  /** Stick tables with fleet-wide counters in Redis: their state (src/stick/redis.ts). */
  stickRedis?(): FleetStatus[];
}

/** What they may change (the admin/operator actions). Methods answer 'ok' or HAProxy's error text. */
export interface ServerControl {
  setAdmin(backend: string, server: string, admin: 'ready' | 'drain' | 'maint'): string;
  setWeight(backend: string, server: string, weight: number): string;
  /** Absent until the health monitor offers it: `set maxconn server` is then not offered. */
  setMaxconn?(backend: string, server: string, maxconn: number): string;
  /** Absent until the primary and workers can move a server: `set server … addr` is then not offered. */
  setAddress?(backend: string, server: string, address: string, port: number): string;
  reload(): Promise<boolean>;
}
