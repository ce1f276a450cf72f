/**
 * The exchange: one HTTP request and its response, whatever protocol the client
 * speaks, as the pipeline's modules see it (./pipeline.ts lists what they may read
 * and change): the request and response heads (header tables, ./head.ts), the
 * body framing facts, the sample context fetches read, the connection, routing
 * and the modules' per-request state, and the lines modules add to each head.
 *
 * A client-side session (src/http1/session.ts today, an HTTP/2 stream later) fills
 * the request and implements ClientSide; ./proxy-exchange.ts runs the exchange
 * against the server. Exchanges come from a per-worker pool: an idle client
 * connection holds none.
 */
import type { BackendRuntime, FrontendRuntime, ServerRuntime } from '../worker/runtime';
import type { ConnectionInfo, WorkerContext } from '../worker/connection';
import { countStatus } from '../worker/counters';
import type { HttpTransaction } from '../log/transaction';
import { BODY_CHUNKED, BodyFramer } from '../http1/body';
import { HeadParser } from '../http1/parser';
import { closingResponse, defaultErrorResponse, isDefaultResponse, okResponse, redirectResponse } from '../http1/errors';
import type * as net from 'node:net';
import { AddedNames } from './added-lines';
import type { HeadTable } from './head';
import { DONE, runEvent, runLocal, runPage, type BodyTransform } from './pipeline';
import { TransformedBody } from './transformed-body';
import type { CompressionChoice } from './modules/compression';
import { HttpBalanceKey, HttpSampleContext } from './sample';
import type { CookieRequest } from './modules/cookie';
import type { CacheWrite } from './cache/write';

/**
 * What the exchange needs from the client's side (the HTTP/1 session, an HTTP/2
 * stream). Each `send…` returns false when the client is full: the exchange then
 * stops reading the server until the client side calls clientDrained().
 */
export interface ClientSide {
  /** The client's TCP connection (connection-level state, such as stick counters, ends with it). */
  readonly sock: net.Socket;
  /** The connection will not be kept after this exchange (HTTP/1: close asked, draining, half-closed). */
  closing(): boolean;
  pauseRequestBody(): void;
  resumeRequestBody(): void;
  /** The server is connected and waits for the request body: the wait for it starts now (`timeout client`). */
  requestBodyWanted(): void;
  /** tslb's own `100 Continue` to a client that sent `Expect: 100-continue` (HTTP/1.1 clients; HTTP/2: a `:status 100` HEADERS frame). */
  sendContinue(): void;
  /** An interim (1xx) response head, `buf[res.start..headEnd)`. */
  sendInterim(res: HeadTable, buf: Buffer, headEnd: number): boolean;
  /** The final response head with the `extras` lines added, then body bytes `buf[headEnd..bodyEnd)` of the same read. */
  sendResponseHead(res: HeadTable, extras: string, buf: Buffer, headEnd: number, bodyEnd: number): boolean;
  /** Response body bytes `buf[start..end)` (a view of a read buffer: copy what outlives the call). */
  sendBody(buf: Buffer, start: number, end: number): boolean;
  /** Output of the exchange's body transform (./pipeline.ts), framed for the client (HTTP/1.1: a chunk); false when full. */
  sendTransformed(buf: Buffer, start: number, end: number): boolean;
  /** The transformed body is complete; `trailers`: the server's trailer lines (`Name: value` separated by LF, '' when none). */
  endTransformed(trailers: string): void;
  /** A complete response made by tslb (error page, redirect), as HTTP/1 bytes. */
  sendLocal(msg: Buffer): void;
  /** The exchange is over; `keepAlive` false: close the connection after what was sent. */
  exchangeDone(keepAlive: boolean): void;
  /** 101 Switching Protocols, head `buf[res.start..headEnd)` and the first tunnelled bytes up to `end`. */
  startTunnel(res: HeadTable, buf: Buffer, headEnd: number, end: number): boolean;
  /** Tunnelled bytes from the server. */
  sendTunnel(buf: Buffer, start: number, end: number): boolean;
  /** The server ended the tunnel. */
  endTunnel(): void;
  /** Cut the client connection now. */
  abort(): void;
}

export abstract class HttpExchange {
  /** The request head: parsed by the HTTP/1 session, or filled as a table by another protocol. */
  readonly req = new HeadParser(true);
  /** The server's response head. */
  readonly res = new HeadParser(false);
  /** The request body's HTTP/1 framing (the HTTP/1 session's). */
  readonly reqBody = new BodyFramer();
  /** The server's response body framing. */
  readonly resBody = new BodyFramer();
  readonly ctx = new HttpSampleContext(this.req, this.res, this);
  readonly key = new HttpBalanceKey(this.ctx);

  // The client connection, set when the exchange is taken from the pool.
  fe!: FrontendRuntime;
  info!: ConnectionInfo;
  worker!: WorkerContext;
  client!: ClientSide;
  /** Timers and outcome for the log phase. */
  tx!: HttpTransaction;

  // Request facts, set by the client side before begin().
  /** A HEAD request: the response has no body. */
  isHead = false;
  /** A protocol upgrade (WebSocket) is asked. */
  isUpgrade = false;
  /** The whole request body was received. */
  reqDone = false;

  // Routing and the modules' per-request state (reset by begin()).
  backend: BackendRuntime | null = null;
  /** The server holding this request's slot. */
  server: ServerRuntime | null = null;
  /** The server persistence names (cookie, stick table): it gets the request if it can serve it. */
  forced: ServerRuntime | undefined = undefined;
  stickKey: string | undefined = undefined;
  /** The stick counters (bit n: scN) an http-request track-sc started for this request; they stop with it. */
  requestTracked = 0;
  cookie: CookieRequest | undefined = undefined;
  /** The URL's cache key, computed by http-request cache-use (none: nothing is stored). */
  cacheKey: string | undefined = undefined;
  /** The response being stored by http-response cache-store, fed by the cache module's responseBody. */
  cacheWrite: CacheWrite | undefined = undefined;
  /** The encoding the compression module chose for this request's response (undefined: none). */
  compression: CompressionChoice | undefined = undefined;
  /** The transform the response body goes through (./pipeline.ts), null when none. */
  bodyTransform: BodyTransform | null = null;
  /** Feeds the server's body to `bodyTransform`; made for the first transformed response of this pooled exchange. */
  protected transformed: TransformedBody | null = null;
  /** Holds a tarpitted request until its answer. */
  private tarpitTimer: NodeJS.Timeout | undefined = undefined;
  /** Bumped when the exchange is cut or ends: a wait (waitFor) started before it restarts nothing. */
  protected heldToken = 0;
  /** Header lines (`Name: value\r\n`) added to the request to the server. */
  reqExtras = '';
  /** Header lines added to the response to the client. */
  resExtras = '';
  /** Which names `reqExtras`/`resExtras` may have, so rules and fetches walk them only when needed (./added-lines.ts). */
  readonly reqAddedNames = new AddedNames();
  readonly resAddedNames = new AddedNames();
  /** The afterResponse phase runs for tslb's own answer (`res` is not the response). */
  localAnswer = false;
  /** The exchange leaves no access-log line (monitor-uri requests, as HAProxy); reset by the log phase. */
  unlogged = false;
  /** The http-request rule a rule set goes on from when its request phase function runs again after a body wait (0: the first). */
  ruleResume = 0;

  /** Closes the server connection, if any: its response will not be relayed. */
  protected abstract dropUpstream(): void;
  /** The exchange ended without (more of) the server's response: let go of the server's slot. */
  protected abstract serverDone(): void;

  // ------------------------------------------------------------ module API
  addRequestHeader(name: string, value: string): void {
    this.reqExtras += `${name}: ${value}\r\n`;
  }

  addResponseHeader(name: string, value: string): void {
    this.resExtras += `${name}: ${value}\r\n`;
  }

  /**
   * In `response`: the body goes to the client through `t` (./pipeline.ts, "Body
   * transforms"); the server's Content-Length and Transfer-Encoding lines are dropped.
   * False (and `t` unused) when another transform was installed first.
   */
  transformBody(t: BodyTransform): boolean {
    if (this.bodyTransform !== null) return false;
    const tb = this.transformed ?? (this.transformed = new TransformedBody());
    tb.start(t, this.resBody.mode === BODY_CHUNKED);
    this.bodyTransform = t;
    this.res.dropNamed('content-length');
    this.res.dropNamed('transfer-encoding');
    return true;
  }

  /** The transform's output, to the client; false when the client is full (hold output until the transform's resume()). */
  abstract transformOutput(buf: Buffer, start: number, end: number): boolean;
  /** The transform can take more input: the server is read again. */
  abstract transformDrained(): void;
  /** The transform sent all its output: the exchange ends. */
  abstract transformEnded(): void;
  /** The transform failed: the exchange is cut. */
  abstract transformFailed(): void;

  /**
   * Answer with `status` instead of the server (its page from the localPage phase,
   * else the built-in one); `close` closes the client connection after it. `term`:
   * the log's termination state, derived from the status when ''. Returns DONE.
   */
  answer(status: number, close = false, term = ''): number {
    this.dropUpstream();
    const msg = this.localPage(status);
    countStatus(this.fe.counters, status);
    if (this.backend) countStatus(this.backend.counters, status);
    // Built-in 4xx/5xx without `Connection: close` keep the connection; errorfiles have no known framing.
    const keepAlive = msg !== null && !close && this.reqDone && !this.client.closing() && isDefaultResponse(msg);
    if (msg) this.sendLocal(keepAlive ? msg : closingResponse(msg));
    this.log(term, status);
    this.endLocal(keepAlive);
    return DONE;
  }

  /** A message tslb answers with now must say `Connection: close` (the request is not all read, or the client side closes). */
  localCloses(): boolean {
    return !this.reqDone || this.client.closing();
  }

  /**
   * Answer with a message tslb built whose framing it knows (`return`, a deny with a
   * body), made with `Connection: close` when localCloses() said so. Returns DONE.
   */
  answerWith(status: number, msg: Buffer, close: boolean, term: string): number {
    this.dropUpstream();
    countStatus(this.fe.counters, status);
    if (this.backend) countStatus(this.backend.counters, status);
    this.sendLocal(msg);
    this.log(term, status);
    this.endLocal(!close);
    return DONE;
  }

  /**
   * http-request tarpit: answer with `status` (the connection then closed) after `ms`,
   * unless the client leaves first (cancelHeld). Returns DONE.
   */
  tarpit(ms: number, status: number): number {
    this.tarpitTimer = setTimeout(() => {
      this.tarpitTimer = undefined;
      this.answer(status, true, 'PT');
    }, ms);
    return DONE;
  }

  /**
   * Hold the request until `ready` settles, then run its phases again from the start
   * (begin()): for work a phase would otherwise do synchronously and at length (a
   * bcrypt check), done meanwhile without holding the event loop. Only a module that
   * runs before any other may ask (nothing has happened to the request yet). Returns DONE.
   */
  waitFor(ready: Promise<unknown>): number {
    const token = ++this.heldToken;
    this.client.pauseRequestBody();
    void ready.then(() => {
      if (token === this.heldToken) this.begin();
    });
    return DONE;
  }

  /** The request's phases, routing and the server's request (./proxy-exchange.ts). */
  abstract begin(): void;

  /**
   * In `request` (option http-buffer-request, http-request wait-for-body): CONTINUE when
   * the request body is in (complete, the buffer full, or at least `atLeast` payload
   * bytes; 0: no such bound), else the request waits for it, DONE: the phase function
   * that asked runs again once it is (an http-request rule set goes on from
   * `ruleResume`), or the client gets 408 after `ms` (0: no limit). The rules then read
   * it (`ctx.body`); it goes to the server unchanged.
   */
  abstract waitForBody(ms: number, atLeast: number): number;

  /** The client left or the exchange was cut: forget a tarpit's answer and a wait's restart. */
  protected cancelHeld(): void {
    this.heldToken++;
    if (this.tarpitTimer === undefined) return;
    clearTimeout(this.tarpitTimer);
    this.tarpitTimer = undefined;
  }

  /** Answer with a redirect to `location` (HAProxy's: empty body, no-cache). Returns DONE. */
  redirect(code: number, location: string): number {
    const close = this.localCloses();
    return this.answerWith(code, redirectResponse(code, location, close), close, 'LR');
  }

  /** Answer 200 with `body` (text of type `contentType`) instead of the server. Returns DONE. */
  ok(contentType: string, body: string): number {
    const close = this.localCloses();
    return this.answerWith(200, okResponse(contentType, body, close), close, 'LR');
  }

  /**
   * A message tslb made, to the client: edited by the proxies' localResponse functions
   * (http-after-response rules; backend, then frontend), then given the lines of the
   * afterResponse phase (HSTS, security headers).
   */
  private sendLocal(msg: Buffer): void {
    if (this.backend && this.backend.pipeline.localResponse.length) msg = runLocal(this.backend.pipeline.localResponse, this, msg);
    if (this.fe.pipeline.localResponse.length) msg = runLocal(this.fe.pipeline.localResponse, this, msg);
    this.client.sendLocal(this.afterLocal(msg));
  }

  private localPage(status: number): Buffer | null {
    const page = this.backend ? runPage(this.backend.pipeline.localPage, this, status) : undefined;
    if (page !== undefined) return page;
    const fePage = runPage(this.fe.pipeline.localPage, this, status);
    return fePage !== undefined ? fePage : defaultErrorResponse(status);
  }

  /** `msg` with the lines the afterResponse phase adds to tslb's own answers (none: `msg` itself). */
  private afterLocal(msg: Buffer): Buffer {
    this.resExtras = '';
    this.localAnswer = true;
    if (this.backend) runEvent(this.backend.pipeline.afterResponse, this);
    runEvent(this.fe.pipeline.afterResponse, this);
    this.localAnswer = false;
    if (this.resExtras === '') return msg;
    const at = msg.indexOf('\r\n\r\n') + 2;
    if (at < 2) return msg;
    return Buffer.concat([msg.subarray(0, at), Buffer.from(this.resExtras, 'latin1'), msg.subarray(at)]);
  }

  private endLocal(keepAlive: boolean): void {
    this.heldToken++;
    this.serverDone();
    this.backend = null;
    this.client.exchangeDone(keepAlive);
  }

  /** The log phase over the transaction's outcome. */
  protected log(term: string, status: number): void {
    const tx = this.tx;
    tx.close(term, status, this.backend);
    runEvent(this.fe.pipeline.log, this);
    if (this.backend) runEvent(this.backend.pipeline.log, this);
    tx.reset();
    this.unlogged = false;
    // The request's buffered body ends with it (a pipelined request refused before its rules logs none of it).
    if (this.ctx.body !== undefined) {
      this.ctx.body.release();
      this.ctx.body = undefined;
    }
  }
}
