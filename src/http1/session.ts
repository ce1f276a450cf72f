/**
 * An HTTP/1.1 client connection on a raw socket: framing and connection handling
 * only. It parses request heads in place (HeadParser), frames request bodies
 * (BodyFramer), serves pipelined requests one at a time and in order, keeps the
 * connection alive between them, relays tunnels after 101, and runs the client's
 * timeouts. Each request is an exchange (src/http/exchange.ts) that runs the
 * pipeline and talks to the server; the session is its ClientSide: it writes the
 * response heads (rewritten in place, sent with the body bytes of the same read),
 * bodies and local answers, and pauses or resumes reading the request body.
 *
 * Decisions (documented differences from HAProxy):
 * - `Transfer-Encoding` with a coding other than `chunked` before it: 501 (HAProxy 422).
 * - An absolute-form target's authority must equal Host, ASCII case and the scheme's
 *   default port aside, else 400; userinfo in it is refused (HAProxy strips it).
 * - A chunk-size line over 4 KiB: 400 or 502 (HAProxy: when it does not fit its buffer).
 * - CONNECT is answered 501: tslb is a reverse proxy.
 * - Interim (1xx) responses are relayed to HTTP/1.1 clients only.
 * Timeouts use the coarse worker clock and one sweep timer for all sessions.
 */
import type * as net from 'node:net';
import type { FrontendRuntime } from '../worker/runtime';
import type { ConnectionInfo, WorkerContext } from '../worker/connection';
import { sessionOpened } from '../worker/counters';
import { deadlineAfter } from '../worker/deadline';
import { captureInvalid } from '../worker/error-capture';
import type { LiveSession } from '../worker/queries';
import { forward, isShared, readThrough } from '../worker/socket-io';
import { HttpTransaction } from '../log/transaction';
import type { ClientSide } from '../http/exchange';
import { releaseExchange, takeExchange, type ProxyExchange } from '../http/proxy-exchange';
import type { HeadTable } from '../http/head';
import { startSessionTick, tickSessions } from '../http/session-tick';
import { trailerLines } from '../http/transformed-body';
import { BODY_CHUNKED, BODY_CLOSE, BODY_LENGTH, BODY_NONE } from './body';
import { buildHead, rewriteHeadInPlace } from './rewrite';

const ST_IDLE = 0; // between requests (keep-alive)
const ST_HEAD = 1; // reading a request head
const ST_FORWARD = 2; // the exchange runs: server choice, request/response in flight
const ST_TUNNEL = 3; // after 101 Switching Protocols
const ST_CLOSED = 4;

/** HAProxy's tune.bufsize - tune.maxrewrite, when the model gives none. */
const DEFAULT_MAX_HEAD = 15360;
const UPGRADE_LINE = 'Connection: upgrade\r\n';
const CHUNKED_LINE = 'Transfer-Encoding: chunked\r\n';
/** What tslb answers itself to `Expect: 100-continue` when it waits for the body (as HAProxy). */
const CONTINUE_100 = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

const sessions = new Set<Http1Session>();
tickSessions(sessions);

export function handleHttpConnection(socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext): void {
  startSessionTick();
  // The response must still go out after a client half-closes (HAProxy answers, then closes).
  socket.allowHalfOpen = true;
  new Http1Session(socket, fe, info, worker);
}

class Http1Session implements ClientSide {
  private state = ST_HEAD;
  /** Client bytes received but not yet consumed (partial head, pipelined requests). */
  private pending: Buffer | null = null;
  /** The request in progress (from the per-worker pool); null while idle. */
  private ex: ProxyExchange | null = null;
  private readonly maxHead: number;
  /** Timestamps and the access-log line of the current request. */
  private readonly tx: HttpTransaction;
  private clientKeepAlive = true;
  private closeAfter = false;
  private clientEnded = false;
  /** The response body goes out as chunks tslb frames (a transformed body to an HTTP/1.1 client). */
  private chunkedOut = false;
  private cliDeadline = 0;
  /** Client bytes in and out, for the log (direct writes bypass the socket's counters). */
  bytesRead = 0;
  bytesWritten = 0;

  constructor(
    readonly sock: net.Socket,
    private readonly fe: FrontendRuntime,
    private readonly info: ConnectionInfo,
    private readonly worker: WorkerContext,
  ) {
    this.tx = new HttpTransaction(this, fe, info, worker.runtime.frontends);
    fe.counters.connTotal++;
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

  /** The exchange, taken from the pool if the session has none (a request starts, or a local answer is logged). */
  private exchange(): ProxyExchange {
    return this.ex ?? (this.ex = takeExchange(this.fe, this.info, this.worker, this, this.tx));
  }

  private dropExchange(): void {
    const ex = this.ex;
    if (!ex) return;
    this.ex = null;
    releaseExchange(ex);
  }

  // ------------------------------------------------------------ socket events
  // They run from the shared socket listeners (onSocketChunk etc.).
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
      case ST_FORWARD:
        this.onRequestBody(chunk, end);
        return;
      case ST_TUNNEL:
        this.cliDeadline = deadlineAfter(this.worker.now(), this.ex!.tunnelTimeout());
        if (!this.ex!.toServer(chunk, 0, end)) this.sock.pause();
        return;
    }
  }

  onClientDrain(): void {
    const ex = this.ex;
    if (ex !== null && ex.clientDrained()) this.cliDeadline = ex.reqDone ? 0 : deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
  }

  onClientEnd(): void {
    this.clientEnded = true;
    if (this.state === ST_IDLE || this.state === ST_HEAD) this.closeClient();
    else if (this.state === ST_TUNNEL) this.ex!.endTunnelToServer();
    else if (this.state === ST_FORWARD && !this.ex!.reqDone) {
      // The request can never complete: abort both sides rather than leave half of it on the server.
      this.ex!.countClientAbort();
      this.ex!.abort('CD');
    } else this.closeAfter = true;
  }

  onClientClose(): void {
    if (this.tx.open || this.ex) this.exchange().clientClosed();
    this.state = ST_CLOSED;
    sessions.delete(this);
    this.fe.counters.sessCur--;
    this.pending = null;
    this.dropExchange();
  }

  /**
   * After a chunk of the shared read buffer was handled: copy what the session keeps
   * of it (partial or pipelined input, and the exchange's parts), since the next read
   * of any socket overwrites it.
   */
  unshare(): void {
    if (this.pending && isShared(this.pending)) this.pending = Buffer.from(this.pending);
    if (this.ex) this.ex.unshare();
  }

  // ------------------------------------------------------------ requests
  /** Client input `buf[0..end)` starts a request head; an incomplete one is kept in `pending`. */
  private processHead(buf: Buffer, end: number): void {
    if (this.tx.reqAt === 0) this.tx.reqAt = Date.now();
    this.pending = null;
    const req = this.ex!.req;
    const n = req.parse(buf, 0, end);
    if (n === 0) {
      this.pending = buf.subarray(0, end);
      if (end > this.maxHead) this.reject(431, this.pending, 'request head too large');
      return;
    }
    if (n < 0) return this.reject(req.errorStatus, buf.subarray(0, end), req.errorReason);
    if (n > this.maxHead) return this.reject(431, buf.subarray(0, end), 'request head too large');
    this.startRequest(buf, n, end);
  }

  /** Answer an error and close; `invalid` is the refused message (kept for `show errors`). */
  private reject(status: number, invalid?: Buffer, reason = ''): void {
    this.fe.counters.errReq++;
    // Requests are refused before routing: no backend yet.
    if (invalid) captureInvalid('request', invalid, reason, this.fe.name, undefined, undefined, this.info);
    this.exchange().answer(status, true);
  }

  /** The request body passes `max_body_size`: 413, and the connection closes (the rest of the body is not read). */
  private tooLarge(): void {
    this.fe.counters.deniedReq++;
    this.ex!.answer(413, true, 'PR');
  }

  /** What `show sess` prints (src/worker/queries.ts). */
  describe(): LiveSession {
    return { conn: this.sock, info: this.info, frontend: this.fe.name, backend: this.ex?.backend?.name, server: this.ex?.server?.name };
  }

  /** The head is `buf[..headEnd)`, bytes up to `end` follow it: frame them, then let the exchange run. */
  private startRequest(buf: Buffer, headEnd: number, end: number): void {
    const ex = this.ex!;
    const req = ex.req;
    this.tx.headAt = Date.now();
    this.fe.counters.reqTotal++;
    const mlen = req.methodEnd - req.start;
    ex.isHead = mlen === 4 && buf[req.start] === 72 && buf.toString('latin1', req.start, req.methodEnd) === 'HEAD';
    if (mlen === 7 && buf.toString('latin1', req.start, req.methodEnd) === 'CONNECT') {
      ex.answer(501, true);
      return;
    }
    this.clientKeepAlive = req.versionMinor === 1 ? !req.connClose : req.connKeepAlive;
    this.closeAfter = this.clientEnded;
    ex.isUpgrade = req.versionMinor === 1 && req.hasUpgrade && req.connUpgrade;
    const body = ex.reqBody;
    const limit = this.fe.config.maxBodySize ?? 0;
    if (limit && req.contentLength > limit) return this.tooLarge();
    body.reset(req.chunked ? BODY_CHUNKED : req.contentLength > 0 ? BODY_LENGTH : BODY_NONE, req.contentLength, limit);
    if (headEnd < end) {
      // Validate the body bytes that came with the head before anything is forwarded.
      const consumed = body.feed(buf, headEnd, end);
      if (consumed < 0) return body.tooLarge ? this.tooLarge() : this.reject(400, buf.subarray(0, end), 'invalid request body framing');
      if (body.keptEnd > headEnd) ex.requestBody(buf, headEnd, body.keptEnd);
      if (consumed < end) this.pending = buf.subarray(consumed, end);
    }
    ex.reqDone = body.done;
    this.state = ST_FORWARD;
    this.cliDeadline = 0;
    ex.begin();
  }

  private onRequestBody(chunk: Buffer, end: number): void {
    const ex = this.ex!;
    if (ex.reqDone) {
      // The next pipelined request: keep it until this exchange is over.
      this.pending = this.pending ? Buffer.concat([this.pending, chunk.subarray(0, end)]) : chunk.subarray(0, end);
      this.sock.pause();
      return;
    }
    const consumed = ex.reqBody.feed(chunk, 0, end);
    if (consumed < 0) {
      if (ex.reqBody.tooLarge && !ex.responseStarted) return this.tooLarge();
      this.fe.counters.errReq++;
      if (ex.responseStarted) return ex.abort('PD');
      ex.answer(400, true, 'PD');
      return;
    }
    if (consumed < end) {
      this.pending = chunk.subarray(consumed, end);
      this.sock.pause();
    }
    ex.reqDone = ex.reqBody.done;
    const attached = ex.attached;
    if (!ex.requestBody(chunk, 0, ex.reqBody.keptEnd)) this.sock.pause();
    if (attached) this.cliDeadline = ex.reqDone ? 0 : deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
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
      const p = this.pending;
      this.processHead(p, p.length);
    } else {
      this.state = ST_IDLE;
      this.cliDeadline = deadlineAfter(this.worker.now(), t.httpKeepAlive);
      this.dropExchange();
    }
    if ((this.state === ST_IDLE || this.state === ST_HEAD) && this.sock.isPaused()) this.sock.resume();
  }

  // ------------------------------------------------------------ ClientSide (called by the exchange)
  closing(): boolean {
    return !this.clientKeepAlive || this.worker.draining || this.clientEnded;
  }

  pauseRequestBody(): void {
    this.sock.pause();
  }

  resumeRequestBody(): void {
    this.sock.resume();
  }

  requestBodyWanted(): void {
    this.cliDeadline = deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
  }

  sendContinue(): void {
    this.sendLocal(CONTINUE_100);
  }

  sendInterim(res: HeadTable, buf: Buffer, headEnd: number): boolean {
    if (this.ex!.req.versionMinor !== 1) return true;
    const start = rewriteHeadInPlace(res, '');
    if (start >= 0) return this.writeClient(buf, start, headEnd);
    const head = buildHead(res, '');
    return this.writeClient(head, 0, head.length);
  }

  sendResponseHead(res: HeadTable, extras: string, buf: Buffer, headEnd: number, bodyEnd: number): boolean {
    const ex = this.ex!;
    // A transformed body has no known length: chunked for HTTP/1.1, delimited by the close for HTTP/1.0.
    const transformed = ex.bodyTransform !== null;
    this.chunkedOut = transformed && ex.req.versionMinor === 1;
    if (this.chunkedOut) extras += CHUNKED_LINE;
    this.closeAfter =
      this.closeAfter || !this.clientKeepAlive || this.worker.draining || ex.resBody.mode === BODY_CLOSE || !ex.reqDone || (transformed && !this.chunkedOut);
    if (this.closeAfter) extras += 'Connection: close\r\n';
    else if (ex.req.versionMinor === 0) extras += 'Connection: keep-alive\r\n';
    // A rule that rewrote the status line moved the head out of `buf`.
    const start = res.buf === buf ? rewriteHeadInPlace(res, extras) : -1;
    if (start >= 0) return this.writeClient(buf, start, bodyEnd);
    this.sock.cork();
    const head = buildHead(res, extras);
    let ok = this.writeClient(head, 0, head.length);
    if (bodyEnd > headEnd) ok = this.writeClient(buf, headEnd, bodyEnd);
    this.sock.uncork();
    return ok;
  }

  sendBody(buf: Buffer, start: number, end: number): boolean {
    return this.writeClient(buf, start, end);
  }

  sendTransformed(buf: Buffer, start: number, end: number): boolean {
    if (!this.chunkedOut) return this.writeClient(buf, start, end);
    // One write per chunk: the size line, the data and its CRLF copied together.
    const size = (end - start).toString(16) + '\r\n';
    const chunk = Buffer.allocUnsafe(size.length + end - start + 2);
    chunk.write(size, 0, 'latin1');
    buf.copy(chunk, size.length, start, end);
    chunk[chunk.length - 2] = 13;
    chunk[chunk.length - 1] = 10;
    return this.writeClient(chunk, 0, chunk.length);
  }

  endTransformed(trailers: string): void {
    if (!this.chunkedOut) return;
    this.chunkedOut = false;
    const last = Buffer.from('0\r\n' + trailerLines(trailers) + '\r\n', 'latin1');
    this.writeClient(last, 0, last.length);
  }

  sendLocal(msg: Buffer): void {
    this.countToClient(msg.length);
    this.sock.write(msg);
  }

  exchangeDone(keepAlive: boolean): void {
    if (!keepAlive || this.closeAfter) this.closeClient();
    else this.awaitNextRequest();
  }

  startTunnel(res: HeadTable, buf: Buffer, headEnd: number, end: number): boolean {
    const ex = this.ex!;
    this.state = ST_TUNNEL;
    this.cliDeadline = deadlineAfter(this.worker.now(), ex.tunnelTimeout());
    let ok: boolean;
    const start = rewriteHeadInPlace(res, UPGRADE_LINE);
    if (start >= 0) ok = this.writeClient(buf, start, end);
    else {
      const head = Buffer.concat([buildHead(res, UPGRADE_LINE), buf.subarray(headEnd, end)]);
      ok = this.writeClient(head, 0, head.length);
    }
    const early = this.pending;
    this.pending = null;
    if (early) ex.toServer(early, 0, early.length);
    if (this.clientEnded) ex.endTunnelToServer();
    else this.sock.resume();
    return ok;
  }

  sendTunnel(buf: Buffer, start: number, end: number): boolean {
    this.cliDeadline = deadlineAfter(this.worker.now(), this.ex!.tunnelTimeout());
    return this.writeClient(buf, start, end);
  }

  endTunnel(): void {
    this.sock.end();
  }

  abort(): void {
    this.state = ST_CLOSED;
    this.sock.destroy();
  }

  // ------------------------------------------------------------ helpers
  /** Sends `buf[start..end)` (may be a view of the shared read buffer); false when the client is full. */
  private writeClient(buf: Buffer, start: number, end: number): boolean {
    this.countToClient(end - start);
    if (forward(this.sock, buf, start, end)) return true;
    // Waiting on the client now, not on the server.
    this.cliDeadline = deadlineAfter(this.worker.now(), this.state === ST_TUNNEL ? this.ex!.tunnelTimeout() : this.fe.config.timeouts.client);
    return false;
  }

  private countToClient(n: number): void {
    this.fe.counters.bytesOut += n;
    this.bytesWritten += n;
  }

  /** Flush what was written, then close; a client that never reads gets cut at `timeout client`. */
  private closeClient(): void {
    this.state = ST_CLOSED;
    this.pending = null;
    this.cliDeadline = deadlineAfter(this.worker.now(), this.fe.config.timeouts.client);
    this.sock.end();
  }

  checkTimeouts(now: number): void {
    const ex = this.ex;
    if (ex !== null && ex.srvDeadline && now >= ex.srvDeadline) return ex.serverTimedOut();
    if (!this.cliDeadline || now < this.cliDeadline) return;
    this.cliDeadline = 0;
    switch (this.state) {
      case ST_HEAD:
        return this.reject(408);
      case ST_FORWARD:
        if (!ex!.responseStarted) return this.reject(408);
        return ex!.abort('cD');
      default:
        // idle keep-alive, tunnel, or a closing client that does not read
        ex?.dropServer();
        this.state = ST_CLOSED;
        this.sock.destroy();
    }
  }
}

function noop(): void {}

/** A client socket with its session: the listeners below are shared, not closures per connection. */
interface SessionSocket extends net.Socket {
  httpSession?: Http1Session;
}

/** `buf[0..n)` is a view of the shared read buffer (../worker/socket-io.ts): valid during this call only. */
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
