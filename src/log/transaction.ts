/**
 * Per-connection transaction state for access logs and timing counters.
 *
 * The data path only stores `Date.now()` numbers in these objects (one object per
 * connection, no closure or allocation per request). At the end of a transaction
 * they derive HAProxy's timers, add them to the backend/server timing counters,
 * and render a line when the frontend logs (for HTTP, its access-log module in the
 * pipeline's log phase: src/http/modules/access-log.ts).
 */
import type { Frontend, Global } from '../config/model';
import type { ConnectionInfo } from '../worker/connection';
import type { BackendRuntime, FrontendRuntime, ServerRuntime } from '../worker/runtime';
import { recordTimes } from '../worker/counters';
import type { SampleContext } from '../rules/context';
import { compileLogFormat, emptyEntry, HTTPLOG_FORMAT, NOSRV, renderJson, TCPLOG_FORMAT, type AccessLogEntry } from './access';
import { accessLogSink, type AccessLogSink } from './access-sink';

/** A frontend's compiled logging: how to render and where to write. */
export interface FrontendLog {
  render: (e: AccessLogEntry) => string;
  sink: AccessLogSink;
  dontLogNull: boolean;
  /** `option log-separate-errors`: errors go out at err severity. */
  separateErrors: boolean;
}

const frontendLogs = new WeakMap<Frontend, FrontendLog | null>();

/** The frontend's logging, compiled once per config generation; null when it logs nothing. */
export function frontendLog(fe: Frontend, global: Global): FrontendLog | null {
  let l = frontendLogs.get(fe);
  if (l !== undefined) return l;
  l = null;
  if (fe.log.enabled) {
    const http = fe.mode === 'http';
    let render: (e: AccessLogEntry) => string;
    if (fe.log.format === 'json') render = (e) => renderJson(e, http);
    else {
      const template =
        fe.log.format === 'custom' && fe.log.template
          ? fe.log.template
          : fe.log.format === 'httplog' && http
            ? HTTPLOG_FORMAT
            : TCPLOG_FORMAT;
      render = compileLogFormat(template).render;
    }
    l = {
      render,
      sink: sinkFor(global.accessLog),
      dontLogNull: fe.log.dontLogNull,
      separateErrors: fe.options.includes('log-separate-errors'),
    };
  }
  frontendLogs.set(fe, l);
  return l;
}

/**
 * The config check refuses a bad destination (accessLogDestinationError); should one
 * reach a worker anyway, it logs to stdout rather than fail every connection.
 */
function sinkFor(dest: string): AccessLogSink {
  try {
    return accessLogSink(dest);
  } catch (err) {
    process.stderr.write(`tslb: ${(err as Error).message}; access logs go to stdout\n`);
    return accessLogSink('stdout');
  }
}

/** Rendering is synchronous, so one scratch entry per process serves every line. */
const entry = emptyEntry();

function fillCommon(fe: FrontendRuntime, info: ConnectionInfo, frontends: readonly FrontendRuntime[]): void {
  entry.clientIp = info.src;
  entry.clientPort = info.srcPort;
  entry.frontendIp = info.dst;
  entry.frontendPort = info.dstPort;
  entry.frontend = fe.name;
  entry.ssl = info.ssl;
  let act = 0;
  for (let i = 0; i < frontends.length; i++) act += frontends[i].counters.sessCur;
  entry.actconn = act;
  entry.feconn = fe.counters.sessCur;
}

function fillServer(be: BackendRuntime | null, srv: ServerRuntime | null): void {
  entry.backend = be ? be.name : entry.frontend;
  entry.beconn = be ? be.counters.sessCur : 0;
  entry.server = srv ? srv.name : NOSRV;
  entry.serverIp = srv ? srv.config.address : '';
  entry.serverPort = srv ? srv.config.port : 0;
  entry.srvconn = srv ? srv.counters.sessCur : 0;
}

/** Termination state for a local answer when the caller gives none. */
function localTermination(status: number, headParsed: boolean): string {
  switch (status) {
    case 503:
      return 'SC';
    case 504:
      return 'sH';
    case 502:
      return 'SH';
    case 408:
      return headParsed ? 'cD' : 'cR';
    default:
      return 'PR';
  }
}

/**
 * The timers and outcome of HTTP requests: one per HTTP/1 client connection (or
 * HTTP/2 stream slot), reused by each request on it. The exchange sets the timestamps (0 = not reached), then
 * per request: close() records the timers and the outcome, the log phase reads
 * them (writeLog: the access-log module), and reset() readies the next request.
 */
const NO_CAPTURES: readonly string[] = [];

/** The path of a target without its query: an absolute-form target loses scheme and authority. */
function pathOf(target: string): string {
  if (target.startsWith('/')) return target;
  const scheme = target.indexOf('://');
  if (scheme < 0) return target;
  const slash = target.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : target.slice(slash);
}

export class HttpTransaction {
  /** `http-request capture` values by slot (%hr), made by the first capture of the connection. */
  private captures: string[] | null = null;

  /** Slot `slot` of the frontend's `captureSlots` request captures holds `value`. */
  capture(slot: number, value: string): void {
    if (this.captures === null) this.captures = new Array<string>(this.fe.config.captureSlots ?? slot + 1).fill('');
    this.captures[slot] = value;
  }

  /** Accept (first request) or end of the previous request: HAProxy's accept date. */
  begin: number;
  /** Handshake time (TLS, PROXY header) of the first request; 0 afterwards. */
  th: number;
  /** First byte of the request head (0 = none yet). */
  reqAt = 0;
  /** Head parsed and accepted. */
  headAt = 0;
  /** Server assigned (left the queue). */
  srvAt = 0;
  /** Server connection ready (new or pooled). */
  connAt = 0;
  /** Response head received. */
  resAt = 0;
  /** The last server tried, kept for the log after its slot is released. */
  server: ServerRuntime | null = null;
  retries = 0;
  redispatched = false;
  /** Answered from the HTTP cache: the log's server is `<CACHE>` (HAProxy's). */
  fromCache = false;
  /** Queue lengths seen when this request was queued (%sq %bq). */
  srvQueue = 0;
  backendQueue = 0;
  /** Requests logged on this connection. */
  count = 0;
  // The outcome of the closed request, for the log phase.
  /** HAProxy's 2-char termination state. */
  termination = '--';
  status = -1;
  backend: BackendRuntime | null = null;
  endAt = 0;
  tw = -1;
  tc = -1;
  tr = -1;
  private readBase = 0;
  private writeBase = 0;

  constructor(
    private readonly socket: { bytesRead: number; bytesWritten: number },
    private readonly fe: FrontendRuntime,
    private readonly info: ConnectionInfo,
    private readonly frontends: readonly FrontendRuntime[],
  ) {
    const now = Date.now();
    this.begin = info.acceptedAt;
    this.th = now - info.acceptedAt;
  }

  /**
   * A transaction is waiting for its log line: a request began, or the connection
   * has not yet had one (a connection closed without data is a "null" connection).
   */
  get open(): boolean {
    return this.reqAt !== 0 || this.count === 0;
  }

  /** Server assigned for this request (each retry or redispatch keeps the first time). */
  assigned(server: ServerRuntime): void {
    if (!this.srvAt) this.srvAt = Date.now();
    this.server = server;
  }

  /**
   * The client went away with this transaction open: HAProxy's client-abort states by
   * the stage reached (`CR` head, `CQ` queue, `CC` connect, `CH` response head, `CD`
   * data); a tunnel (`tunnel`) ends normally that way.
   */
  clientGoneState(tunnel: boolean): string {
    return tunnel ? '--' : !this.headAt ? 'CR' : !this.connAt ? (this.srvAt ? 'CC' : 'CQ') : this.resAt ? 'CD' : 'CH';
  }

  /**
   * The request is over: its timers go to the backend/server counters and its outcome
   * stays here for the log phase. `termination` is HAProxy's 2-char state, or '' to
   * derive it from a locally generated status.
   */
  close(termination: string, status: number, backend: BackendRuntime | null): void {
    const now = Date.now();
    this.endAt = now;
    this.tw = this.srvAt && this.headAt ? this.srvAt - this.headAt : -1;
    this.tc = this.connAt && this.srvAt ? this.connAt - this.srvAt : -1;
    this.tr = this.resAt && this.connAt ? this.resAt - this.connAt : -1;
    const tt = now - this.begin;
    if (backend) recordTimes(backend.counters, this.tw, this.tc, this.tr, tt);
    if (this.server) recordTimes(this.server.counters, this.tw, this.tc, this.tr, tt);
    this.termination = termination || localTermination(status, this.headAt !== 0);
    this.status = status;
    this.backend = backend;
  }

  /**
   * The closed request's access-log line; the request line and `%[fetch]` come from
   * `sample` while the parsed head is still current. Without a parsed head the
   * request line is `<BADREQ>`.
   */
  writeLog(log: FrontendLog, sample: SampleContext): void {
    const reqAt = this.reqAt;
    if (reqAt === 0 && log.dontLogNull) return;
    const now = this.endAt;
    const start = this.begin + this.th;
    fillCommon(this.fe, this.info, this.frontends);
    fillServer(this.backend, this.server);
    if (this.fromCache) entry.server = '<CACHE>';
    const e = entry;
    // The source set-src or source_from_header chose, else the peer's.
    e.clientIp = sample.src;
    e.clientPort = sample.srcPort;
    e.acceptDate = this.begin;
    e.requestDate = reqAt || start;
    e.th = this.th;
    e.ti = reqAt ? reqAt - start : now - start;
    e.tR = this.headAt && reqAt ? this.headAt - reqAt : -1;
    e.tw = this.tw;
    e.tc = this.tc;
    e.tr = this.tr;
    e.ta = reqAt ? now - reqAt : 0;
    e.tt = now - this.begin;
    e.status = this.status;
    e.bytesRead = this.bytesRead;
    e.bytesSent = this.bytesSent;
    e.termination = this.termination;
    e.retries = this.retries;
    e.redispatched = this.redispatched;
    e.srvQueue = this.srvQueue;
    e.backendQueue = this.backendQueue;
    e.sample = sample;
    e.requestHeaders = this.captures ?? (this.fe.config.captureSlots ? (this.captures = new Array<string>(this.fe.config.captureSlots).fill('')) : NO_CAPTURES);
    e.hasRequest = this.headAt !== 0;
    if (e.hasRequest) {
      // The request line as received, before any rule rewrote it (HAProxy logs that one).
      const received = sample.receivedRequestLine?.();
      const uri = received === undefined ? sample.url() : received.slice(received.indexOf(' ') + 1, received.lastIndexOf(' '));
      const q = uri.indexOf('?');
      e.method = received === undefined ? sample.method() : received.slice(0, received.indexOf(' '));
      e.uri = uri;
      e.path = q < 0 ? uri : uri.slice(0, q);
      e.pathOnly = received === undefined ? sample.path() : pathOf(e.path);
      e.query = q < 0 ? '' : uri.slice(q);
      e.version = 'HTTP/' + sample.version();
    }
    e.error = log.separateErrors && (this.status >= 500 || e.termination[0] !== '-');
    log.sink.write(log.render(e), e.error);
    e.sample = undefined;
  }

  /** Client bytes read for this request so far. */
  get bytesRead(): number {
    return this.socket.bytesRead - this.readBase;
  }

  /** Bytes sent to the client for this request so far. */
  get bytesSent(): number {
    return this.socket.bytesWritten - this.writeBase;
  }

  /** The next request on the connection starts its timers from the end of this one. */
  reset(): void {
    if (this.captures !== null) this.captures.fill('');
    this.count++;
    this.begin = this.endAt;
    this.th = 0;
    this.reqAt = 0;
    this.headAt = 0;
    this.srvAt = 0;
    this.connAt = 0;
    this.resAt = 0;
    this.server = null;
    this.retries = 0;
    this.redispatched = false;
    this.fromCache = false;
    this.srvQueue = 0;
    this.backendQueue = 0;
    this.readBase = this.socket.bytesRead;
    this.writeBase = this.socket.bytesWritten;
  }
}

/** One per TCP connection: the log line and timers of the whole connection. */
export class TcpTransaction {
  /** Server assigned / connected (0 = not reached). */
  srvAt = 0;
  connAt = 0;
  server: ServerRuntime | null = null;
  redispatched = false;
  /** First failure wins: `SC`, `CD`, `sD`…; '' = normal end. */
  termination = '';
  private readonly log: FrontendLog | null;

  constructor(
    private readonly fe: FrontendRuntime,
    private readonly info: ConnectionInfo,
    private readonly frontends: readonly FrontendRuntime[],
    global: Global,
  ) {
    fe.counters.connTotal++;
    this.log = frontendLog(fe.config, global);
  }

  assigned(server: ServerRuntime): void {
    if (!this.srvAt) this.srvAt = Date.now();
    this.server = server;
  }

  fail(termination: string): void {
    if (!this.termination) this.termination = termination;
  }

  /** Both sides closed. `client` gives the byte counts; `failures` the failed connection attempts. */
  end(backend: BackendRuntime, client: { bytesRead: number; bytesWritten: number }, failures: number): void {
    const now = Date.now();
    const start = this.info.acceptedAt;
    const tt = now - start;
    const tw = this.srvAt ? this.srvAt - start : -1;
    const tc = this.connAt && this.srvAt ? this.connAt - this.srvAt : -1;
    const server = this.server;
    recordTimes(backend.counters, tw, tc, -1, tt);
    if (server) recordTimes(server.counters, tw, tc, -1, tt);
    const log = this.log;
    if (!log || (log.dontLogNull && client.bytesRead === 0)) return;
    fillCommon(this.fe, this.info, this.frontends);
    fillServer(backend, server);
    const e = entry;
    e.acceptDate = start;
    e.requestDate = start;
    e.th = 0;
    e.ti = 0;
    e.tR = -1;
    e.tw = tw;
    e.tc = tc;
    e.tr = -1;
    e.ta = tt;
    e.tt = tt;
    e.status = -1;
    e.bytesRead = client.bytesRead;
    e.bytesSent = client.bytesWritten;
    e.termination = this.termination || '--';
    e.retries = Math.min(failures, backend.config.retries);
    e.redispatched = this.redispatched;
    e.srvQueue = 0;
    e.backendQueue = 0;
    e.hasRequest = false;
    e.sample = undefined;
    e.error = log.separateErrors && e.termination[0] !== '-';
    log.sink.write(log.render(e), e.error);
  }
}
