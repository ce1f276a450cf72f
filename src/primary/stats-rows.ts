/**
 * HAProxy's `show stat` rows (src/stats.c field layout), built from the summed counters
 * (src/primary/stats.ts), the model and the health states, and their renderings: CSV,
 * `typed` and `json`. The runtime API, stats page and Prometheus exporter share them.
 */
import type { Backend, Model, Server } from '../config/model';
import { ObjectStats, type ServerHealthView, type StatsAggregator } from './stats';

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
function serverStatus(server: Server, h: ServerHealthView): string {
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
    comp_in: o.get('compIn'), comp_out: o.get('compOut'), comp_byp: o.get('compByp'), comp_rsp: o.get('compRsp'),
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
