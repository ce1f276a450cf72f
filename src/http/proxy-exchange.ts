/**
 * An exchange proxied to a server: runs the pipeline's phases (./pipeline.ts),
 * routes, takes a server slot (queueing, retries, redispatch: ./server-slot-exchange.ts),
 * talks HTTP/1.1 to the server over the pooled connections (./pool.ts) and relays the
 * response to the client side (ClientSide, ./exchange.ts) with backpressure both ways.
 *
 * Per request, nothing is allocated beyond what the work needs: exchanges come
 * from a per-worker pool, heads are parsed and rewritten in place, the upstream
 * request head is copied once (with the modules' added lines), and a response
 * head goes out in the read that brought it.
 *
 * Decisions (documented differences from HAProxy):
 * - `Expect: 100-continue` is forwarded and the server's `100 Continue` relayed.
 * - Client-sent X-Forwarded-Proto/-Host are replaced when tslb adds its own.
 * - A deny or redirect on a request with an unread body closes the connection.
 */
import type { FrontendRuntime } from '../worker/runtime';
import type { ConnectionInfo, WorkerContext } from '../worker/connection';
import { countStatus } from '../worker/counters';
import { deadlineAfter } from '../worker/deadline';
import { observe, observeResponseFailure, observeStatus, OBS_READ_TIMEOUT } from '../worker/passive-health';
import { captureInvalid } from '../worker/error-capture';
import { forward, isShared } from '../worker/socket-io';
import type { HttpTransaction } from '../log/transaction';
import { BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE } from '../http1/body';
import { buildHead } from '../http1/rewrite';
import type { ClientSide } from './exchange';
import { parkIdle, type Upstream, type UpstreamOwner } from './pool';
import { CONTINUE, DONE, runBody, runEvent, runPhase, type PhaseFn } from './pipeline';
import { ServerSlotExchange, X_CONNECT, X_EXCHANGE, X_FLUSH, X_IDLE, X_TUNNEL } from './server-slot-exchange';
import { bodyWaitExpired, RequestBodyBuffer, resumeAfterBody } from './request-body';

/** Largest response head accepted from a server. */
const MAX_RESPONSE_HEAD = 65536;

export class ProxyExchange extends ServerSlotExchange implements UpstreamOwner {
  private up: Upstream | null = null;
  /** Rewritten request head, kept until the server answers (retry on a stale pooled connection). */
  private reqHead: Buffer | null = null;
  /** Request body bytes received before the server connection was ready. */
  private reqRest: Buffer | null = null;
  private resInHead = true;
  private resStarted = false;
  private resPending: Buffer | null = null;
  private serverKeepAlive = false;
  /** When the server's silence ends the exchange (0 = not waiting on it), on the worker's coarse clock. */
  srvDeadline = 0;
  /** The request body buffered for the rules; made by the first request of this pooled exchange that buffers. */
  private bodyBuffer: RequestBodyBuffer | null = null;

  /** A response head was sent to the client. */
  get responseStarted(): boolean {
    return this.resStarted;
  }

  /** A server connection carries this exchange. */
  get attached(): boolean {
    return this.up !== null;
  }

  // ------------------------------------------------------------ request side
  /**
   * The request head is accepted and its facts set (body bytes that came with it
   * already given to requestBody()): run the request phases, route, build the
   * request for the server and get a server.
   */
  begin(): void {
    this.backend = null;
    this.server = null;
    this.forced = undefined;
    this.stickKey = undefined;
    this.requestTracked = 0;
    this.cookie = undefined;
    this.cacheKey = undefined;
    this.cacheWrite = undefined;
    this.compression = undefined;
    this.reqExtras = '';
    this.resExtras = '';
    this.ruleResume = 0;
    this.ctx.body = undefined;
    this.ctx.stage = 'request';
    if (this.ctx.vars !== undefined) this.ctx.vars.clear();
    this.requestPhases(false, 0);
  }

  /** The request phase from its function `from`, the frontend's (then routing, the backend's) or the backend's; then the server's request. */
  private requestPhases(onBackend: boolean, from: number): void {
    const fe = this.fe;
    if (!onBackend) {
      if (this.runRequest(fe.pipeline.request, from, false) !== CONTINUE) return;
      const backend = fe.route(this.ctx);
      if (!backend) {
        this.answer(503, !this.reqDone);
        return;
      }
      this.backend = backend;
      from = 0;
    }
    const bp = this.backend!.pipeline;
    if (this.runRequest(bp.request, from, true) !== CONTINUE) return;
    if (runPhase(fe.pipeline.choose, this) !== CONTINUE || runPhase(bp.choose, this) !== CONTINUE) return;
    if (runPhase(fe.pipeline.upstreamRequest, this) !== CONTINUE || runPhase(bp.upstreamRequest, this) !== CONTINUE) return;
    if (this.isUpgrade) this.reqExtras += 'Connection: upgrade\r\n';
    else if (this.req.versionMinor === 0) this.reqExtras += 'Connection: keep-alive\r\n';
    this.reqHead = buildHead(this.req, this.reqExtras);
    // Body bytes wait at the client until the server connection is ready; a bodyless
    // request needs no pause (more bytes are the next request and pause then).
    if (!this.reqDone) this.client.pauseRequestBody();
    this.startConnect();
  }

  /** A request phase's functions from `from`; one that holds the request for its body is noted, to run again when the body is in. */
  private runRequest(fns: readonly PhaseFn[], from: number, onBackend: boolean): number {
    for (let i = from; i < fns.length; i++) {
      if (fns[i](this) === CONTINUE) continue;
      if (this.bodyBuffer?.waiting) this.bodyBuffer.held(i, onBackend);
      return DONE;
    }
    return CONTINUE;
  }

  waitForBody(ms: number, atLeast: number): number {
    const b = this.bodyBuffer ?? (this.bodyBuffer = new RequestBodyBuffer());
    if (this.ctx.body === undefined) {
      // The first wait of this request: what came already is buffered, what comes next as it comes (until the request's log).
      this.ctx.body = b;
      b.start(this.reqBody.mode === BODY_CHUNKED, this.reqDone);
      if (this.reqRest) b.feed(this.reqRest, 0, this.reqRest.length, this.reqDone);
      if (!b.complete && this.req.versionMinor === 1 && this.ctx.header('expect')?.toLowerCase() === '100-continue') {
        // The client waits for a go before sending the body (HTTP/1.1 or HTTP/2): tslb gives it (as HAProxy), the server gets no Expect.
        this.req.dropNamed('expect');
        this.client.sendContinue();
      }
    }
    if (b.satisfied(atLeast)) return CONTINUE;
    b.wait(atLeast, ms > 0 ? setTimeout(bodyWaitExpired, ms, this) : undefined);
    this.client.resumeRequestBody();
    return DONE;
  }

  /** The body wait ended: the phase function that asked runs again, and the request goes on. */
  resumeAfterBody(token: number): void {
    if (token === this.heldToken) this.requestPhases(this.bodyBuffer!.heldOnBackend, this.bodyBuffer!.heldAt);
  }

  /** The body did not come in time: 408 (HAProxy's wait-for-body and http-buffer-request), the connection closed. */
  bodyWaitExpired(): void {
    if (!this.bodyBuffer!.stopWaiting()) return;
    this.fe.counters.errReq++;
    this.answer(408, true, 'cR');
  }

  protected override cancelHeld(): void {
    super.cancelHeld();
    this.bodyBuffer?.stopWaiting();
  }

  /**
   * Request body bytes `buf[start..end)` (`reqDone` already says whether they end
   * it): forwarded, or kept until the server connection is ready. False when the
   * server is full: the client side pauses until resumeRequestBody().
   */
  requestBody(buf: Buffer, start: number, end: number): boolean {
    if (!this.up) {
      const part = buf.subarray(start, end);
      this.reqRest = this.reqRest ? Buffer.concat([this.reqRest, part]) : part;
      // A wait these bytes end lets the request go on once the client side's call returned.
      if (this.ctx.body !== undefined && this.bodyBuffer!.fed(buf, start, end, this.reqDone)) process.nextTick(resumeAfterBody, this, this.heldToken);
      return true;
    }
    const ok = this.toServer(buf, start, end);
    if (this.reqDone && !this.resStarted) this.srvDeadline = deadlineAfter(this.worker.now(), this.backend!.config.timeouts.server);
    return ok;
  }

  /** Bytes for the server as they are (request body, tunnel); false when it is full. */
  toServer(buf: Buffer, start: number, end: number): boolean {
    this.countToServer(end - start);
    return forward(this.up!.socket, buf, start, end);
  }

  /** The client ended its side of a tunnel. */
  endTunnelToServer(): void {
    this.up?.socket.end();
  }

  /** The client can take more: read the server again (or let the body transform go on). True when a response body is flowing. */
  clientDrained(): boolean {
    if (this.bodyTransform !== null) {
      this.bodyTransform.resume();
      return true;
    }
    const up = this.up;
    if (!up) return false;
    if (this.state === X_TUNNEL) up.socket.resume();
    return this.resumeServer();
  }

  /** Read the server again if its response body is still coming; true when it is. */
  private resumeServer(): boolean {
    const up = this.up;
    if (!up || this.state !== X_EXCHANGE || this.resBody.done) return false;
    this.srvDeadline = deadlineAfter(this.worker.now(), this.backend!.config.timeouts.server);
    up.socket.resume();
    return true;
  }

  /** The client is full: stop reading the server (its timeout is the client's now). */
  private clientFull(): void {
    if (!this.up) return;
    this.up.socket.pause();
    this.srvDeadline = 0;
  }

  /** HAProxy's `timeout tunnel`, else `timeout server`, of the backend. */
  tunnelTimeout(): number {
    const b = this.backend!.config.timeouts;
    return b.tunnel || b.server;
  }

  countClientAbort(): void {
    this.fe.counters.cliAborts++;
    if (this.backend) this.backend.counters.cliAborts++;
    if (this.server) this.server.counters.cliAborts++;
  }

  /** The client connection closed: log an open transaction, count an abort, let go of the server. */
  clientClosed(): void {
    this.cancelHeld();
    const active = this.state === X_CONNECT || this.state === X_EXCHANGE || this.state === X_FLUSH;
    const tx = this.tx;
    if (tx.open) this.log(tx.clientGoneState(this.state === X_TUNNEL), tx.resAt ? this.res.status : tx.headAt ? -1 : 400);
    if (active) this.countClientAbort();
    this.dropServer();
    this.reqRest = null;
    this.state = X_IDLE;
  }

  /** Let go of the server connection and slot: the client is being cut. */
  dropServer(): void {
    this.dropUpstream();
    this.releaseServer();
  }

  protected attach(up: Upstream): void {
    up.owner = this;
    up.uses++;
    this.up = up;
    this.tx.connAt = Date.now();
    this.state = X_EXCHANGE;
    this.resInHead = true;
    this.resStarted = false;
    this.resPending = null;
    const head = this.reqHead!;
    const rest = this.reqRest;
    this.reqRest = null;
    let ok = this.toServer(head, 0, head.length);
    if (rest) ok = this.toServer(rest, 0, rest.length);
    if (this.reqDone) this.srvDeadline = deadlineAfter(this.worker.now(), this.backend!.config.timeouts.server);
    else {
      this.srvDeadline = 0;
      this.client.requestBodyWanted();
      if (ok) this.client.resumeRequestBody();
    }
  }

  onUpstreamDrain(): void {
    if ((this.state === X_EXCHANGE && !this.reqDone) || this.state === X_TUNNEL) this.client.resumeRequestBody();
  }

  onUpstreamData(buf: Buffer, end: number): void {
    this.onResponseData(buf, end);
    this.unshare();
  }

  /**
   * After a chunk of the shared read buffer was handled: copy what the exchange keeps
   * of it (request body waiting for the server, a partial response head, parsed heads
   * still in use), since the next read of any socket overwrites it.
   */
  unshare(): void {
    if (this.reqRest && isShared(this.reqRest)) this.reqRest = Buffer.from(this.reqRest);
    if (this.resPending && isShared(this.resPending)) this.resPending = Buffer.from(this.resPending);
    if (isShared(this.req.buf)) this.req.own();
    if (isShared(this.res.buf)) this.res.own();
  }

  // ------------------------------------------------------------ response side
  /** Server bytes `chunk[0..end)`. */
  private onResponseData(chunk: Buffer, end: number): void {
    const backend = this.backend!;
    backend.counters.bytesOut += end;
    this.server!.counters.bytesOut += end;
    if (this.state === X_TUNNEL) {
      if (!this.client.sendTunnel(chunk, 0, end)) this.clientFull();
      return;
    }
    if (this.state !== X_EXCHANGE) return;
    this.reqHead = null;
    if (this.srvDeadline) this.srvDeadline = deadlineAfter(this.worker.now(), backend.config.timeouts.server);
    if (this.resInHead) return this.onResponseHeadData(chunk, end);
    const consumed = this.resBody.feed(chunk, 0, end);
    if (consumed < 0) return this.serverFailed();
    if (!this.sendBody(chunk, 0, this.resBody.keptEnd)) return;
    if (this.resBody.done) {
      if (consumed < end) this.serverKeepAlive = false;
      this.finish();
    }
  }

  /** Response body bytes through the responseBody phase to the client (or its body transform); false when a module ended the exchange. */
  private sendBody(buf: Buffer, start: number, end: number): boolean {
    const bodyFns = this.backend!.pipeline.responseBody;
    const feBodyFns = this.fe.pipeline.responseBody;
    if ((bodyFns.length || feBodyFns.length) && (runBody(bodyFns, this, buf, start, end) !== CONTINUE || runBody(feBodyFns, this, buf, start, end) !== CONTINUE)) {
      return false;
    }
    if (this.bodyTransform !== null) {
      if (!this.transformed!.write(buf, start, end)) this.clientFull();
      // The transform may have failed meanwhile.
      return this.bodyTransform !== null;
    }
    if (!this.client.sendBody(buf, start, end)) this.clientFull();
    return true;
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
      // Interim response (100 Continue, 103 Early Hints).
      if (!this.client.sendInterim(this.res, buf, n)) this.clientFull();
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
    this.ctx.stage = 'response';
    const fp = this.fe.pipeline;
    const bp = backend.pipeline;
    if (runPhase(bp.upstreamResponse, this) !== CONTINUE || runPhase(fp.upstreamResponse, this) !== CONTINUE) return;
    if (runPhase(bp.response, this) !== CONTINUE || runPhase(fp.response, this) !== CONTINUE) return;
    runEvent(bp.afterResponse, this);
    runEvent(fp.afterResponse, this);
    const consumed = this.resBody.feed(buf, headEnd, end);
    if (consumed < 0) return this.serverFailed();
    countStatus(this.fe.counters, status);
    countStatus(backend.counters, status);
    countStatus(this.server!.counters, status);
    this.resInHead = false;
    this.resStarted = true;
    const kept = this.resBody.keptEnd;
    if (bp.responseBody.length || fp.responseBody.length || this.bodyTransform !== null) {
      // Body bytes of this read go through the body phase (and transform) on their own.
      if (!this.client.sendResponseHead(res, this.resExtras, buf, headEnd, headEnd)) this.clientFull();
      if (kept > headEnd && !this.sendBody(buf, headEnd, kept)) return;
    } else if (!this.client.sendResponseHead(res, this.resExtras, buf, headEnd, kept)) this.clientFull();
    if (this.resBody.done) {
      if (consumed < end) this.serverKeepAlive = false;
      this.finish();
    }
  }

  private startTunnel(buf: Buffer, headEnd: number, end: number): void {
    countStatus(this.fe.counters, 101);
    countStatus(this.backend!.counters, 101);
    countStatus(this.server!.counters, 101);
    observeStatus(this.server!, 101);
    this.tx.resAt = Date.now();
    this.state = X_TUNNEL;
    this.srvDeadline = 0;
    if (!this.client.startTunnel(this.res, buf, headEnd, end)) this.clientFull();
  }

  onUpstreamEnd(): void {
    if (this.state === X_TUNNEL) return this.client.endTunnel();
    if (this.state === X_EXCHANGE && this.resStarted && this.resBody.mode === BODY_CLOSE) {
      this.serverKeepAlive = false;
      this.finish();
    }
  }

  onUpstreamClose(): void {
    const up = this.up;
    if (!up) return;
    if (this.state === X_TUNNEL) {
      this.up = null;
      up.owner = null;
      this.releaseServer();
      this.client.endTunnel();
      return;
    }
    if (this.state !== X_EXCHANGE) return;
    if (!this.resStarted && !this.resPending && up.uses > 1 && this.reqHead && this.reqBody.mode === BODY_NONE) {
      // The server closed a pooled connection as we reused it: retry once on a fresh one.
      this.up = null;
      up.owner = null;
      this.reconnect();
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
      return this.abort('SD');
    }
    this.answer(502, true);
  }

  /** `timeout server` expired: 504 before the response started, else cut both sides. */
  serverTimedOut(): void {
    this.srvDeadline = 0;
    if (this.state === X_EXCHANGE && !this.resStarted) {
      observe(this.server!, OBS_READ_TIMEOUT);
      this.answer(504, true);
      return;
    }
    this.backend!.counters.srvAborts++;
    this.abort('sD');
  }

  /**
   * The server's response is read: pool its connection; then, once a body transform
   * sent all its output (transformEnded), the exchange is complete.
   */
  private finish(): void {
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
    if (this.bodyTransform !== null) {
      this.state = X_FLUSH;
      this.bodyTransform.end();
      return;
    }
    this.complete();
  }

  /** The response is complete: log, let go of the server slot, let the client side go on. */
  private complete(): void {
    this.log('--', this.res.status);
    // A pipelined request keeps the exchange: no received chunk stays referenced meanwhile.
    this.req.release();
    this.res.release();
    this.releaseServer();
    this.backend = null;
    this.state = X_IDLE;
    this.client.exchangeDone(true);
  }

  protected serverDone(): void {
    this.bodyBuffer?.stopWaiting();
    this.releaseServer();
    this.reqHead = null;
    this.reqRest = null;
    this.srvDeadline = 0;
    this.state = X_IDLE;
  }

  /** Its server went DOWN (on-marked-down) or an active server came UP (on-marked-up): cut the exchange. */
  shutdown(cause: 'D' | 'U'): void {
    this.abort(cause + (this.state === X_CONNECT ? 'C' : this.resStarted || this.state === X_TUNNEL ? 'D' : 'H'));
  }

  /** Cut both sides mid-exchange; `term` is the log's termination state. */
  abort(term: string): void {
    this.cancelHeld();
    if (this.tx.open) this.log(term, this.tx.resAt ? this.res.status : -1);
    this.dropServer();
    this.state = X_IDLE;
    this.client.abort();
  }

  protected dropUpstream(): void {
    if (this.bodyTransform !== null) {
      this.bodyTransform.destroy();
      this.bodyTransform = null;
      this.transformed!.clear();
    }
    const up = this.up;
    if (!up) return;
    this.up = null;
    up.owner = null;
    up.socket.destroy();
  }

  // ------------------------------------------------------------ body transform (./pipeline.ts)
  transformOutput(buf: Buffer, start: number, end: number): boolean {
    return this.client.sendTransformed(buf, start, end);
  }

  transformDrained(): void {
    this.resumeServer();
  }

  transformEnded(): void {
    if (this.state !== X_FLUSH) return;
    const tb = this.transformed!;
    this.bodyTransform = null;
    this.client.endTransformed(tb.trailers);
    tb.clear();
    this.complete();
  }

  transformFailed(): void {
    if (this.bodyTransform === null) return;
    this.abort('PD');
  }

  private countToServer(n: number): void {
    this.backend!.counters.bytesIn += n;
    this.server!.counters.bytesIn += n;
  }

}

/** Enough for the requests in flight on a busy worker; beyond it, exchanges are left to the GC. */
const POOL_MAX = 512;
const pool: ProxyExchange[] = [];

export function takeExchange(fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext, client: ClientSide, tx: HttpTransaction): ProxyExchange {
  const ex = pool.pop() ?? new ProxyExchange();
  ex.fe = fe;
  ex.info = info;
  ex.worker = worker;
  ex.client = client;
  ex.tx = tx;
  ex.backend = null;
  ex.ctx.bind(info, fe.name);
  return ex;
}

/** The client side is done with `ex`; nothing may use it afterwards. */
export function releaseExchange(ex: ProxyExchange): void {
  ex.req.release();
  ex.res.release();
  ex.ctx.unbind();
  // Let go of the connection's objects while pooled.
  ex.client = ex.tx = ex.worker = ex.info = ex.fe = undefined!;
  if (ex.reusable && pool.length < POOL_MAX) pool.push(ex);
}
