/**
 * Prometheus endpoint: one prom-client Registry in the primary, fed from the aggregated
 * counters at scrape time (workers are never asked anything). Families and labels
 * follow HAProxy's exporter (promex) under a `tslb_` prefix, or `haproxy_` so existing
 * dashboards work unchanged. Query filters: `scope=` (repeatable) and `metrics=`.
 */
import { X509Certificate } from 'node:crypto';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Model, PrometheusSettings } from '../config/model';
import { LATENCY_BOUNDS_MS } from '../worker/counters';
import type { FleetStatus } from '../stick/primary';
import { createAdminHttpServer, listen } from './admin-http';
import { TIMER_HISTOGRAMS, TIMERS, type StatsView, type Timer } from './stats';
import { STAT_INDEX, type StatRow } from './stats-rows';

type Scope = 'global' | 'frontend' | 'backend' | 'server' | 'sticktable';
const SCOPES: Scope[] = ['global', 'frontend', 'backend', 'server', 'sticktable'];

/** What the sticktable scope reads of a table the primary holds (src/stick/primary.ts StickStore). */
export interface StickTableView {
  def: { name: string; type: string; size: number };
  /** Entries stored. */
  size: number;
}

/** One proxy-level family: the CSV column it reads, and how (ms columns become seconds). */
interface ColumnFamily {
  name: string;
  help: string;
  counter?: boolean;
  column: string;
  /** Divide by 1000 (ms → s). */
  ms?: boolean;
  /** Printed as NaN when the column is empty (no limit / no check), as promex does. */
  nan?: boolean;
}

const PROXY_FAMILIES: ColumnFamily[] = [
  { name: 'current_sessions', help: 'Number of current sessions.', column: 'scur' },
  { name: 'max_sessions', help: 'Maximum observed number of active sessions.', column: 'smax' },
  { name: 'limit_sessions', help: 'Configured session limit.', column: 'slim', nan: true },
  { name: 'sessions_total', help: 'Total number of sessions.', counter: true, column: 'stot' },
  { name: 'bytes_in_total', help: 'Current total of incoming bytes.', counter: true, column: 'bin' },
  { name: 'bytes_out_total', help: 'Current total of outgoing bytes.', counter: true, column: 'bout' },
  { name: 'requests_denied_total', help: 'Total number of denied requests.', counter: true, column: 'dreq' },
  { name: 'responses_denied_total', help: 'Total number of denied responses.', counter: true, column: 'dresp' },
  { name: 'request_errors_total', help: 'Total number of request errors.', counter: true, column: 'ereq' },
  { name: 'connection_errors_total', help: 'Total number of connection errors.', counter: true, column: 'econ' },
  { name: 'response_errors_total', help: 'Total number of response errors.', counter: true, column: 'eresp' },
  { name: 'retry_warnings_total', help: 'Total number of retry warnings.', counter: true, column: 'wretr' },
  { name: 'redispatch_warnings_total', help: 'Total number of redispatch warnings.', counter: true, column: 'wredis' },
  { name: 'current_queue', help: 'Number of current queued connections.', column: 'qcur' },
  { name: 'max_queue', help: 'Maximum observed number of queued connections.', column: 'qmax' },
  { name: 'queue_limit', help: 'Configured maxqueue for the server, or NaN for none.', column: 'qlimit', nan: true },
  { name: 'weight', help: 'Effective weight.', column: 'weight' },
  { name: 'active_servers', help: 'Current number of active servers.', column: 'act' },
  { name: 'backup_servers', help: 'Current number of backup servers.', column: 'bck' },
  { name: 'active', help: 'Whether the server is an active server.', column: 'act' },
  { name: 'backup', help: 'Whether the server is a backup server.', column: 'bck' },
  { name: 'check_failures_total', help: 'Total number of failed checks (NaN when not checked).', counter: true, column: 'chkfail', nan: true },
  { name: 'check_up_down_total', help: 'Total number of UP->DOWN transitions.', counter: true, column: 'chkdown' },
  { name: 'check_last_change_seconds', help: 'Number of seconds since the last UP<->DOWN transition.', column: 'lastchg' },
  { name: 'downtime_seconds_total', help: 'Total downtime (in seconds).', counter: true, column: 'downtime' },
  { name: 'check_duration_seconds', help: 'Duration of the last health check in seconds.', column: 'check_duration', ms: true },
  { name: 'check_code', help: 'Layer 5-7 code of the last health check.', column: 'check_code' },
  { name: 'loadbalanced_total', help: 'Total number of times a service was selected.', counter: true, column: 'lbtot' },
  { name: 'current_session_rate', help: 'Current number of sessions per second over last elapsed second.', column: 'rate' },
  { name: 'max_session_rate', help: 'Maximum observed number of sessions per second.', column: 'rate_max' },
  { name: 'http_requests_rate_max', help: 'Maximum observed number of HTTP requests per second.', column: 'req_rate_max' },
  { name: 'http_requests_total', help: 'Total number of HTTP requests received.', counter: true, column: 'req_tot' },
  { name: 'client_aborts_total', help: 'Total number of data transfers aborted by the client.', counter: true, column: 'cli_abrt' },
  { name: 'server_aborts_total', help: 'Total number of data transfers aborted by the server.', counter: true, column: 'srv_abrt' },
  { name: 'connections_rate_max', help: 'Maximum observed number of connections per second.', column: 'conn_rate_max' },
  { name: 'connections_total', help: 'Total number of connections.', counter: true, column: 'conn_tot' },
  { name: 'http_comp_bytes_in_total', help: 'Total number of HTTP response bytes fed to the compressor.', counter: true, column: 'comp_in' },
  { name: 'http_comp_bytes_out_total', help: 'Total number of HTTP response bytes emitted by the compressor.', counter: true, column: 'comp_out' },
  { name: 'http_comp_bytes_bypassed_total', help: 'Total number of bytes that bypassed the HTTP compressor.', counter: true, column: 'comp_byp' },
  { name: 'http_comp_responses_total', help: 'Total number of HTTP responses that were compressed.', counter: true, column: 'comp_rsp' },
  { name: 'http_cache_lookups_total', help: 'Total number of HTTP cache lookups.', counter: true, column: 'cache_lookups' },
  { name: 'http_cache_hits_total', help: 'Total number of HTTP cache hits.', counter: true, column: 'cache_hits' },
  { name: 'last_session_seconds', help: 'Number of seconds since last session assigned to server/backend.', column: 'lastsess' },
  { name: 'queue_time_average_seconds', help: 'Avg. queue time for last 1024 successful connections.', column: 'qtime', ms: true },
  { name: 'connect_time_average_seconds', help: 'Avg. connect time for last 1024 successful connections.', column: 'ctime', ms: true },
  { name: 'response_time_average_seconds', help: 'Avg. response time for last 1024 successful connections.', column: 'rtime', ms: true },
  { name: 'total_time_average_seconds', help: 'Avg. total time for last 1024 successful connections.', column: 'ttime', ms: true },
  { name: 'max_queue_time_seconds', help: 'Maximum observed time spent in the queue.', column: 'qtime_max', ms: true },
  { name: 'max_connect_time_seconds', help: 'Maximum observed time spent waiting for a connection to complete.', column: 'ctime_max', ms: true },
  { name: 'max_response_time_seconds', help: 'Maximum observed time spent waiting for a server response.', column: 'rtime_max', ms: true },
  { name: 'max_total_time_seconds', help: 'Maximum observed total request+response time.', column: 'ttime_max', ms: true },
  { name: 'connection_attempts_total', help: 'Total number of connection establishment attempts.', counter: true, column: 'connect' },
  { name: 'connection_reuses_total', help: 'Total number of connection reuses.', counter: true, column: 'reuse' },
  { name: 'internal_errors_total', help: 'Total number of internal errors.', counter: true, column: 'eint' },
  { name: 'uweight', help: 'Server\'s user weight, or sum of active servers\' user weights for a backend.', column: 'uweight' },
  { name: 'used_connections_current', help: 'Current number of connections in use.', column: 'used_conn_cur' },
];

/** Which families each scope has (promex's per-scope lists). */
const SCOPE_FAMILIES: Record<'frontend' | 'backend' | 'server', string[]> = {
  frontend: [
    'current_sessions', 'max_sessions', 'limit_sessions', 'sessions_total', 'bytes_in_total', 'bytes_out_total', 'requests_denied_total',
    'responses_denied_total', 'request_errors_total', 'max_session_rate', 'current_session_rate', 'http_requests_rate_max', 'http_requests_total',
    'connections_rate_max', 'connections_total', 'http_comp_bytes_in_total', 'http_comp_bytes_out_total', 'http_comp_bytes_bypassed_total',
    'http_comp_responses_total', 'http_cache_lookups_total', 'http_cache_hits_total', 'internal_errors_total',
  ],
  backend: [
    'current_queue', 'max_queue', 'current_sessions', 'max_sessions', 'limit_sessions', 'sessions_total', 'bytes_in_total', 'bytes_out_total',
    'requests_denied_total', 'responses_denied_total', 'connection_errors_total', 'response_errors_total', 'retry_warnings_total',
    'redispatch_warnings_total', 'weight', 'active_servers', 'backup_servers', 'check_up_down_total', 'check_last_change_seconds',
    'downtime_seconds_total', 'loadbalanced_total', 'current_session_rate', 'max_session_rate', 'http_requests_total', 'client_aborts_total',
    'server_aborts_total', 'http_comp_bytes_in_total', 'http_comp_bytes_out_total', 'http_comp_bytes_bypassed_total', 'http_comp_responses_total',
    'last_session_seconds', 'queue_time_average_seconds', 'connect_time_average_seconds', 'response_time_average_seconds',
    'total_time_average_seconds', 'max_queue_time_seconds', 'max_connect_time_seconds', 'max_response_time_seconds', 'max_total_time_seconds',
    'connection_attempts_total', 'connection_reuses_total', 'http_cache_lookups_total', 'http_cache_hits_total', 'internal_errors_total', 'uweight',
  ],
  server: [
    'current_queue', 'max_queue', 'current_sessions', 'max_sessions', 'limit_sessions', 'sessions_total', 'bytes_in_total', 'bytes_out_total',
    'responses_denied_total', 'connection_errors_total', 'response_errors_total', 'retry_warnings_total', 'redispatch_warnings_total', 'weight',
    'active', 'backup', 'check_failures_total', 'check_up_down_total', 'check_last_change_seconds', 'downtime_seconds_total', 'queue_limit',
    'loadbalanced_total', 'current_session_rate', 'max_session_rate', 'check_code', 'check_duration_seconds', 'client_aborts_total',
    'server_aborts_total', 'last_session_seconds', 'queue_time_average_seconds', 'connect_time_average_seconds', 'response_time_average_seconds',
    'total_time_average_seconds', 'max_queue_time_seconds', 'max_connect_time_seconds', 'max_response_time_seconds', 'max_total_time_seconds',
    'connection_attempts_total', 'connection_reuses_total', 'internal_errors_total', 'uweight', 'used_connections_current',
  ],
};

const ROW_TYPE = { frontend: 0, backend: 1, server: 2 } as const;
const SERVER_STATES = ['DOWN', 'UP', 'MAINT', 'DRAIN', 'NOLB'];
const CHECK_STATES = ['HANA', 'SOCKERR', 'L4OK', 'L4TOUT', 'L4CON', 'L6OK', 'L6TOUT', 'L6RSP', 'L7TOUT', 'L7RSP', 'L7OK', 'L7OKC', 'L7STS'];
const CODES: [string, string][] = [['1xx', 'hrsp_1xx'], ['2xx', 'hrsp_2xx'], ['3xx', 'hrsp_3xx'], ['4xx', 'hrsp_4xx'], ['5xx', 'hrsp_5xx'], ['other', 'hrsp_other']];

/**
 * The exposition text, written straight into a Buffer: label sets are encoded once
 * per row per scrape and copied, integers are written digit by digit. Formatting
 * ~80k samples (1000 servers) through prom-client's per-sample path cost ~300 ms of
 * CPU, mostly garbage; this keeps a scrape within a few tens of ms.
 */
export class Exposition {
  private buf: Buffer;
  private pos = 0;
  /** The current family's sample name. */
  name: Buffer = Buffer.alloc(0);

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, sizeHint));
  }

  /** `# HELP` / `# TYPE` lines, and the name the following samples use. */
  begin(name: string, help: string, type: string): void {
    this.text(`# HELP ${name} ${helpText(help)}\n# TYPE ${name} ${type}\n`);
    this.name = Buffer.from(name);
  }

  text(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** `<name><labels><extra> <value>\n`; labels and extra are pre-encoded (`{proxy="a"}`, or open plus `,state="UP"}`). */
  sample(labels: Buffer, value: number, extra?: Buffer, name = this.name): void {
    this.reserve(name.length + labels.length + (extra ? extra.length : 0) + 32);
    this.copy(name);
    this.copy(labels);
    if (extra) this.copy(extra);
    this.buf[this.pos++] = 0x20;
    if (Number.isSafeInteger(value) && value >= 0) this.digits(value);
    else this.pos += this.buf.write(formatValue(value), this.pos, 'latin1');
    this.buf[this.pos++] = 0x0a;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private copy(b: Buffer): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i];
    this.pos = p;
  }

  private digits(v: number): void {
    const buf = this.buf;
    if (v === 0) {
      buf[this.pos++] = 0x30;
      return;
    }
    let n = 0;
    for (let x = v; x >= 1; x = Math.floor(x / 10)) n++;
    let p = this.pos + n;
    this.pos = p;
    for (let x = v; x >= 1; x = Math.floor(x / 10)) buf[--p] = 0x30 + (x % 10);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

/** A family of ours: its samples come from the stats rows at scrape time. */
interface Family {
  scope: Scope;
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'summary' | 'histogram';
  write(out: Exposition, snap: Snapshot): void;
}

/** Exposition value: Go's spelling of the special floats, as HAProxy prints them. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A label value, escaped as the text format requires. */
function labelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function helpText(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** The rows of one scope and their encoded label sets: open (`{proxy="a",server="b"`, for more labels) and closed. */
interface ScopeRows {
  rows: StatRow[];
  open: Buffer[];
  closed: Buffer[];
}

/** The per-scrape data every family reads, computed once per scrape. */
interface Snapshot {
  byType: ScopeRows[];
  info: Map<string, string | number>;
}

function snapshotOf(rows: StatRow[], info: [string, string | number][]): Snapshot {
  const byType: ScopeRows[] = [0, 1, 2].map(() => ({ rows: [], open: [], closed: [] }));
  for (const r of rows) {
    const t = byType[r.type];
    const open = r.type === 2 ? `{proxy="${labelValue(r.pxname)}",server="${labelValue(r.svname)}"` : `{proxy="${labelValue(r.pxname)}"`;
    t.rows.push(r);
    t.open.push(Buffer.from(open));
    t.closed.push(Buffer.from(open + '}'));
  }
  return { byType, info: new Map(info) };
}

const NO_LABELS = Buffer.alloc(0);
/** `,<name>="<value>"}` for each value: the extra label closing an open label set. */
function extraLabels(name: string, values: string[]): Buffer[] {
  return values.map((v) => Buffer.from(`,${name}="${v}"}`));
}

export class PrometheusExporter {
  readonly registry = new Registry();
  /** Every family with its scope, in output order: ours (written directly) and prom-client's (by name). */
  private readonly metrics: ({ scope: Scope; name: string } | Family)[] = [];
  /** Size of the previous scrape, to size the next one's buffer. */
  private lastSize = 0;
  private server?: http.Server;
  private certificates: { labels: Buffer; notAfter: number }[] = [];

  constructor(
    private settings: PrometheusSettings,
    private readonly view: StatsView,
    version: string,
    /** The stick tables of the serving config, which the primary owns (absent: none). */
    private readonly tables: () => readonly StickTableView[] = () => [],
  ) {
    const p = settings.prefix;
    this.defineProcess(p, version);
    for (const scope of ['frontend', 'backend', 'server'] as const) this.defineProxyScope(p, scope);
    this.defineStickTables(p);
    this.defineCertificates(p);
    // Node's own process metrics (CPU, memory, event loop) of the primary.
    collectDefaultMetrics({ register: this.registry, prefix: `${p}_node_` });
    const known = new Set(this.metrics.map((m) => m.name));
    for (const m of this.registry.getMetricsAsArray()) {
      if (known.has(m.name)) continue;
      // prom-client's nodejs_active_*_total are gauges: promtool flags a _total gauge, so they go.
      if (m.name.endsWith('_total') && (m as unknown as { type: string }).type !== 'counter') this.registry.removeSingleMetric(m.name);
      else this.metrics.push({ scope: 'global', name: m.name });
    }
    this.setModel(view.model());
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  /** New config generation: certificate list. */
  setModel(model: Model): void {
    this.certificates = model.frontends.flatMap((f) =>
      f.binds.flatMap((b) =>
        (b.tls?.certificates ?? []).flatMap((c) => {
          try {
            const x = new X509Certificate(c.cert);
            const labels = Buffer.from(`{proxy="${labelValue(f.name)}",source="${labelValue(c.source)}",cn="${labelValue(c.names[0] ?? '')}"}`);
            return [{ labels, notAfter: Date.parse(x.validTo) / 1000 }];
          } catch {
            return [];
          }
        }),
      ),
    );
  }

  async listen(): Promise<void> {
    const server = createAdminHttpServer((req, res) => void this.handle(req, res), this.settings.allow);
    await listen(server, { port: this.settings.port, host: this.settings.address });
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** The exposition text for a query string (`scope=…&metrics=…`), or undefined for a bad query (400). */
  async render(query: string): Promise<Buffer | undefined> {
    const params = new URLSearchParams(query);
    if (query.split('&').some((p) => p === 'scope')) return undefined;
    let selected = this.metrics;
    if (params.has('scope')) {
      const scopes = new Set<string>();
      for (const s of params.getAll('scope')) {
        if (s === '*') SCOPES.forEach((x) => scopes.add(x));
        else if (s) scopes.add(s);
      }
      selected = selected.filter((m) => scopes.has(m.scope));
    }
    const filter = params.get('metrics');
    if (filter) {
      const names = filter.split(',').filter(Boolean);
      const include = new Set(names.filter((n) => !n.startsWith('-')));
      const exclude = new Set(names.filter((n) => n.startsWith('-')).map((n) => n.slice(1)));
      selected = selected.filter((m) => (include.size === 0 || include.has(m.name)) && !exclude.has(m.name));
    }
    if (selected.length === 0) return Buffer.alloc(0);
    const snap = snapshotOf(this.view.rows(), this.view.info());
    const out = new Exposition(this.lastSize + 4096);
    for (const m of selected) {
      if (!('write' in m)) {
        out.text((await this.registry.getSingleMetricAsString(m.name)) + '\n');
        continue;
      }
      out.begin(m.name, m.help, m.type);
      m.write(out, snap);
    }
    const body = out.result();
    this.lastSize = body.length;
    return body;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    if (path !== this.settings.uri || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    try {
      const body = await this.render(q >= 0 ? url.slice(q + 1) : '');
      if (body === undefined) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('Bad request\n');
        return;
      }
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  }

  private family(scope: Scope, name: string, help: string, type: Family['type'], write: Family['write']): void {
    this.metrics.push({ scope, name, help, type, write });
  }

  private defineProcess(p: string, version: string): void {
    const info = (snap: Snapshot, key: string) => Number(snap.info.get(key) ?? 0);
    const g = (name: string, help: string, key: string) =>
      this.family('global', `${p}_process_${name}`, help, 'gauge', (out, snap) => out.sample(NO_LABELS, info(snap, key)));
    const c = (name: string, help: string, key: string) =>
      this.family('global', `${p}_process_${name}`, help, 'counter', (out, snap) => out.sample(NO_LABELS, info(snap, key)));
    const build = Buffer.from(`{version="${labelValue(version)}"}`);
    this.family('global', `${p}_process_build_info`, 'Build info.', 'gauge', (out) => out.sample(build, 1));
    g('nbthread', 'Number of started workers (HAProxy threads).', 'Nbthread');
    g('nbproc', 'Number of processes.', 'Nbproc');
    g('relative_process_id', 'Relative process id.', 'Process_num');
    g('uptime_seconds', 'How long ago this process was started (seconds).', 'Uptime_sec');
    g('start_time_seconds', 'Start time in seconds.', 'Start_time_sec');
    g('max_connections', 'Maximum number of concurrent connections.', 'Maxconn');
    g('hard_max_connections', 'Initial maximum number of concurrent connections.', 'Hard_maxconn');
    g('current_connections', 'Number of active sessions.', 'CurrConns');
    c('connections_total', 'Total number of created sessions.', 'CumConns');
    c('requests_total', 'Total number of requests (TCP or HTTP).', 'CumReq');
    g('current_connection_rate', 'Current number of connections per second over last elapsed second.', 'ConnRate');
    g('max_connection_rate', 'Maximum observed number of connections per second.', 'MaxConnRate');
    g('current_session_rate', 'Current number of sessions per second over last elapsed second.', 'SessRate');
    g('max_session_rate', 'Maximum observed number of sessions per second.', 'MaxSessRate');
    // HAProxy's promex types these per-second rates as counters (its "historically" list).
    c('http_comp_bytes_in_total', 'Number of bytes submitted to the HTTP compressor in this worker process over the last second.', 'CompressBpsIn');
    c('http_comp_bytes_out_total', 'Number of bytes emitted by the HTTP compressor in this worker process over the last second.', 'CompressBpsOut');
    g('limit_http_comp', 'Limit of CompressBpsOut beyond which HTTP compression is automatically disabled.', 'CompressBpsRateLim');
    g('current_tasks', 'Number of tasks.', 'Tasks');
    g('idle_time_percent', 'Idle to total ratio over last sample (percent).', 'Idle_pct');
    g('stopping', 'Non zero means stopping in progress.', 'Stopping');
    g('jobs', 'Number of active jobs (listeners, sessions, open devices).', 'Jobs');
    g('listeners', 'Number of active listeners.', 'Listeners');
    g('active_peers', 'Number of active peers.', 'ActivePeers');
    g('connected_peers', 'Number of connected peers.', 'ConnectedPeers');
    c('bytes_out_total', 'Total number of bytes emitted.', 'TotalBytesOut');
  }

  /** promex's sticktable scope: each table's capacity and entries, labelled by name and type. */
  private defineStickTables(p: string): void {
    const each = (out: Exposition, value: (t: StickTableView) => number) => {
      for (const t of this.tables()) out.sample(Buffer.from(`{name="${labelValue(t.def.name)}",type="${t.def.type}"}`), value(t));
    };
    this.family('sticktable', `${p}_sticktable_size`, 'Stick table size.', 'gauge', (out) => each(out, (t) => t.def.size));
    this.family('sticktable', `${p}_sticktable_used`, 'Number of entries used in this stick table.', 'gauge', (out) => each(out, (t) => t.size));
  }

  private defineProxyScope(p: string, scope: 'frontend' | 'backend' | 'server'): void {
    const type = ROW_TYPE[scope];
    const byName = new Map(PROXY_FAMILIES.map((f) => [f.name, f]));

    const states = scope === 'server' ? SERVER_STATES : ['DOWN', 'UP'];
    const stateLabels = extraLabels('state', states);
    const statusCol = STAT_INDEX.get('status')!;
    this.family(scope, `${p}_${scope}_status`, `Current status of the ${scope}.`, 'gauge', (out, snap) => {
      const { rows, open } = snap.byType[type];
      for (let i = 0; i < rows.length; i++) {
        const current = statusState(String(rows[i].cells[statusCol] ?? ''));
        for (let k = 0; k < states.length; k++) out.sample(open[i], states[k] === current ? 1 : 0, stateLabels[k]);
      }
    });
    for (const name of SCOPE_FAMILIES[scope]) {
      const f = byName.get(name)!;
      const col = STAT_INDEX.get(f.column)!;
      // Counters cannot be NaN: an unchecked server simply has no check_failures_total sample.
      const nan = f.nan && !f.counter;
      const scale = f.ms ? 1000 : 1;
      this.family(scope, `${p}_${scope}_${f.name}`, f.help, f.counter ? 'counter' : 'gauge', (out, snap) => {
        const { rows, closed } = snap.byType[type];
        for (let i = 0; i < rows.length; i++) {
          const v = rows[i].cells[col];
          if (v === undefined || v === '') {
            if (nan) out.sample(closed[i], NaN);
            continue;
          }
          out.sample(closed[i], scale === 1 ? Number(v) : Number(v) / scale);
        }
      });
    }
    if (scope !== 'frontend') this.defineTimeFamilies(p, scope);
    if (scope === 'server') {
      const checkLabels = extraLabels('state', CHECK_STATES);
      const checkCol = STAT_INDEX.get('check_status')!;
      this.family(scope, `${p}_server_check_status`, 'Status of last health check, per state label value.', 'gauge', (out, snap) => {
        const { rows, open } = snap.byType[2];
        for (let i = 0; i < rows.length; i++) {
          const cs = rows[i].cells[checkCol];
          if (cs === undefined) continue;
          for (let k = 0; k < CHECK_STATES.length; k++) out.sample(open[i], CHECK_STATES[k] === cs ? 1 : 0, checkLabels[k]);
        }
      });
    }
    const codeLabels = extraLabels('code', CODES.map(([code]) => code));
    const codeCols = CODES.map(([, col]) => STAT_INDEX.get(col)!);
    this.family(scope, `${p}_${scope}_http_responses_total`, 'Total number of HTTP responses.', 'counter', (out, snap) => {
      const { rows, open } = snap.byType[type];
      for (let i = 0; i < rows.length; i++) {
        for (let k = 0; k < codeCols.length; k++) out.sample(open[i], Number(rows[i].cells[codeCols[k]] ?? 0), codeLabels[k]);
      }
    });
  }

  /**
   * Transaction timers: response and total time as histograms (LATENCY_BOUNDS_MS
   * buckets, for histogram_quantile), queue and connect time as summaries; both give
   * `_sum` (seconds) and `_count` for rate(sum)/rate(count) over any window. promex has
   * only the 1024-sample averages and the maxima, which stay as their own families.
   */
  private defineTimeFamilies(p: string, scope: 'backend' | 'server'): void {
    const names: Record<Timer, string> = { qtime: 'queue', ctime: 'connect', rtime: 'response', ttime: 'total' };
    const type = ROW_TYPE[scope];
    const leLabels = extraLabels('le', [...LATENCY_BOUNDS_MS.map((ms) => formatValue(ms / 1000)), '+Inf']);
    for (const t of TIMERS) {
      const name = `${p}_${scope}_${names[t]}_time_seconds`;
      const bucketName = Buffer.from(`${name}_bucket`);
      const sumName = Buffer.from(`${name}_sum`);
      const countName = Buffer.from(`${name}_count`);
      const sumKey = `${t}Sum` as const;
      const countKey = `${t}Count` as const;
      const bucketsKey = TIMER_HISTOGRAMS[t];
      const help = `Time spent in the ${names[t]} phase of transactions (seconds).`;
      this.family(scope, name, help, bucketsKey ? 'histogram' : 'summary', (out, snap) => {
        const { rows, open, closed } = snap.byType[type];
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i];
          const o = scope === 'server' ? this.view.stats.server(r.pxname, r.svname) : this.view.stats.backends.get(r.pxname);
          if (!o) continue;
          let count = o.get(countKey);
          if (bucketsKey) {
            // Workers count each timer in one bucket; Prometheus buckets are cumulative, +Inf = _count.
            const buckets = o.buckets(bucketsKey);
            count = 0;
            for (let b = 0; b < buckets.length; b++) out.sample(open[i], (count += buckets[b]), leLabels[b], bucketName);
          }
          out.sample(closed[i], o.get(sumKey) / 1000, undefined, sumName);
          out.sample(closed[i], count, undefined, countName);
        }
      });
    }
  }

  private defineCertificates(p: string): void {
    this.family(
      'frontend',
      `${p}_frontend_certificate_expiry_timestamp_seconds`,
      'Expiry time (notAfter) of each certificate served by a frontend, as a Unix timestamp.',
      'gauge',
      (out) => {
        for (const c of this.certificates) out.sample(c.labels, c.notAfter);
      },
    );
    this.family('global', `${p}_acme_renewals_total`, 'ACME certificate orders ended (first issue and renewals), by result.', 'counter', (out) => {
      const counts = this.view.acmeRenewals;
      if (!counts || !this.view.model().global.acme) return;
      out.sample(ACME_SUCCESS, counts.success);
      out.sample(ACME_FAILURE, counts.failure);
    });
    // Stick tables with fleet-wide counters in Redis (src/stick/redis.ts).
    const redisFamily = (name: string, help: string, type: 'gauge' | 'counter', value: (s: FleetStatus) => number) =>
      this.family('global', `${p}_stick_table_redis_${name}`, help, type, (out) => {
        for (const s of this.view.stickRedis?.() ?? []) out.sample(Buffer.from(`{table="${labelValue(s.table)}"}`), value(s));
      });
    redisFamily('up', 'Whether the stick table\'s Redis store answers (0: counting on this node alone).', 'gauge', (s) => (s.state === 'up' ? 1 : 0));
    redisFamily('fallbacks_total', 'Times the stick table fell back to counting on this node alone (Redis down or slow).', 'counter', (s) => s.fallbacks);
  }
}

const ACME_SUCCESS = Buffer.from('{result="success"}');
const ACME_FAILURE = Buffer.from('{result="failure"}');

/** promex's state label for a `status` column value. */
function statusState(status: string): string {
  if (status === 'OPEN' || status === 'no check' || status.startsWith('UP')) return 'UP';
  if (status.startsWith('MAINT')) return 'MAINT';
  if (status.startsWith('DRAIN')) return 'DRAIN';
  if (status.startsWith('NOLB')) return 'NOLB';
  return 'DOWN';
}
