/**
 * The L7 proxy session: one per client connection, on raw sockets.
 *
 * Per request: the head is parsed in place (HeadParser), copied once into a new
 * Buffer with hop-by-hop headers removed and X-Forwarded-* added, and written to
 * a pooled (LIFO, keep-alive) or new server connection together with the body
 * bytes that came with it. The response head is rewritten in place and sent with
 * the body bytes of the same read in one write. Bodies are forwarded as received,
 * framed by BodyFramer (Content-Length counting or chunked scanning), with
 * backpressure both ways. Pipelined requests are served one at a time, in order.
 *
 * Decisions (documented differences from HAProxy):
 * - `Transfer-Encoding` with a coding other than `chunked` before it: 501 (HAProxy 422).
 * - An absolute-form target's authority must equal Host, ASCII case and the scheme's
 *   default port aside, else 400; userinfo in it is refused (HAProxy strips it).
 * - A chunk-size line over 4 KiB: 400 or 502 (HAProxy: when it does not fit its buffer).
 * - `Expect: 100-continue` is forwarded and the server's `100 Continue` relayed.
 * - CONNECT is answered 501: tslb is a reverse proxy.
 * - Client-sent X-Forwarded-Proto/-Host are replaced when tslb adds its own.
 * - A deny or redirect on a request with an unread body closes the connection.
 * Timeouts use the coarse worker clock and one sweep timer for all sessions.
 */
import type * as net from 'node:net';
import type { HttpAction } from '../../config/model';
import type { BackendRuntime, FrontendRuntime, QueueEntry, ServerRuntime, SlotWaiter } from '../runtime';
import type { ConnectionInfo, WorkerContext } from '../connection';
import { connectUpstream, type UpstreamWaiter } from '../upstream';
import { countStatus, sessionOpened } from '../counters';
import { H_X_FORWARDED_HOST, H_X_FORWARDED_PROTO } from '../../http1/parser';
import { BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE } from '../../http1/body';
import { buildHead, rewriteHeadInPlace } from '../../http1/rewrite';
import { errorResponse, isDefaultResponse, redirectResponse } from '../../http1/errors';
import { parkIdle, sweepIdle, takeIdle, Upstream, type UpstreamOwner } from './pool';
import { forwardForExcepted, type CompiledRule } from './rules';
import { releaseExchange, takeExchange, type Exchange } from './exchange';
import { HttpTransaction } from '../../log/transaction';
import { requestCookie, responseCookie, type CookieRequest } from './persistence';
import { dropSession, holdSession, observe, observeResponseFailure, observeStatus, OBS_L4_ERR, OBS_L4_OK, OBS_READ_TIMEOUT, type ServerSession } from '../passive-health';
import { captureInvalid } from '../error-capture';
import type { LiveSession } from '../queries';
import { forward, isShared, readThrough } from '../socket-io';
import { deadlineAfter } from '../deadline';

const ST_IDLE = 0; // between requests (keep-alive)
const ST_HEAD = 1; // reading a request head
const ST_CONNECT = 2; // head accepted, getting a server connection
const ST_EXCHANGE = 3; // request/response in flight
const ST_TUNNEL = 4; // after 101 Switching Protocols
const ST_CLOSED = 5;

/** Largest response head accepted from a server. */
const MAX_RESPONSE_HEAD = 65536;
/** HAProxy's tune.bufsize - tune.maxrewrite, when the model gives none. */
const DEFAULT_MAX_HEAD = 15360;
const TICK_MS = 250;

const sessions = new Set<HttpSession>();
let ticker: NodeJS.Timeout | undefined;

function tick(): void {
  const now = Date.now();
  for (const s of sessions) s.checkTimeouts(now);
  sweepIdle(now);
}

export function handleHttpConnection(socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext): void {
  if (!ticker) {
    ticker = setInterval(tick, TICK_MS);
    ticker.unref();
  }
  // The response must still go out after a client half-closes (HAProxy answers, then closes).
  socket.allowHalfOpen = true;
  new HttpSession(socket, fe, info, worker);
}

class HttpSession implements UpstreamOwner, UpstreamWaiter, SlotWaiter, ServerSession {
  private state = ST_HEAD;
  /** Client bytes received but not yet consumed (partial head, pipelined requests). */
  private pending: Buffer | null = null;
  /** Parsers, framers and sample context of the request in progress; null while idle. */
  private ex: Exchange | null = null;
  private readonly maxHead: number;
  /** Timestamps and the access-log line of the current request. */
  private readonly tx: HttpTransaction;

  private backend: BackendRuntime | null = null;
  private server: ServerRuntime | null = null;
  private up: Upstream | null = null;
  /** Rewritten request head, kept until the server answers (retry on a stale pooled connection). */
  private reqHead: Buffer | null = null;
  /** Request body bytes received before the server connection was ready. */
  private reqRest: Buffer | null = null;
  private attempts = 0;
  private retryServer: ServerRuntime | undefined;
  private avoid: ServerRuntime | undefined;
  // Queueing and persistence (src/worker/runtime.ts, ./persistence.ts, ../stick.ts).
  queueEntry: QueueEntry | null = null;
  private awaitingSlot = false;
  /** The server persistence names for this request (cookie or stick table). */
  private forced: ServerRuntime | undefined;
  private stickKey: string | undefined;
  private cookieReq: CookieRequest | undefined;

  private clientKeepAlive = true;
  private closeAfter = false;
  private isHead = false;
  private isUpgrade = false;
  private reqDone = false;
  private resInHead = true;
  private resStarted = false;
  private resPending: Buffer | null = null;
  private serverKeepAlive = false;
  private clientEnded = false;
  private cliDeadline = 0;
  private srvDeadline = 0;
  /** Client bytes in and out, for the log (direct writes bypass the socket's counters). */
  bytesRead = 0;
  bytesWritten = 0;

  constructor(
    private readonly sock: net.Socket,
    private readonly fe: FrontendRuntime,
    private readonly info: ConnectionInfo,
    private readonly worker: WorkerContext,
  ) {
    this.tx = new HttpTransaction(this, fe, info, worker.runtime.frontends, worker.runtime.model.global);
    this.maxHead = fe.config.maxHeaderBytes || DEFAULT_MAX_HEAD;
    (sock as SessionSocket).httpSession = this;
    readThrough(sock, onSocketChunk);
    sock.on('drain', onSocketDrain);
    sock.on('end', onSocketEnd);
    sock.on('error', noop);
    sock.on('close', onSocketClose);
    sessionOpened(fe.counters);
    sessions.add(this);
    this.cliDeadline = deadlineAfter(info.acceptedAt, fe.config.timeouts.httpRequest);
  }

  // The exchange's parts; only used while a request is in progress (`this.ex` set).
  private get req() {
    return this.ex!.req;
  }
  private get res() {
    return this.ex!.res;
  }
  private get reqBody() {
    return this.ex!.reqBody;
  }
  private get resBody() {
    return this.ex!.resBody;
  }
  private get ctx() {
    return this.ex!.ctx;
  }
  private get key() {
    return this.ex!.key;
  }

  /** The exchange, taken from the pool if the session has none (a request starts, or a local answer is logged). */
  private exchange(): Exchange {
    if (this.ex) return this.ex;
    const ex = takeExchange(this.info, this.fe.name);
    this.ex = ex;
    this.tx.sample = ex.ctx;
    return ex;
  }

  private dropExchange(): void {
    const ex = this.ex;
    if (!ex) return;
    this.ex = null;
    this.tx.sample = undefined;
    releaseExchange(ex);
  }

  // ------------------------------------------------------------ client side
  // The four client handlers run from the shared socket listeners (onSocketChunk etc.).
  /** Client bytes `chunk[0..end)`; `chunk` may be the shared read buffer: `unshare()` runs after this. */
  onClientData(chunk: Buffer, end: number): void {
    this.bytesRead += end;
    this.fe.counters.bytesIn += end;
    if (this.state === ST_IDLE) {
      this.state = ST_HEAD;
      this.cliDeadline = deadlineAfter(this.worker.now(), this.fe.config.timeouts.httpRequest);
    }
    switch (this.state) {
      case ST_HEAD:
        this.exchange();
        if (this.pending) {
          const all = Buffer.concat([this.pending, chunk.subarray(0, end)]);
          this.processHead(all, all.length);
        } else this.processHead(chunk, end);
        return;
      case ST_CONNECT:
      case ST_EXCHANGE:
        this.onRequestBody(chunk, end);
        return;
      case ST_TUNNEL:
        this.cliDeadline = deadlineAfter(this.worker.now(), this.tunnelTimeout());
        if (!forward(this.up!.socket, chunk, 0, end)) this.sock.pause();
        this.countToServer(end);
        return;
    }
  }

  onClientDrain(): void {
    const up = this.up;
    if (!up) return;
    if (this.state === ST_EXCHANGE && !this.resBody.done) {
      this.srvDeadline = deadlineAfter(this.worker.now(), this.backend!.config.timeouts.server);
      this.cliDeadline = this.reqDone ? 0 : deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
      up.socket.resume();
    } else if (this.state === ST_TUNNEL) up.socket.resume();
  }

  onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === ST_IDLE || this.state === ST_HEAD) this.closeClient();
    else if (this.state === ST_TUNNEL) this.up?.socket.end();
    else if (!this.reqDone) {
      // The request can never complete: abort both sides rather than leave half of it on the server.
      this.fe.counters.cliAborts++;
      if (this.backend) this.backend.counters.cliAborts++;
      if (this.server) this.server.counters.cliAborts++;
      this.abortBoth('CD');
    } else this.closeAfter = true;
  }

  onClientClose(): void {
    const wasActive = this.state === ST_CONNECT || this.state === ST_EXCHANGE;
    if (this.tx.open) this.tx.clientGone(this.backend, this.exchange().res.status, this.state === ST_TUNNEL);
    this.state = ST_CLOSED;
    sessions.delete(this);
    this.fe.counters.sessCur--;
    if (wasActive) {
      this.fe.counters.cliAborts++;
      if (this.backend) this.backend.counters.cliAborts++;
      if (this.server) this.server.counters.cliAborts++;
    }
    this.dropUpstream();
    this.releaseServer();
    this.pending = null;
    this.reqRest = null;
    this.dropExchange();
  }

  /** Client input `buf[0..end)` starts a request head; an incomplete one is kept in `pending`. */
  private processHead(buf: Buffer, end: number): void {
    if (this.tx.reqAt === 0) this.tx.reqAt = Date.now();
    this.pending = null;
    const n = this.req.parse(buf, 0, end);
    if (n === 0) {
      this.pending = buf.subarray(0, end);
      if (end > this.maxHead) this.reject(431, this.pending, 'request head too large');
      return;
    }
    if (n < 0) return this.reject(this.req.errorStatus, buf.subarray(0, end), this.req.errorReason);
    if (n > this.maxHead) return this.reject(431, buf.subarray(0, end), 'request head too large');
    this.startRequest(buf, n, end);
  }

  /** The pipelined input kept while the previous exchange ran. */
  private processPending(): void {
    const p = this.pending!;
    this.processHead(p, p.length);
  }

  /** Answer an error and close; `invalid` is the refused message (kept for `show errors`). */
  private reject(status: number, invalid?: Buffer, reason = ''): void {
    this.fe.counters.errReq++;
    // Requests are refused before routing: no backend yet.
    if (invalid) captureInvalid('request', invalid, reason, this.fe.name, undefined, undefined, this.info);
    this.sendLocal(status, true);
  }

  /** What `show sess` prints (src/worker/queries.ts). */
  describe(): LiveSession {
    return { conn: this.sock, info: this.info, frontend: this.fe.name, backend: this.backend?.name, server: this.server?.name };
  }

  private startRequest(buf: Buffer, headEnd: number, end: number): void {
    const req = this.req;
    const fe = this.fe;
    this.tx.headAt = Date.now();
    fe.counters.reqTotal++;
    const mlen = req.methodEnd - req.start;
    this.isHead = mlen === 4 && buf[req.start] === 72 && buf.toString('latin1', req.start, req.methodEnd) === 'HEAD';
    if (mlen === 7 && buf.toString('latin1', req.start, req.methodEnd) === 'CONNECT') return this.sendLocal(501, true);
    this.clientKeepAlive = req.versionMinor === 1 ? !req.connClose : req.connKeepAlive;
    this.closeAfter = this.clientEnded;
    this.isUpgrade = req.versionMinor === 1 && req.hasUpgrade && req.connUpgrade;
    this.backend = null;
    this.server = null;
    this.reqRest = null;
    this.reqBody.reset(req.chunked ? BODY_CHUNKED : req.contentLength > 0 ? BODY_LENGTH : BODY_NONE, req.contentLength);
    if (headEnd < end) {
      // Validate the body bytes that came with the head before anything is forwarded.
      const consumed = this.reqBody.feed(buf, headEnd, end);
      if (consumed < 0) return this.reject(400, buf.subarray(0, end), 'invalid request body framing');
      if (this.reqBody.keptEnd > headEnd) this.reqRest = buf.subarray(headEnd, this.reqBody.keptEnd);
      if (consumed < end) this.pending = buf.subarray(consumed, end);
    }
    this.reqDone = this.reqBody.done;
    this.ctx.stage = 'request';

    let extras = '';
    const feRules = fe.httpRules.request;
    if (feRules.length) {
      const r = this.applyRules(feRules, false);
      if (r === null) return;
      extras += r;
    }
    const backend = fe.route(this.ctx);
    if (!backend) return this.sendLocal(503, !this.reqDone);
    this.backend = backend;
    const beRules = backend.httpRules.request;
    if (beRules.length) {
      const r = this.applyRules(beRules, false);
      if (r === null) return;
      extras += r;
    }
    extras += this.forwardedHeaders(backend);
    extras += this.persistence(backend);
    if (this.isUpgrade) extras += 'Connection: upgrade\r\n';
    else if (req.versionMinor === 0) extras += 'Connection: keep-alive\r\n';
    this.reqHead = buildHead(req, extras);
    // Body bytes wait in the socket until the server connection is ready; a bodyless
    // request needs no pause (more bytes are the next request and pause then).
    if (!this.reqDone) this.sock.pause();
    this.state = ST_CONNECT;
    this.cliDeadline = 0;
    this.attempts = 0;
    this.retryServer = undefined;
    this.avoid = undefined;
    this.connect();
  }

  /**
   * http-request (or http-response) rules: the header lines they add, or null when a
   * rule answered itself (deny, redirect).
   */
  private applyRules(rules: CompiledRule[], response: boolean): string | null {
    const head = response ? this.res : this.req;
    let extras = '';
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (r.test && !r.test(this.ctx)) continue;
      const a = r.act;
      switch (a.action) {
        case 'deny':
          if (response) {
            this.fe.counters.deniedResp++;
            this.backend!.counters.deniedResp++;
            this.dropUpstream();
            // HAProxy answers a denied response with 502, whatever the rule's status.
            this.sendLocal(502, true, 'PH');
          } else {
            this.fe.counters.deniedReq++;
            if (this.backend) this.backend.counters.deniedReq++;
            this.sendLocal(a.status, true, 'PR');
          }
          return null;
        case 'redirect-scheme':
        case 'redirect-location':
        case 'redirect-prefix': {
          const location = this.redirectLocation(a);
          if (location === undefined) continue;
          if (response) this.dropUpstream();
          this.sendRedirect(a.code, location);
          return null;
        }
        case 'set-header':
          head.dropNamed(r.name);
          extras += `${a.name}: ${typeof r.value === 'string' ? r.value : r.value(this.ctx)}\r\n`;
          break;
        case 'add-header':
          extras += `${a.name}: ${typeof r.value === 'string' ? r.value : r.value(this.ctx)}\r\n`;
          break;
        case 'del-header':
          head.dropNamed(r.name);
          break;
      }
    }
    return extras;
  }

  /** Where a redirect rule sends the client; undefined for a scheme redirect without Host. */
  private redirectLocation(a: Extract<HttpAction, { action: 'redirect-scheme' | 'redirect-location' | 'redirect-prefix' }>): string | undefined {
    if (a.action === 'redirect-location') return a.location;
    if (a.action === 'redirect-prefix') return a.prefix.replace(/\/$/, '') + this.ctx.pathAndQuery();
    const host = this.req.host >= 0 ? stripPort(this.req.value(this.req.host)) : '';
    return host ? `${a.scheme}://${host}${this.ctx.pathAndQuery()}` : undefined;
  }

  /** The server a persistence cookie or stick-table entry names; returns Cookie lines to forward. */
  private persistence(backend: BackendRuntime): string {
    this.forced = undefined;
    this.stickKey = undefined;
    this.cookieReq = undefined;
    let extras = '';
    if (backend.config.cookie) {
      this.cookieReq = requestCookie(backend, this.req);
      this.forced = this.cookieReq.server;
      extras = this.cookieReq.extras;
    }
    const stick = backend.stick;
    if (stick) {
      this.stickKey = stick.key(this.ctx);
      if (!this.forced && this.stickKey !== undefined) {
        const s = stick.lookup(this.stickKey);
        if (s && s.persistable) this.forced = s;
      }
    }
    return extras;
  }

  /** X-Forwarded-For (option forwardfor), X-Forwarded-Proto, X-Forwarded-Host. */
  private forwardedHeaders(backend: BackendRuntime): string {
    const req = this.req;
    const fe = this.fe.config;
    let extras = '';
    const ff = backend.config.forwardFor ?? fe.forwardFor;
    if (ff && !(ff.ifNone && req.find(ff.header.toLowerCase()) >= 0) && !forwardForExcepted(ff, this.info.src)) {
      extras += `${ff.header}: ${this.info.src}\r\n`;
    }
    if (fe.forwardedProto || fe.forwardedHost) {
      for (let n = 0; n < req.count; n++) {
        const k = req.kind[n];
        if ((k === H_X_FORWARDED_PROTO && fe.forwardedProto) || (k === H_X_FORWARDED_HOST && fe.forwardedHost)) {
          if (!req.drop[n]) {
            req.drop[n] = 1;
            req.dropCount++;
          }
        }
      }
      if (fe.forwardedProto) extras += this.info.ssl ? 'X-Forwarded-Proto: https\r\n' : 'X-Forwarded-Proto: http\r\n';
      if (fe.forwardedHost && req.host >= 0) extras += `X-Forwarded-Host: ${req.value(req.host)}\r\n`;
    }
    return extras;
  }

  private onRequestBody(chunk: Buffer, end: number): void {
    if (this.reqDone) {
      // The next pipelined request: keep it until this exchange is over.
      this.pending = this.pending ? Buffer.concat([this.pending, chunk.subarray(0, end)]) : chunk.subarray(0, end);
      this.sock.pause();
      return;
    }
    const consumed = this.reqBody.feed(chunk, 0, end);
    if (consumed < 0) {
      this.fe.counters.errReq++;
      if (this.resStarted) return this.abortBoth('PD');
      this.dropUpstream();
      return this.sendLocal(400, true, 'PD');
    }
    if (consumed < end) {
      this.pending = chunk.subarray(consumed, end);
      this.sock.pause();
    }
    this.reqDone = this.reqBody.done;
    const kept = this.reqBody.keptEnd;
    const now = this.worker.now();
    if (this.up) {
      this.countToServer(kept);
      if (!forward(this.up.socket, chunk, 0, kept)) this.sock.pause();
      if (this.reqDone) {
        this.cliDeadline = 0;
        if (!this.resStarted) this.srvDeadline = deadlineAfter(now, this.backend!.config.timeouts.server);
      } else this.cliDeadline = deadlineAfter(now, this.fe.config.timeouts.client);
    } else {
      const part = chunk.subarray(0, kept);
      this.reqRest = this.reqRest ? Buffer.concat([this.reqRest, part]) : part;
    }
  }

  // ------------------------------------------------------------ server side
  private connect(): void {
    const backend = this.backend!;
    // A retry on the same server kept its slot.
    if (this.retryServer) return this.useServer(this.retryServer);
    const server = backend.acquire(this.key, this.avoid, this.avoid ? undefined : this.forced, this);
    if (server === null) {
      this.awaitingSlot = true;
      // Requests ahead of this one, for the log's %sq/%bq.
      this.tx.srvQueue = this.queueEntry ? this.queueEntry.server.queued - 1 : 0;
      this.tx.backendQueue = backend.queued - 1;
      return;
    }
    if (!server) return this.sendLocal(503, !this.reqDone);
    this.useServer(server);
  }

  slotGranted(server: ServerRuntime): void {
    if (!this.awaitingSlot) {
      // The request went away while the grant was on its way.
      server.backend.release(server);
      return;
    }
    this.awaitingSlot = false;
    this.useServer(server);
  }

  queueTimedOut(): void {
    this.awaitingSlot = false;
    this.sendLocal(503, !this.reqDone, 'sQ');
  }

  /** The slot on `server` is held: count it, remember it for stick-on, connect. */
  private useServer(server: ServerRuntime): void {
    const backend = this.backend!;
    this.server = server;
    holdSession(server, this);
    this.tx.assigned(server);
    if (this.stickKey !== undefined) backend.stick!.store(this.stickKey, server);
    backend.counters.lbTotal++;
    server.counters.lbTotal++;
    sessionOpened(backend.counters);
    sessionOpened(server.counters);
    const up = takeIdle(server, this.worker.now());
    if (up) return this.attach(up);
    connectUpstream(server, this.info, backend.config.timeouts.connect, this);
  }

  upstreamConnected(err: Error | null, socket?: net.Socket): void {
    if (this.state !== ST_CONNECT) {
      socket?.destroy();
      return;
    }
    if (err || !socket) return this.connectFailed();
    observe(this.server!, OBS_L4_OK);
    this.attach(new Upstream(socket, this.server!));
  }

  /** HAProxy's retries: same server again, the last retry on another one with `option redispatch`. */
  private connectFailed(): void {
    const backend = this.backend!;
    const server = this.server!;
    backend.counters.errConn++;
    server.counters.errConn++;
    observe(server, OBS_L4_ERR);
    const retries = backend.config.retries;
    const redispatch = backend.config.redispatch && this.attempts + 1 === retries;
    // A retry on the same server keeps its slot (a waiter must not take it meanwhile).
    this.releaseServer(this.attempts < retries && !redispatch);
    if (this.attempts++ >= retries) return this.sendLocal(503, !this.reqDone);
    backend.counters.retries++;
    server.counters.retries++;
    this.tx.retries++;
    if (redispatch) {
      this.tx.redispatched = true;
      backend.counters.redispatches++;
      server.counters.redispatches++;
      this.retryServer = undefined;
      this.avoid = server;
    } else this.retryServer = server;
    this.connect();
  }

  private attach(up: Upstream): void {
    up.owner = this;
    up.uses++;
    this.up = up;
    this.tx.connAt = Date.now();
    this.state = ST_EXCHANGE;
    this.resInHead = true;
    this.resStarted = false;
    this.resPending = null;
    const now = this.worker.now();
    const s = up.socket;
    let ok: boolean;
    const head = this.reqHead!;
    const rest = this.reqRest;
    this.reqRest = null;
    ok = forward(s, head, 0, head.length);
    this.countToServer(head.length);
    if (rest) {
      ok = forward(s, rest, 0, rest.length);
      this.countToServer(rest.length);
    }
    if (this.reqDone) {
      this.cliDeadline = 0;
      this.srvDeadline = deadlineAfter(now, this.backend!.config.timeouts.server);
    } else {
      this.srvDeadline = 0;
      this.cliDeadline = deadlineAfter(now, this.fe.config.timeouts.client);
      if (ok) this.sock.resume();
    }
  }

  onUpstreamDrain(): void {
    if ((this.state === ST_EXCHANGE && !this.reqDone) || this.state === ST_TUNNEL) this.sock.resume();
  }

  onUpstreamData(buf: Buffer, end: number): void {
    this.onResponseData(buf, end);
    this.unshare();
  }

  /**
   * After a chunk of the shared read buffer was handled: copy what the session keeps of
   * it (partial or pipelined input, parsed heads still in use), since the next read of any
   * socket overwrites it.
   */
  unshare(): void {
    if (this.pending && isShared(this.pending)) this.pending = Buffer.from(this.pending);
    if (this.reqRest && isShared(this.reqRest)) this.reqRest = Buffer.from(this.reqRest);
    if (this.resPending && isShared(this.resPending)) this.resPending = Buffer.from(this.resPending);
    const ex = this.ex;
    if (!ex) return;
    if (isShared(ex.req.buf)) ex.req.own();
    if (isShared(ex.res.buf)) ex.res.own();
  }

  /** Server bytes `chunk[0..end)`. */
  private onResponseData(chunk: Buffer, end: number): void {
    const backend = this.backend!;
    backend.counters.bytesOut += end;
    this.server!.counters.bytesOut += end;
    if (this.state === ST_TUNNEL) {
      this.cliDeadline = deadlineAfter(this.worker.now(), this.tunnelTimeout());
      this.writeClient(chunk, 0, end);
      return;
    }
    if (this.state !== ST_EXCHANGE) return;
    this.reqHead = null;
    if (this.srvDeadline) this.srvDeadline = deadlineAfter(this.worker.now(), backend.config.timeouts.server);
    if (this.resInHead) return this.onResponseHeadData(chunk, end);
    const consumed = this.resBody.feed(chunk, 0, end);
    if (consumed < 0) return this.serverFailed();
    this.writeClient(chunk, 0, this.resBody.keptEnd);
    if (this.resBody.done) {
      if (consumed < end) this.serverKeepAlive = false;
      this.finishExchange();
    }
  }

  private onResponseHeadData(chunk: Buffer, chunkEnd: number): void {
    let buf = chunk;
    let end = chunkEnd;
    if (this.resPending) {
      buf = Buffer.concat([this.resPending, chunk.subarray(0, chunkEnd)]);
      end = buf.length;
      this.resPending = null;
    }
    let off = 0;
    for (;;) {
      const n = this.res.parse(buf, off, end);
      // The limit holds wherever the head ends: in this read, or in a later one that completed it.
      if ((n === 0 ? end : n) - off > MAX_RESPONSE_HEAD) return this.serverFailed(buf.subarray(off, end), 'response head too large');
      if (n === 0) {
        this.resPending = buf.subarray(off, end);
        return;
      }
      if (n < 0) return this.serverFailed(buf.subarray(off, end), this.res.errorReason);
      const status = this.res.status;
      if (status >= 200) return this.onResponseHead(buf, n, end);
      if (status === 101) {
        if (!this.isUpgrade) return this.serverFailed();
        return this.startTunnel(buf, n, end);
      }
      // Interim response (100 Continue, 103 Early Hints): relayed to HTTP/1.1 clients only.
      if (this.req.versionMinor === 1) {
        const start = rewriteHeadInPlace(this.res, '');
        if (start >= 0) this.writeClient(buf, start, n);
        else {
          const head = buildHead(this.res, '');
          this.writeClient(head, 0, head.length);
        }
      }
      if (n === end) return;
      off = n;
    }
  }

  /** The response head is `buf[..headEnd)`, body bytes of the same read follow up to `end`. */
  private onResponseHead(buf: Buffer, headEnd: number, end: number): void {
    const res = this.res;
    const status = res.status;
    const backend = this.backend!;
    this.tx.resAt = Date.now();
    observeStatus(this.server!, status);
    const mode =
      this.isHead || status === 204 || status === 304
        ? BODY_NONE
        : res.chunked
          ? BODY_CHUNKED
          : res.teNotChunked || res.contentLength < 0
            ? BODY_CLOSE
            : BODY_LENGTH;
    this.resBody.reset(mode, res.contentLength);
    this.serverKeepAlive = mode !== BODY_CLOSE && (res.versionMinor === 1 ? !res.connClose : res.connKeepAlive);
    let extras = '';
    const beRules = backend.httpRules.response;
    const feRules = this.fe.httpRules.response;
    if (beRules.length || feRules.length) {
      this.ctx.stage = 'response';
      const a = this.applyRules(beRules, true);
      const b = a === null ? null : this.applyRules(feRules, true);
      if (a === null || b === null) return;
      extras = a + b;
    }
    if (backend.config.cookie) extras += responseCookie(backend.config.cookie, this.server!, this.cookieReq!, res);
    this.closeAfter =
      this.closeAfter || !this.clientKeepAlive || this.worker.draining || mode === BODY_CLOSE || !this.reqDone;
    if (this.closeAfter) extras += 'Connection: close\r\n';
    else if (this.req.versionMinor === 0) extras += 'Connection: keep-alive\r\n';
    const consumed = this.resBody.feed(buf, headEnd, end);
    if (consumed < 0) return this.serverFailed();
    countStatus(this.fe.counters, status);
    countStatus(backend.counters, status);
    countStatus(this.server!.counters, status);
    this.resInHead = false;
    this.resStarted = true;
    const kept = this.resBody.keptEnd;
    const start = rewriteHeadInPlace(res, extras);
    if (start >= 0) this.writeClient(buf, start, kept);
    else {
      this.sock.cork();
      const head = buildHead(res, extras);
      this.writeClient(head, 0, head.length);
      if (kept > headEnd) this.writeClient(buf, headEnd, kept);
      this.sock.uncork();
    }
    if (this.resBody.done) {
      if (consumed < end) this.serverKeepAlive = false;
      this.finishExchange();
    }
  }


  private startTunnel(buf: Buffer, headEnd: number, end: number): void {
    countStatus(this.fe.counters, 101);
    countStatus(this.backend!.counters, 101);
    countStatus(this.server!.counters, 101);
    observeStatus(this.server!, 101);
    this.tx.resAt = Date.now();
    this.state = ST_TUNNEL;
    this.srvDeadline = 0;
    this.cliDeadline = deadlineAfter(this.worker.now(), this.tunnelTimeout());
    const start = rewriteHeadInPlace(this.res, 'Connection: upgrade\r\n');
    if (start >= 0) this.writeClient(buf, start, end);
    else {
      const head = Buffer.concat([buildHead(this.res, 'Connection: upgrade\r\n'), buf.subarray(headEnd, end)]);
      this.writeClient(head, 0, head.length);
    }
    const early = this.pending;
    this.pending = null;
    if (early) {
      this.countToServer(early.length);
      forward(this.up!.socket, early, 0, early.length);
    }
    if (this.clientEnded) this.up!.socket.end();
    else this.sock.resume();
  }

  private tunnelTimeout(): number {
    const b = this.backend!.config.timeouts;
    return b.tunnel || b.server;
  }

  onUpstreamEnd(): void {
    if (this.state === ST_TUNNEL) {
      this.sock.end();
      return;
    }
    if (this.state === ST_EXCHANGE && this.resStarted && this.resBody.mode === BODY_CLOSE) {
      this.serverKeepAlive = false;
      this.finishExchange();
    }
  }

  onUpstreamClose(): void {
    const up = this.up;
    if (!up) return;
    if (this.state === ST_TUNNEL) {
      this.up = null;
      up.owner = null;
      this.releaseServer();
      this.sock.end();
      return;
    }
    if (this.state !== ST_EXCHANGE) return;
    if (!this.resStarted && !this.resPending && up.uses > 1 && this.reqHead && this.reqBody.mode === BODY_NONE) {
      // The server closed a pooled connection as we reused it: retry once on a fresh one.
      this.up = null;
      up.owner = null;
      this.state = ST_CONNECT;
      connectUpstream(this.server!, this.info, this.backend!.config.timeouts.connect, this);
      return;
    }
    this.serverFailed();
  }

  /** Invalid, incomplete or aborted response: 502 if nothing was sent yet, else cut both sides. */
  private serverFailed(invalid?: Buffer, reason = ''): void {
    if (invalid) captureInvalid('response', invalid, reason, this.fe.name, this.backend?.name, this.server?.name, this.info);
    observeResponseFailure(this.server!, this.resStarted, this.up !== null && this.up.closed);
    this.backend!.counters.errResp++;
    this.server!.counters.errResp++;
    if (this.resStarted) {
      this.backend!.counters.srvAborts++;
      this.server!.counters.srvAborts++;
      return this.abortBoth('SD');
    }
    this.dropUpstream();
    this.sendLocal(502, true);
  }

  private finishExchange(): void {
    this.tx.end('--', this.res.status, this.backend);
    // A pipelined request keeps the exchange: no received chunk stays referenced meanwhile.
    this.req.release();
    this.res.release();
    const up = this.up;
    this.up = null;
    this.srvDeadline = 0;
    this.reqHead = null;
    if (up) {
      if (this.serverKeepAlive && this.reqDone && !up.closed && !this.worker.draining) parkIdle(up, this.worker.now());
      else {
        up.owner = null;
        up.socket.destroy();
      }
    }
    this.releaseServer();
    if (this.closeAfter) return this.closeClient();
    this.awaitNextRequest();
  }

  /**
   * The exchange is over and the connection stays: serve a pipelined request already
   * received (under `timeout http-request`), or go idle (under `timeout http-keep-alive`)
   * and give the exchange back to the pool.
   */
  private awaitNextRequest(): void {
    const t = this.fe.config.timeouts;
    if (this.pending) {
      this.state = ST_HEAD;
      this.cliDeadline = deadlineAfter(this.worker.now(), t.httpRequest);
      this.processPending();
    } else {
      this.state = ST_IDLE;
      this.cliDeadline = deadlineAfter(this.worker.now(), t.httpKeepAlive);
      this.dropExchange();
    }
    if ((this.state === ST_IDLE || this.state === ST_HEAD) && this.sock.isPaused()) this.sock.resume();
  }

  // ------------------------------------------------------------ helpers
  /** Sends `buf[start..end)` (may be a view of the shared read buffer) to the client. */
  private writeClient(buf: Buffer, start: number, end: number): void {
    this.countToClient(end - start);
    if (!forward(this.sock, buf, start, end) && this.up) {
      this.up.socket.pause();
      // Waiting on the client now, not on the server.
      this.srvDeadline = 0;
      this.cliDeadline = deadlineAfter(this.worker.now(), this.state === ST_TUNNEL ? this.tunnelTimeout() : this.fe.config.timeouts.client);
    }
  }

  private countToClient(n: number): void {
    this.fe.counters.bytesOut += n;
    this.bytesWritten += n;
  }

  private countToServer(n: number): void {
    this.backend!.counters.bytesIn += n;
    this.server!.counters.bytesIn += n;
  }

  /**
   * A response tslb makes itself (errors, deny); closes the client when asked or when it
   * must. `term`: the log's termination state, derived from the status when ''.
   */
  private sendLocal(status: number, close: boolean, term = ''): void {
    this.exchange(); // the log line may sample the connection (a 408 before any byte)
    const buf = errorResponse(status, this.fe.config.errorFiles, this.backend?.config.errorFiles);
    countStatus(this.fe.counters, status);
    if (this.backend) countStatus(this.backend.counters, status);
    if (!buf) {
      this.tx.end(term, status, this.backend);
      return this.closeClient();
    }
    this.countToClient(buf.length);
    this.sock.write(buf);
    this.tx.end(term, status, this.backend);
    // Built-in 4xx/5xx without `Connection: close` keep the connection; errorfiles have no known framing.
    const keep = !close && this.clientKeepAlive && !this.worker.draining && !this.clientEnded && this.reqDone && isDefaultResponse(buf);
    this.endLocal(keep);
  }

  private sendRedirect(code: number, location: string): void {
    const close = !this.clientKeepAlive || !this.reqDone || this.worker.draining || this.clientEnded;
    countStatus(this.fe.counters, code);
    const buf = redirectResponse(code, location, close);
    this.countToClient(buf.length);
    this.sock.write(buf);
    this.tx.end('LR', code, this.backend);
    this.endLocal(!close);
  }

  private endLocal(keepAlive: boolean): void {
    this.releaseServer();
    this.reqHead = null;
    this.reqRest = null;
    if (!keepAlive) return this.closeClient();
    this.closeAfter = false;
    this.srvDeadline = 0;
    this.awaitNextRequest();
  }

  /** Flush what was written, then close; a client that never reads gets cut at `timeout client`. */
  private closeClient(): void {
    this.state = ST_CLOSED;
    this.pending = null;
    this.srvDeadline = 0;
    this.cliDeadline = deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
    this.sock.end();
  }

  /** Its server went DOWN (on-marked-down) or an active server came UP (on-marked-up): cut the session. */
  shutdown(cause: 'D' | 'U'): void {
    this.abortBoth(cause + (this.state === ST_CONNECT ? 'C' : this.resStarted || this.state === ST_TUNNEL ? 'D' : 'H'));
  }

  /** Cut both sides mid-exchange; `term` is the log's termination state. */
  private abortBoth(term: string): void {
    if (this.tx.open) this.tx.end(term, this.tx.resAt ? this.res.status : -1, this.backend);
    this.dropUpstream();
    this.releaseServer();
    this.state = ST_CLOSED;
    this.sock.destroy();
  }

  private dropUpstream(): void {
    const up = this.up;
    if (!up) return;
    this.up = null;
    up.owner = null;
    up.socket.destroy();
  }

  /** Done with the server (or the queue); `keepSlot` for a retry on the same server. */
  private releaseServer(keepSlot = false): void {
    if (this.awaitingSlot) {
      this.awaitingSlot = false;
      this.backend!.cancelWait(this);
    }
    const s = this.server;
    if (!s) return;
    this.server = null;
    dropSession(s, this);
    if (!keepSlot) this.backend!.release(s);
    this.backend!.counters.sessCur--;
    s.counters.sessCur--;
  }

  checkTimeouts(now: number): void {
    if (this.srvDeadline && now >= this.srvDeadline) {
      this.srvDeadline = 0;
      if (this.state === ST_EXCHANGE && !this.resStarted) {
        observe(this.server!, OBS_READ_TIMEOUT);
        this.dropUpstream();
        return this.sendLocal(504, true);
      }
      this.backend!.counters.srvAborts++;
      return this.abortBoth('sD');
    }
    if (this.cliDeadline && now >= this.cliDeadline) {
      this.cliDeadline = 0;
      switch (this.state) {
        case ST_HEAD:
          return this.reject(408);
        case ST_EXCHANGE:
          if (!this.resStarted) {
            this.dropUpstream();
            return this.reject(408);
          }
          return this.abortBoth('cD');
        default:
          // idle keep-alive, tunnel, or a closing client that does not read
          this.dropUpstream();
          this.releaseServer();
          this.state = ST_CLOSED;
          this.sock.destroy();
      }
    }
  }
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

function noop(): void {}

/** A client socket with its session: the listeners below are shared, not closures per connection. */
interface SessionSocket extends net.Socket {
  httpSession?: HttpSession;
}

/** `buf[0..n)` is a view of the shared read buffer (../socket-io.ts): valid during this call only. */
function onSocketChunk(this: SessionSocket, n: number, buf: Buffer): void {
  const session = this.httpSession!;
  session.onClientData(buf, n);
  session.unshare();
}

function onSocketDrain(this: SessionSocket): void {
  this.httpSession!.onClientDrain();
}

function onSocketEnd(this: SessionSocket): void {
  this.httpSession!.onClientEnd();
}

function onSocketClose(this: SessionSocket): void {
  this.httpSession!.onClientClose();
}

/** Live HTTP sessions of this worker, for `show sess`. */
export function liveHttpSessions(): LiveSession[] {
  return [...sessions].map((s) => s.describe());
}
