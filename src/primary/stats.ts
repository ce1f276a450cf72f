/**
 * The primary's view of every counter: workers report deltas (src/worker/report.ts),
 * this sums them per frontend/backend/server name — monotonic across worker restarts
 * and reloads — and turns them, with the model and health states, into HAProxy's
 * `show stat` rows, which the runtime API, stats page and Prometheus exporter share.
 */
import { hostname } from 'node:os';
import type { Backend, Model, Server } from '../config/model';
import type { CounterReport } from '../ipc/messages';
import type { FleetStatus } from '../stick/primary';
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
  /** Epoch ms of the last new session (0: never). */
  lastSession = 0;
  /** Per timer (TIMERS order): sliding average and maximum, in ms. */
  readonly timeAvg = new Float64Array(TIMERS.length);
  readonly timeMax = new Float64Array(TIMERS.length);
  /** Each worker's own timer maxima, absolute (they may arrive as deltas). */
  private readonly workerTimeMax = new Map<number, Float64Array>();
  private prevSess = 0;
  private prevReq = 0;

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

// ---------------------------------------------------------------- show stat rows

/** `show stat` columns 0–118 and the `-` terminator, in HAProxy's order (src/stats.c). */
export const STAT_COLUMNS: readonly string[] = (
  'pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,' +
  'chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,' +
  'check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,' +
  'req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,' +
  'agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,' +
  'agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,' +
  'cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,' +
  'used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,srid,sess_other,' +
  'h1_sess,h2_sess,h3_sess,req_other,h1req,h2req,h3req,proto,priv_idle_cur,reqbin,reqbout,resbin,resbout,' +
  'cache_hint_hits,-'
).split(',');

export type StatValue = string | number | undefined;

/** HAProxy object types: 0 frontend, 1 backend, 2 server. */
export type StatType = 0 | 1 | 2;

export interface StatRow {
  type: StatType;
  pxname: string;
  svname: string;
  iid: number;
  sid: number;
  /** Values in STAT_COLUMNS order; undefined means an empty CSV field. */
  cells: StatValue[];
}

/** Column name → position in STAT_COLUMNS. */
export const STAT_INDEX: ReadonlyMap<string, number> = new Map(STAT_COLUMNS.map((c, i) => [c, i]));

/** One column of a row by name. */
export function cell(r: StatRow, column: string): StatValue {
  return r.cells[STAT_INDEX.get(column)!];
}

/** A row from its key fields and value records (later records override earlier ones). */
function row(type: StatType, pxname: string, svname: string, iid: number, sid: number, ...records: Record<string, StatValue>[]): StatRow {
  const cells = new Array<StatValue>(STAT_COLUMNS.length).fill(undefined);
  for (const rec of records) for (const k in rec) cells[STAT_INDEX.get(k)!] = rec[k];
  cells[0] = pxname;
  cells[1] = svname;
  cells[COL_IID] = iid;
  cells[COL_SID] = sid;
  cells[COL_TYPE] = type;
  return { type, pxname, svname, iid, sid, cells };
}
const COL_IID = STAT_INDEX.get('iid')!;
const COL_SID = STAT_INDEX.get('sid')!;
const COL_TYPE = STAT_INDEX.get('type')!;

/** Everything a row needs besides the counters. */
export interface StatsSources {
  model: Model;
  stats: StatsAggregator;
  health: ServerHealthView[];
  now: number;
}

/**
 * Proxy ids: backends carry theirs (`iid`); frontends take the remaining numbers in
 * config order, so a frontend and backend pair keeps close ids.
 */
export function proxyIds(model: Model): { frontends: Map<string, number>; backends: Map<string, number> } {
  const backends = new Map(model.backends.map((b) => [b.name, b.id]));
  const used = new Set(backends.values());
  const frontends = new Map<string, number>();
  let next = 1;
  for (const f of model.frontends) {
    const same = backends.get(f.name);
    if (same !== undefined) {
      frontends.set(f.name, same);
      continue;
    }
    while (used.has(next)) next++;
    used.add(next);
    frontends.set(f.name, next);
  }
  return { frontends, backends };
}

/** The state of one server: from the health monitor when it knows it, else from the config. */
export function serverState(backend: Backend, server: Server, health: Map<string, ServerHealthView>): ServerHealthView {
  return (
    health.get(`${backend.name}/${server.name}`) ?? {
      backend: backend.name,
      server: server.name,
      up: true,
      admin: server.disabled ? 'maint' : 'ready',
      weight: server.weight,
    }
  );
}

/** HAProxy's server `status` text. */
export function serverStatus(server: Server, h: ServerHealthView): string {
  if (h.status) return h.status;
  if (h.admin === 'maint') return 'MAINT';
  if (!h.up) return 'DOWN';
  if (h.admin === 'drain') return 'DRAIN';
  return server.check.enabled ? 'UP' : 'no check';
}

export function healthIndex(health: ServerHealthView[]): Map<string, ServerHealthView> {
  return new Map(health.map((h) => [`${h.backend}/${h.server}`, h]));
}

/** Rows in HAProxy's order: per proxy by iid, FRONTEND, then servers, then BACKEND. */
export function buildRows(src: StatsSources): StatRow[] {
  const { model, stats, now } = src;
  const health = healthIndex(src.health);
  const ids = proxyIds(model);
  const proxies = new Map<string, { iid: number; fe?: Model['frontends'][number]; be?: Backend }>();
  for (const f of model.frontends) proxies.set(f.name, { iid: ids.frontends.get(f.name)!, fe: f });
  for (const b of model.backends) {
    const p = proxies.get(b.name);
    if (p) p.be = b;
    else proxies.set(b.name, { iid: b.id, be: b });
  }
  const rows: StatRow[] = [];
  for (const [name, p] of [...proxies].sort((a, b) => a[1].iid - b[1].iid)) {
    if (p.fe) {
      const o = stats.frontends.get(name) ?? new ObjectStats();
      const slim = p.fe.maxconn || model.global.maxconn || undefined;
      rows.push(
        row(0, name, 'FRONTEND', p.iid, 0, common(o, now), {
          status: 'OPEN', slim, type: 0, mode: p.fe.mode,
          req_rate: o.reqRate, req_rate_max: o.reqRateMax,
          conn_rate: o.rate, conn_rate_max: o.rateMax, conn_tot: o.get('connTotal'),
          intercepted: 0, dcon: o.get('deniedConn'), dses: o.get('deniedSess'), wrew: 0, cache_lookups: o.get('cacheLookups'), cache_hits: o.get('cacheHits'), eint: 0,
          ereq: o.get('errReq'), econ: undefined, eresp: undefined, wretr: undefined, wredis: undefined,
          cli_abrt: undefined, srv_abrt: undefined, lastsess: undefined, lbtot: undefined, qcur: undefined, qmax: undefined,
        }),
      );
    }
    if (p.be) rows.push(...backendRows(p.be, p.iid, src, health));
  }
  return rows;
}

/** Columns every row type fills the same way. */
function common(o: ObjectStats, now: number): Record<string, StatValue> {
  return {
    qcur: o.get('queueCur'), qmax: o.get('queueMax'),
    scur: o.cur, smax: o.max, stot: o.get('sessTotal'), bin: o.get('bytesIn'), bout: o.get('bytesOut'),
    dreq: o.get('deniedReq'), dresp: o.get('deniedResp'),
    econ: o.get('errConn'), eresp: o.get('errResp'), wretr: o.get('retries'), wredis: o.get('redispatches'),
    pid: 1, lbtot: o.get('lbTotal'), rate: o.rate, rate_max: o.rateMax,
    hrsp_1xx: o.get('hrsp1xx'), hrsp_2xx: o.get('hrsp2xx'), hrsp_3xx: o.get('hrsp3xx'),
    hrsp_4xx: o.get('hrsp4xx'), hrsp_5xx: o.get('hrsp5xx'), hrsp_other: o.get('hrspOther'),
    req_tot: o.get('reqTotal'), cli_abrt: o.get('cliAborts'), srv_abrt: o.get('srvAborts'),
    comp_in: o.get('compIn'), comp_out: o.get('compOut'), comp_byp: 0, comp_rsp: o.get('compRsp'),
    lastsess: o.lastSession ? Math.floor((now - o.lastSession) / 1000) : -1,
    qtime: Math.round(o.timeAvg[0]), ctime: Math.round(o.timeAvg[1]), rtime: Math.round(o.timeAvg[2]), ttime: Math.round(o.timeAvg[3]),
    qtime_max: o.timeMax[0], ctime_max: o.timeMax[1], rtime_max: o.timeMax[2], ttime_max: o.timeMax[3],
  };
}

function backendRows(be: Backend, iid: number, src: StatsSources, health: Map<string, ServerHealthView>): StatRow[] {
  const { stats, now } = src;
  const rows: StatRow[] = [];
  let act = 0;
  let bck = 0;
  let activeWeight = 0;
  let backupWeight = 0;
  let lastChange = 0;
  for (const s of be.servers) {
    const h = serverState(be, s, health);
    const o = stats.server(be.name, s.name) ?? new ObjectStats();
    const status = serverStatus(s, h);
    const usable = h.up && h.admin === 'ready' && h.weight > 0;
    if (usable) {
      if (s.backup) {
        bck++;
        backupWeight += h.weight;
      } else {
        act++;
        activeWeight += h.weight;
      }
    }
    if ((h.lastchg ?? 0) > lastChange) lastChange = h.lastchg!;
    const checked = s.check.enabled;
    rows.push(
      row(2, be.name, s.name, iid, s.id, common(o, now), {
        dreq: undefined, status, weight: h.weight, act: s.backup ? 0 : 1, bck: s.backup ? 1 : 0,
        slim: (h.maxconn ?? s.maxconn) || undefined, qlimit: s.maxqueue || undefined,
        chkfail: checked ? (h.chkfail ?? 0) : undefined, chkdown: checked ? (h.chkdown ?? 0) : undefined,
        lastchg: h.lastchg ? Math.floor((now - h.lastchg) / 1000) : undefined,
        downtime: checked ? Math.floor((h.downtime ?? 0) / 1000) : undefined,
        sid: s.id, throttle: undefined, type: 2,
        check_status: checked ? (h.checkStatus ?? 'INI') : undefined, check_code: h.checkCode, check_duration: h.checkDuration,
        hanafail: h.hanafail ?? 0,
        last_chk: h.checkDesc, check_desc: checked ? h.checkDesc ?? '' : undefined,
        check_rise: checked ? s.check.rise : undefined, check_fall: checked ? s.check.fall : undefined,
        check_health: checked ? (h.health ?? (h.up ? s.check.rise + s.check.fall - 1 : 0)) : undefined,
        addr: formatAddr(h.address ?? s.address, h.port ?? s.port),
        cookie: s.cookie, mode: be.mode,
        connect: o.get('lbTotal'), reuse: 0, srv_icur: 0, eint: 0, idle_conn_cur: 0, safe_conn_cur: 0, used_conn_cur: o.cur,
        need_conn_est: 0, uweight: h.weight, srid: s.id,
      }),
    );
  }
  const o = stats.backends.get(be.name) ?? new ObjectStats();
  const up = be.servers.length === 0 || activeWeight + backupWeight > 0;
  rows.push(
    row(1, be.name, 'BACKEND', iid, 0, common(o, now), {
      status: up ? 'UP' : 'DOWN', weight: activeWeight || backupWeight, act, bck,
      slim: src.model.global.maxconn || undefined, chkdown: 0,
      lastchg: lastChange ? Math.floor((now - lastChange) / 1000) : undefined, downtime: 0, type: 1,
      mode: be.mode, algo: be.balance.algorithm, connect: o.get('lbTotal'), reuse: 0, eint: 0,
      cache_lookups: o.get('cacheLookups'), cache_hits: o.get('cacheHits'), uweight: activeWeight || backupWeight,
      agg_server_status: up ? 1 : 0, agg_server_check_status: 0, agg_check_status: 0,
    }),
  );
  return rows;
}

function formatAddr(address: string, port: number): string {
  // No address yet (DNS): HAProxy leaves the field empty.
  if (address === '') return '';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A CSV field: quoted only when it holds a quote or comma. */
function csvField(v: StatValue): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** HAProxy's `show stat` CSV: `# ` header, every field followed by a comma, an empty line at the end. */
export function renderCsv(rows: StatRow[]): string {
  const out = ['# ' + STAT_COLUMNS.map((c) => c + ',').join('')];
  for (const r of rows) out.push(r.cells.map((v) => csvField(v) + ',').join(''));
  return out.join('\n') + '\n\n';
}

/** `show stat` filters: proxy (name or iid), object type bitmask (1 fe, 2 be, 4 srv), server id (-1 all). */
export interface StatFilter {
  proxy?: string;
  types: number;
  sid: number;
}

export function filterRows(rows: StatRow[], f: StatFilter): StatRow[] {
  return rows.filter(
    (r) =>
      (f.proxy === undefined || r.pxname === f.proxy || String(r.iid) === f.proxy) &&
      (f.types & (1 << r.type)) !== 0 &&
      (r.type !== 2 || f.sid === -1 || r.sid === f.sid),
  );
}

// ---------------------------------------------------------------- typed / json output

const KEY_COLUMNS = new Set(['pxname', 'svname', 'iid', 'sid', 'pid', 'type']);
const LIMIT_COLUMNS = new Set(['slim', 'qlimit', 'rate_lim', 'check_rise', 'check_fall', 'weight', 'uweight']);

/** HAProxy's typed field tags: origin, nature, scope, volatility. */
function tags(column: string): string {
  if (KEY_COLUMNS.has(column)) return 'KNSV';
  if (LIMIT_COLUMNS.has(column)) return 'CLSV';
  if (column === 'status' || column.startsWith('check_') || column === 'mode' || column === 'algo' || column === 'addr' || column === 'cookie') return 'SOSV';
  if (column.endsWith('_max') || column === 'smax' || column === 'qmax') return 'MMPV';
  if (column.includes('rate')) return 'MRPV';
  if (column === 'scur' || column === 'qcur' || column.endsWith('_cur') || column === 'act' || column === 'bck') return 'MGPV';
  return 'MCPV';
}

function fieldType(v: StatValue): string {
  return typeof v === 'number' ? (Number.isInteger(v) && v >= 0 ? 'u64' : 's64') : 'str';
}

const OBJ_LETTER = ['F', 'B', 'S'];
const OBJ_NAME = ['Frontend', 'Backend', 'Server'];

/** `show stat typed` (and the stats page's `;typed`): `<F|B|S>.<iid>.<sid>.<pos>.<name>.<proc>:<tags>:<type>:<value>` for each non-empty field. */
export function statTyped(rows: StatRow[]): string {
  let out = '';
  for (const r of rows) {
    STAT_COLUMNS.forEach((c, pos) => {
      const v = r.cells[pos];
      if (v === undefined || c === '-') return;
      out += `${OBJ_LETTER[r.type]}.${r.iid}.${r.sid}.${pos}.${c}.1:${tags(c)}:${fieldType(v)}:${v}\n`;
    });
    out += '\n';
  }
  return out;
}

export function statJson(rows: StatRow[]): string {
  const nature: Record<string, string> = { N: 'Name', L: 'Limit', O: 'Output', M: 'Max', R: 'Rate', G: 'Gauge', C: 'Counter' };
  const origin: Record<string, string> = { K: 'Key', C: 'Config', S: 'Status', M: 'Metric' };
  return JSON.stringify(
    rows.map((r) =>
      STAT_COLUMNS.flatMap((c, pos) => {
        const v = r.cells[pos];
        if (v === undefined || c === '-') return [];
        const t = tags(c);
        return [
          {
            objType: OBJ_NAME[r.type],
            proxyId: r.iid,
            id: r.sid,
            field: { pos, name: c },
            processNum: 1,
            tags: { origin: origin[t[0]], nature: nature[t[1]], scope: 'Service' },
            value: { type: fieldType(v), value: v },
          },
        ];
      }),
    ),
  );
}

// ---------------------------------------------------------------- show info

export interface ProcessFacts {
  startedAt: number;
  workers: number;
  stopping: boolean;
  /** Peers of the running `peers` sections, and those connected (src/peers/). */
  peers?: { active: number; connected: number };
}

/** `show info` key/value pairs in HAProxy's order (the subset that means something here, same names). */
export function buildInfo(src: StatsSources, facts: ProcessFacts, version: string): [string, string | number][] {
  const { model, stats, now } = src;
  let cur = 0;
  let cum = 0;
  let req = 0;
  let rate = 0;
  let rateMax = 0;
  let bout = 0;
  for (const o of stats.frontends.values()) {
    cur += o.cur;
    cum += o.get('sessTotal');
    req += o.get('reqTotal');
    rate += o.rate;
    rateMax += o.rateMax;
    bout += o.get('bytesOut');
  }
  const up = Math.floor((now - facts.startedAt) / 1000);
  const mem = process.memoryUsage();
  return [
    ['Name', 'tslb'],
    ['Version', version],
    ['Release_date', ''],
    ['Nbthread', facts.workers],
    ['Nbproc', 1],
    ['Process_num', 1],
    ['Pid', process.pid],
    ['Uptime', `${Math.floor(up / 86400)}d ${Math.floor((up % 86400) / 3600)}h${pad2(Math.floor((up % 3600) / 60))}m${pad2(up % 60)}s`],
    ['Uptime_sec', up],
    ['Start_time_sec', Math.floor(facts.startedAt / 1000)],
    ['Memmax_MB', 0],
    ['Memmax_bytes', 0],
    ['PoolAlloc_MB', Math.floor(mem.rss / 1048576)],
    ['PoolAlloc_bytes', mem.rss],
    ['PoolUsed_MB', Math.floor(mem.heapUsed / 1048576)],
    ['PoolUsed_bytes', mem.heapUsed],
    ['PoolFailed', 0],
    ['Maxconn', model.global.maxconn],
    ['Hard_maxconn', model.global.maxconn],
    ['CurrConns', cur],
    ['CumConns', cum],
    ['CumReq', req],
    ['ConnRate', rate],
    ['ConnRateLimit', 0],
    ['MaxConnRate', rateMax],
    ['SessRate', rate],
    ['SessRateLimit', 0],
    ['MaxSessRate', rateMax],
    ['Tasks', cur],
    ['Run_queue', 0],
    ['Idle_pct', 100],
    ['node', hostname()],
    ['Stopping', facts.stopping ? 1 : 0],
    ['Jobs', cur],
    ['Unstoppable Jobs', 0],
    ['Listeners', model.frontends.reduce((n, f) => n + f.binds.length, 0)],
    ['ActivePeers', facts.peers?.active ?? 0],
    ['ConnectedPeers', facts.peers?.connected ?? 0],
    ['TotalBytesOut', bout],
    ['CurrStreams', cur],
    ['CumStreams', cum],
  ];
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
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
