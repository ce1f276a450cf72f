/**
 * An HTTP/2 client connection: H2Connection (./connection.ts) on the client socket (TLS
 * with ALPN h2, or h2c with prior knowledge on a plain bind), each stream mapped onto a
 * pooled protocol-neutral exchange (src/http/proxy-exchange.ts), so streams go through
 * the same pipeline, routing, balancing, persistence, logs and counters as HTTP/1.1
 * requests, and to the same HTTP/1.1 servers over the same pool.
 *
 * A stream's ClientSide is an H2StreamSide (one per concurrent stream, reused by the
 * connection's later streams): it turns the request head into HTTP/1.1 bytes the
 * exchange parses as it would an HTTP/1 client's (`:authority` as Host, cookie fields
 * joined with "; ", a body without content-length sent chunked), and the server's
 * response into HEADERS (connection-specific fields left out by the layer), DATA (a
 * chunked body de-chunked) and trailers. Backpressure: the stream's window is held
 * while the server is full, and the server is not read while the stream is.
 *
 * Decisions (documented differences from HAProxy):
 * - Requests reach the server as HTTP/1.1 with the header names as the client sent
 *   them (lower case), or as h2 streams to `proto h2` servers (./upstream-stream.ts).
 * - A reload or stop sends GOAWAY (NO_ERROR) at once; streams already opened finish.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { FrontendRuntime } from '../worker/runtime';
import type { ConnectionInfo, WorkerContext } from '../worker/connection';
import type { LiveSession } from '../worker/queries';
import { sessionOpened } from '../worker/counters';
import { deadlineAfter } from '../worker/deadline';
import { forward, readThrough } from '../worker/socket-io';
import { HttpTransaction } from '../log/transaction';
import { captureInvalid } from '../worker/error-capture';
import type { ClientSide } from '../http/exchange';
import type { HeadTable } from '../http/head';
import { releaseExchange, takeExchange, type ProxyExchange } from '../http/proxy-exchange';
import { startSessionTick, tickSessions } from '../http/session-tick';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE } from '../http1/body';
import { HeadParser } from '../http1/parser';
import { H2Connection, HeaderList, type H2Handler, type H2Stream } from './connection';
import { E_CANCEL, E_NO_ERROR } from './frames';
import { addTrailers, Dechunker, type DechunkSink } from './dechunk';
import { headText, requestHeadRoom, withExtras, writeRequestHead } from './h1-translation';
import { HDR_STRIDE } from '../http/head';

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
/** A request head converted for the server starts with this much room (grown as needed). */
const HEAD_BYTES = 1024;

const sessions = new Set<H2Session>();
tickSessions(sessions);


/**
 * The live streams of this worker's HTTP/2 connections, for `show sess`: one line per
 * stream, as HAProxy lists h2 streams (a connection without a stream has none).
 */
export function liveH2Streams(): LiveSession[] {
  const out: LiveSession[] = [];
  for (const s of sessions) {
    for (const side of s.live) {
      const ex = side.ex;
      out.push({ conn: side, info: s.info, frontend: s.fe.name, backend: ex?.backend?.name, server: ex?.server?.name });
    }
  }
  return out;
}

/** An HTTP/2 connection on `socket` (TLS after ALPN h2, or a plain h2c bind). */
export function handleH2Connection(socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext): void {
  startSessionTick();
  socket.setNoDelay(true);
  new H2Session(socket, fe, info, worker);
}

class H2Session implements H2Handler {
  readonly conn: H2Connection;
  private readonly encrypted: boolean;
  /** Stream sides of finished streams, for the next ones. */
  private readonly free: H2StreamSide[] = [];
  /** Sides with a stream or an exchange in progress. */
  readonly live = new Set<H2StreamSide>();
  /** When an idle connection (no stream) is closed: `timeout http-keep-alive` (0 = never). */
  private idleDeadline: number;
  private goingAway = false;
  /** Parses the local answers (HTTP/1 bytes) the exchange sends. */
  readonly localHead = new HeadParser(false);

  constructor(
    readonly sock: net.Socket,
    readonly fe: FrontendRuntime,
    readonly info: ConnectionInfo,
    readonly worker: WorkerContext,
  ) {
    this.encrypted = (sock as tls.TLSSocket).encrypted === true;
    // Global settings (HAProxy's tune.h2.*); the layer's defaults for the rest.
    this.conn = new H2Connection(this, worker.runtime.model.global.h2);
    (sock as SessionSocket).h2Session = this;
    readThrough(sock, onSocketChunk);
    sock.on('drain', onSocketDrain);
    sock.on('end', onSocketEnd);
    sock.on('error', noop);
    sock.on('close', onSocketClose);
    fe.counters.connTotal++;
    sessionOpened(fe.counters);
    sessions.add(this);
    this.idleDeadline = deadlineAfter(info.acceptedAt, fe.config.timeouts.httpRequest || fe.config.timeouts.client);
    this.conn.start();
  }

  // ------------------------------------------------------------ socket events
  onClientData(buf: Buffer, n: number): void {
    this.fe.counters.bytesIn += n;
    this.conn.onData(buf, 0, n);
    // What the exchanges keep of the shared read buffer (request body waiting for a server) is copied now.
    for (const side of this.live) side.ex?.unshare();
  }

  onClientClose(): void {
    sessions.delete(this);
    this.fe.counters.sessCur--;
    this.conn.destroy();
  }

  checkTimeouts(now: number): void {
    const t = this.fe.config.timeouts;
    if (this.worker.draining && !this.goingAway) this.goAway();
    if (t.client) this.conn.checkStalls(now, t.client);
    for (const side of this.live) side.checkTimeouts(now);
    if (this.live.size === 0 && this.idleDeadline && now >= this.idleDeadline) this.goAway();
  }

  /** Graceful GOAWAY: streams already opened finish, then the connection ends. */
  goAway(): void {
    this.goingAway = true;
    this.conn.goaway(E_NO_ERROR);
  }

  // ------------------------------------------------------------ H2Handler
  write(buf: Buffer, start: number, end: number): boolean {
    const sock = this.sock;
    if (sock.destroyed) return true;
    this.fe.counters.bytesOut += end - start;
    // TLS sockets cannot take the shared buffer's view: the layer reuses it after the call.
    if (this.encrypted) return sock.write(Buffer.from(buf.subarray(start, end)));
    return forward(sock, buf, start, end);
  }

  onRequestHead(stream: H2Stream, endStream: boolean): void {
    const side = this.free.pop() ?? new H2StreamSide(this);
    stream.userData = side;
    this.live.add(side);
    this.idleDeadline = 0;
    side.start(stream, endStream);
  }

  onRequestData(stream: H2Stream, buf: Buffer, start: number, end: number, endStream: boolean): void {
    (stream.userData as H2StreamSide).requestData(buf, start, end, endStream);
  }

  onTrailers(stream: H2Stream): void {
    (stream.userData as H2StreamSide).requestTrailers(stream);
  }

  onStreamWritable(stream: H2Stream): void {
    (stream.userData as H2StreamSide).writable();
  }

  onStreamClose(stream: H2Stream, code: number): void {
    const side = stream.userData as H2StreamSide | null;
    stream.userData = null;
    side?.streamClosed(code);
  }

  onGoaway(): void {}

  onConnectionEnd(): void {
    this.sock.end();
  }

  /** The side's stream and exchange are over. */
  sideDone(side: H2StreamSide): void {
    this.live.delete(side);
    this.free.push(side);
    if (this.live.size === 0) this.idleDeadline = deadlineAfter(this.worker.now(), this.fe.config.timeouts.httpKeepAlive || this.fe.config.timeouts.client);
  }
}

/**
 * One stream's exchange. The exchange ends (exchangeDone, abort) and the stream closes
 * (onStreamClose) in either order; the side is free again when both happened, and the
 * exchange goes back to the pool after the call that ended it returned (released in a
 * microtask: the exchange may still be on the stack).
 */
class H2StreamSide implements ClientSide, DechunkSink {
  stream: H2Stream | null = null;
  ex: ProxyExchange | null = null;
  private readonly tx: HttpTransaction;
  /** The request head as HTTP/1.1 bytes, parsed by the exchange. */
  private head = Buffer.allocUnsafe(HEAD_BYTES);
  /** The request body goes to the server chunked (no content-length). */
  private chunkedUp = false;
  /** The response body from the server is chunked: de-chunked into DATA. */
  private chunkedDown = false;
  private readonly dechunker = new Dechunker();
  /** END_STREAM went out (the response is complete on the client's side). */
  private ended = false;
  /** The exchange is over (exchangeDone or abort called). */
  private exDone = false;
  private cliDeadline = 0;
  /** Request and response bytes of this stream, for the log. */
  bytesRead = 0;
  bytesWritten = 0;
  /** Request body bytes left before `max_body_size` is passed (Infinity without one). */
  private bodyLeft = Infinity;

  /** The connection's socket: its stick counters (a tcp-request one lives as long as the connection, an http-request one as its request). */
  get sock(): net.Socket {
    return this.session.sock;
  }

  constructor(private readonly session: H2Session) {
    this.tx = new HttpTransaction(this, session.fe, session.info, session.worker.runtime.frontends);
  }

  start(stream: H2Stream, endStream: boolean): void {
    const s = this.session;
    this.stream = stream;
    this.ended = this.exDone = false;
    this.chunkedDown = false;
    this.cliDeadline = 0;
    const tx = this.tx;
    tx.begin = tx.reqAt = tx.headAt = Date.now();
    tx.th = 0;
    const ex = (this.ex = takeExchange(s.fe, s.info, s.worker, this, tx));
    ex.ctx.http2 = true;
    const h = stream.head;
    if (h.tooLarge) return this.refuseTooLarge(h);
    s.fe.counters.reqTotal++;
    if (h.isConnect) {
      ex.answer(501);
      return;
    }
    const cl = h.contentLength;
    this.chunkedUp = !endStream && cl < 0;
    const room = requestHeadRoom(h);
    if (this.head.length < room) this.head = Buffer.allocUnsafe(Math.max(room, this.head.length * 2));
    const len = writeRequestHead(h, this.head, this.chunkedUp);
    this.bytesRead += len;
    const req = ex.req;
    if (req.parse(this.head, 0, len) !== len) {
      s.fe.counters.errReq++;
      ex.answer(400);
      return;
    }
    ex.isHead = h.methodEnd - h.methodStart === 4 && h.buf[h.methodStart] === 72 && h.buf.toString('latin1', h.methodStart, h.methodEnd) === 'HEAD';
    ex.isUpgrade = false;
    ex.reqBody.reset(endStream ? BODY_NONE : this.chunkedUp ? BODY_CHUNKED : BODY_LENGTH, cl);
    ex.reqDone = endStream;
    this.bodyLeft = s.fe.config.maxBodySize ?? Infinity;
    // Before begin(): nothing of this exchange has started (responseStarted is the pooled exchange's last).
    if (cl > this.bodyLeft) return this.tooLarge(false);
    ex.begin();
  }

  /**
   * A header list over max_header_list_size after HPACK decoding (a bomb, or just too
   * large): 431, counted, captured for `show errors` and logged as `<BADREQ>`, as HTTP/1
   * refuses an oversized head.
   */
  private refuseTooLarge(h: H2Stream['head']): void {
    const s = this.session;
    this.tx.headAt = 0;
    s.fe.counters.errReq++;
    captureInvalid('request', headText(h), 'request header list too large (HTTP/2, after HPACK decoding)', s.fe.name, undefined, undefined, s.info);
    this.ex!.answer(431);
  }

  /**
   * The request body passes `max_body_size` (its content-length, or the DATA received
   * so far): 413 while no response has started, else the stream is reset; the rest of
   * the body is refused with RST_STREAM(NO_ERROR) after the answer, as HTTP/1 closes.
   */
  private tooLarge(started: boolean): void {
    const ex = this.ex!;
    this.session.fe.counters.deniedReq++;
    if (started) ex.abort('PD');
    else ex.answer(413, false, 'PR');
  }

  requestData(buf: Buffer, start: number, end: number, endStream: boolean): void {
    const ex = this.ex;
    this.bytesRead += end - start;
    if (ex === null || this.exDone) return;
    if ((this.bodyLeft -= end - start) < 0) return this.tooLarge(ex.responseStarted);
    ex.reqDone = endStream;
    let ok = true;
    if (this.chunkedUp) {
      if (end > start) {
        const sizeLine = Buffer.from((end - start).toString(16) + '\r\n', 'latin1');
        ex.requestBody(sizeLine, 0, sizeLine.length);
        ok = ex.requestBody(buf, start, end) && ok;
        ok = ex.requestBody(CRLF, 0, 2) && ok;
      }
      if (endStream) ok = ex.requestBody(LAST_CHUNK, 0, LAST_CHUNK.length) && ok;
    } else ok = ex.requestBody(buf, start, end);
    if (!ok && this.stream) this.session.conn.pauseRequestBody(this.stream);
    if (ex.attached) this.cliDeadline = endStream ? 0 : deadlineAfter(this.session.worker.now(), this.session.fe.config.timeouts.client);
  }

  requestTrailers(stream: H2Stream): void {
    const ex = this.ex;
    if (ex === null || this.exDone) return;
    ex.reqDone = true;
    if (!this.chunkedUp) {
      ex.requestBody(EMPTY, 0, 0);
      return;
    }
    const t = stream.trailers!;
    let text = '0\r\n';
    for (let i = 0; i < t.count; i++) {
      const o = i * HDR_STRIDE;
      text += t.buf.toString('latin1', t.hdr[o], t.hdr[o + 1]) + ': ' + t.buf.toString('latin1', t.hdr[o + 2], t.hdr[o + 3]) + '\r\n';
    }
    const bytes = Buffer.from(text + '\r\n', 'latin1');
    ex.requestBody(bytes, 0, bytes.length);
    this.cliDeadline = 0;
  }

  writable(): void {
    const ex = this.ex;
    if (ex !== null && !this.exDone && ex.clientDrained()) this.cliDeadline = 0;
  }

  streamClosed(code: number): void {
    this.stream = null;
    if (!this.exDone && !(code === E_NO_ERROR && this.ended)) {
      // The client reset the stream (or the connection went): the exchange is aborted, its server connection dropped.
      this.exDone = true;
      this.ex?.clientClosed();
    }
    if (this.exDone) releaseLater(this);
  }

  /** Both ends are over: the exchange goes back to the pool, the side to its session. */
  release(): void {
    const ex = this.ex;
    this.ex = null;
    if (ex) releaseExchange(ex);
    this.session.sideDone(this);
  }

  checkTimeouts(now: number): void {
    const ex = this.ex;
    if (ex === null || this.exDone) return;
    if (ex.srvDeadline && now >= ex.srvDeadline) return ex.serverTimedOut();
    if (!this.cliDeadline || now < this.cliDeadline) return;
    this.cliDeadline = 0;
    if (!ex.responseStarted) ex.answer(408);
    else ex.abort('cD');
  }

  // ------------------------------------------------------------ ClientSide
  closing(): boolean {
    return false;
  }

  pauseRequestBody(): void {
    if (this.stream) this.session.conn.pauseRequestBody(this.stream);
  }

  resumeRequestBody(): void {
    if (this.stream) this.session.conn.resumeRequestBody(this.stream);
  }

  requestBodyWanted(): void {
    this.cliDeadline = deadlineAfter(this.session.worker.now(), this.session.fe.config.timeouts.client);
  }

  sendContinue(): void {
    if (this.stream) this.session.conn.respondHead(this.stream, 100, null, false);
  }

  sendInterim(res: HeadTable): boolean {
    if (this.stream && res.status !== 101) this.session.conn.respondHead(this.stream, res.status, res, false);
    return true;
  }

  sendResponseHead(res: HeadTable, extras: string, buf: Buffer, headEnd: number, bodyEnd: number): boolean {
    const stream = this.stream;
    if (!stream) return true;
    const ex = this.ex!;
    const body = ex.resBody;
    this.bytesWritten += headEnd - res.start;
    // A transformed body (./pipeline.ts) comes de-chunked through sendTransformed() and ends with endTransformed().
    const transformed = ex.bodyTransform !== null;
    const end = !transformed && body.done && body.keptEnd === headEnd;
    this.chunkedDown = !transformed && body.mode === BODY_CHUNKED;
    if (this.chunkedDown) this.dechunker.reset();
    this.session.conn.respondHead(stream, res.status, extras ? withExtras(res, extras) : res, end);
    if (end) this.ended = true;
    return bodyEnd > headEnd ? this.sendBody(buf, headEnd, bodyEnd) : true;
  }

  sendBody(buf: Buffer, start: number, end: number): boolean {
    if (!this.stream) return true;
    if (this.chunkedDown) return this.dechunker.feed(buf, start, end, this);
    const body = this.ex!.resBody;
    const last = body.done && end === body.keptEnd;
    if (last) this.ended = true;
    return this.data(buf, start, end, last);
  }

  sendTransformed(buf: Buffer, start: number, end: number): boolean {
    if (!this.stream) return true;
    return this.data(buf, start, end, false);
  }

  endTransformed(trailers: string): void {
    this.chunkedEnd(trailers);
  }

  chunkData(buf: Buffer, start: number, end: number): boolean {
    return this.data(buf, start, end, false);
  }

  chunkedEnd(trailers: string): void {
    const stream = this.stream;
    if (!stream) return;
    this.ended = true;
    if (trailers) this.session.conn.writeTrailers(stream, addTrailers(trailers, new HeaderList()));
    else this.session.conn.writeData(stream, EMPTY, 0, 0, true);
  }

  private data(buf: Buffer, start: number, end: number, last: boolean): boolean {
    this.bytesWritten += end - start;
    if (this.session.conn.writeData(this.stream!, buf, start, end, last)) return true;
    this.cliDeadline = deadlineAfter(this.session.worker.now(), this.session.fe.config.timeouts.client);
    return false;
  }

  sendLocal(msg: Buffer): void {
    const stream = this.stream;
    if (!stream) return;
    const head = this.session.localHead;
    const n = head.parse(msg, 0, msg.length);
    if (n <= 0) {
      this.session.conn.reset(stream, E_CANCEL);
      return;
    }
    this.ended = true;
    this.bytesWritten += msg.length;
    const bodyless = n === msg.length || this.ex!.isHead;
    this.session.conn.respondHead(stream, head.status, head, bodyless);
    if (!bodyless) this.session.conn.writeData(stream, msg, n, msg.length, true);
    head.release();
  }

  exchangeDone(): void {
    this.exDone = true;
    const stream = this.stream;
    if (!stream) releaseLater(this);
    else if (!this.ended) {
      // A body delimited by the server's close: its end is known only now (the stream's close releases the side).
      this.ended = true;
      this.session.conn.writeData(stream, EMPTY, 0, 0, true);
    }
  }

  startTunnel(): boolean {
    return true;
  }

  sendTunnel(): boolean {
    return true;
  }

  endTunnel(): void {}

  abort(): void {
    this.exDone = true;
    const stream = this.stream;
    if (stream) this.session.conn.reset(stream, E_CANCEL);
    else releaseLater(this);
  }
}

/** Sides whose exchange ended inside a call of that exchange: released once it returned. */
const toRelease: H2StreamSide[] = [];

function releaseLater(side: H2StreamSide): void {
  if (toRelease.push(side) === 1) queueMicrotask(releaseSides);
}

function releaseSides(): void {
  for (let i = 0; i < toRelease.length; i++) toRelease[i].release();
  toRelease.length = 0;
}

function noop(): void {}

interface SessionSocket extends net.Socket {
  h2Session?: H2Session;
}

function onSocketChunk(this: SessionSocket, n: number, buf: Buffer): void {
  this.h2Session!.onClientData(buf, n);
}

function onSocketDrain(this: SessionSocket): void {
  this.h2Session!.conn.onSinkDrain();
}

/** The client sends nothing more: the streams it opened finish, then the connection ends. */
function onSocketEnd(this: SessionSocket): void {
  this.h2Session!.goAway();
}

function onSocketClose(this: SessionSocket): void {
  this.h2Session!.onClientClose();
}
