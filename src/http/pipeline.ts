/**
 * The L7 pipeline: every HTTP feature is a module that plugs into the phases of an
 * exchange, the same for every client protocol (the HTTP/1 session today, HTTP/2
 * streams later). In the manner of HAProxy's filters, Pingora's `ProxyHttp` phases
 * and Envoy's filter chain.
 *
 * ## Writing a module
 *
 * A module is one object built from its proxy's config by its definition's
 * `create(scope)`, once per frontend and once per backend when the runtime is built
 * from the model (on every reload). `create` returns null when the config does not
 * use the feature: the proxy then has no entry for it and it costs nothing per
 * request. The object implements the phases it needs as methods; each is bound once
 * and kept in a plain array per phase (`Pipeline`), so no closure is made per
 * request. Per-request state lives in the exchange (fields named for the module),
 * never in the module object, which every request of the proxy shares.
 *
 * ## Phases, in the order an exchange runs them
 *
 * | phase              | proxies, in order     | what the exchange holds                         | typical use                            |
 * |--------------------|-----------------------|-------------------------------------------------|----------------------------------------|
 * | `request`          | frontend, backend¹    | `req` parsed, the sample context                | http-request rules: deny, redirect, headers |
 * | `choose`           | frontend, backend     | `backend` chosen by routing                     | persistence: name the server (`forced`) |
 * | `upstreamRequest`  | frontend, backend     | the request about to be built for the server    | X-Forwarded-*, cookie edits             |
 * | `connect`          | frontend, backend     | `server` assigned (again on a retry)            | stick-table store                       |
 * | `upstreamResponse` | backend, frontend     | `res` as the server sent it                     | http-response rules                     |
 * | `response`         | backend, frontend     | the response about to go to the client          | persistence cookie, compression         |
 * | `responseBody`     | backend, frontend     | each chunk of response body (read-only tap)     | cache store                             |
 * | `afterResponse`    | backend, frontend     | any final response: the server's, or tslb's own | HSTS, security headers                  |
 * | `log`              | frontend, backend     | the outcome in `ex.tx`, whatever the ending     | access log                              |
 * | `localPage`        | backend, frontend     | tslb answers itself with a status               | error pages (errorfiles)                |
 * | `localResponse`    | backend, frontend     | the answer tslb made (page, redirect, return)   | http-after-response rules               |
 *
 * ¹ The frontend's functions run before routing, the backend's once routing chose it.
 *
 * A phase function returns a verdict: `CONTINUE`, or `DONE` when it ended the
 * exchange itself (it answered with `ex.answer()` / `ex.redirect()`): no later
 * function or phase runs. `connect` and `log` functions return nothing: the
 * exchange goes on whatever they do. `localPage` returns the message to send
 * (a complete HTTP/1 message, as HAProxy's errorfiles), `null` to close without
 * one, or `undefined` to leave the choice to the next module and finally to the
 * built-in page. `afterResponse` functions return nothing: they add lines to every
 * final response head the client gets, the server's (after `response`) and tslb's
 * own answers (error pages, redirects, monitor), where the lines earlier phases
 * added are gone (as HAProxy's http-after-response).
 *
 * What a phase function may do with the exchange (src/http/exchange.ts):
 * - read the heads (`ex.req`, `ex.res`: header tables, see src/http/head.ts), the
 *   sample context `ex.ctx` (what ACL fetches read) and the connection `ex.info`;
 * - remove a header: `ex.req.dropNamed('x-name')` (a mark, nothing is copied; fetches
 *   and later rules no longer see it);
 * - add a header: `ex.addRequestHeader(name, value)` in `request`/`choose`/`upstreamRequest`,
 *   `ex.addResponseHeader(name, value)` in `upstreamResponse`/`response` (one line
 *   builder per direction, written into the head when it goes out; fetches read its
 *   lines after the head's own, ./added-lines.ts);
 * - answer instead of the server: `return ex.answer(status)` or
 *   `return ex.redirect(code, location)` (any phase before the response head is sent).
 * - replace the response body: `ex.transformBody(t)` in `response` (see below).
 * - hold the request until its body is buffered: `return ex.waitForBody(ms, atLeast)` in
 *   `request` (CONTINUE when it is in; else DONE, and the function runs again once it is,
 *   ./request-body.ts); the rules then read it through `ex.ctx.body`.
 *
 * ## Body transforms (compression)
 *
 * A `response` function may install one BodyTransform for the exchange with
 * `ex.transformBody(t)` (a second one is refused: the first wins). The body's length
 * then changes, so the exchange drops the server's Content-Length and
 * Transfer-Encoding lines; the client side frames what the transform produces:
 * HTTP/1.1 as chunked (`Transfer-Encoding: chunked` added), HTTP/1.0 delimited by
 * the close, HTTP/2 as DATA frames. The exchange feeds the transform the server's
 * payload, de-chunked (`write`; a view valid during the call only: copy what is
 * kept), and `end()` once it is complete. The transform hands its output to
 * `ex.transformOutput()` and says when it is done with `ex.transformEnded()`
 * (the exchange then ends, with the server's trailers if any) or failed with
 * `ex.transformFailed()`. Backpressure both ways, memory bounded by the
 * transform's own buffers: `write` returning false stops the server reads until
 * the transform calls `ex.transformDrained()`; `transformOutput` returning false
 * means the client is full: hold the output until `resume()`. `destroy()` is
 * called when the exchange ends early. The server connection goes back to the pool
 * as soon as its response is read, the flush does not hold it.
 *
 * The `responseBody` tap is separate and sees the server's bytes as they came
 * (before the transform, chunk framing included); tslb's own answers (errors,
 * redirects, local answers) are never transformed.
 */
import type { Backend, Frontend, Global } from '../config/model';
import type { BackendRuntime } from '../worker/runtime';
import type { HttpExchange } from './exchange';

/** The phase function let the exchange go on. */
export const CONTINUE = 0;
/** The phase function ended the exchange (answered it locally): nothing later runs. */
export const DONE = 1;

export type PhaseFn = (ex: HttpExchange) => number;
export type BodyFn = (ex: HttpExchange, buf: Buffer, start: number, end: number) => number;
export type EventFn = (ex: HttpExchange) => void;
export type PageFn = (ex: HttpExchange, status: number) => Buffer | null | undefined;
export type LocalFn = (ex: HttpExchange, msg: Buffer) => Buffer;

/** A feature's phase functions; each is optional. */
export interface HttpModule {
  request?(ex: HttpExchange): number;
  choose?(ex: HttpExchange): number;
  upstreamRequest?(ex: HttpExchange): number;
  connect?(ex: HttpExchange): void;
  upstreamResponse?(ex: HttpExchange): number;
  response?(ex: HttpExchange): number;
  /** Response body bytes `buf[start..end)` on their way to the client (a view: copy what you keep). */
  responseBody?(ex: HttpExchange, buf: Buffer, start: number, end: number): number;
  afterResponse?(ex: HttpExchange): void;
  log?(ex: HttpExchange): void;
  localPage?(ex: HttpExchange, status: number): Buffer | null | undefined;
  /** An answer tslb made (a complete HTTP/1 message) on its way to the client: the message to send instead. */
  localResponse?(ex: HttpExchange, msg: Buffer): Buffer;
}

/** The proxy a module is built for. */
export type ModuleScope =
  | { kind: 'frontend'; config: Frontend; global: Global }
  | { kind: 'backend'; config: Backend; runtime: BackendRuntime };

export interface ModuleDefinition {
  name: string;
  /** The module for this proxy, or null when its config does not use the feature. */
  create(scope: ModuleScope): HttpModule | null;
}

/** A response body transform (see "Body transforms" above), one per exchange that uses it. */
export interface BodyTransform {
  /** Payload bytes `buf[start..end)` (a view: copy what is kept); false when full: wait before writing more. */
  write(buf: Buffer, start: number, end: number): boolean;
  /** The payload is complete: send the rest of the output, then call `ex.transformEnded()`. */
  end(): void;
  /** The client can take more output. */
  resume(): void;
  /** The exchange ended early: let go of everything, send nothing more. */
  destroy(): void;
}

/** One proxy's modules, compiled into an array of bound functions per phase. */
export class Pipeline {
  /** Names of the modules built for this proxy, in order. */
  readonly modules: string[] = [];
  readonly request: PhaseFn[] = [];
  readonly choose: PhaseFn[] = [];
  readonly upstreamRequest: PhaseFn[] = [];
  readonly connect: EventFn[] = [];
  readonly upstreamResponse: PhaseFn[] = [];
  readonly response: PhaseFn[] = [];
  readonly responseBody: BodyFn[] = [];
  readonly afterResponse: EventFn[] = [];
  readonly log: EventFn[] = [];
  readonly localPage: PageFn[] = [];
  readonly localResponse: LocalFn[] = [];

  /** Appends a module's phase functions after those already there. */
  add(name: string, m: HttpModule): void {
    this.modules.push(name);
    if (m.request) this.request.push(m.request.bind(m));
    if (m.choose) this.choose.push(m.choose.bind(m));
    if (m.upstreamRequest) this.upstreamRequest.push(m.upstreamRequest.bind(m));
    if (m.connect) this.connect.push(m.connect.bind(m));
    if (m.upstreamResponse) this.upstreamResponse.push(m.upstreamResponse.bind(m));
    if (m.response) this.response.push(m.response.bind(m));
    if (m.responseBody) this.responseBody.push(m.responseBody.bind(m));
    if (m.afterResponse) this.afterResponse.push(m.afterResponse.bind(m));
    if (m.log) this.log.push(m.log.bind(m));
    if (m.localPage) this.localPage.push(m.localPage.bind(m));
    if (m.localResponse) this.localResponse.push(m.localResponse.bind(m));
  }
}

/** The pipeline of one proxy: the modules `definitions` build for it, in order. */
export function compilePipeline(definitions: readonly ModuleDefinition[], scope: ModuleScope): Pipeline {
  const p = new Pipeline();
  for (const def of definitions) {
    const m = def.create(scope);
    if (m) p.add(def.name, m);
  }
  return p;
}

/** Runs one proxy's functions of a phase: CONTINUE, or DONE as soon as one ends the exchange. */
export function runPhase(fns: readonly PhaseFn[], ex: HttpExchange): number {
  for (let i = 0; i < fns.length; i++) if (fns[i](ex) !== CONTINUE) return DONE;
  return CONTINUE;
}

/** Runs an event phase's functions. */
export function runEvent(fns: readonly EventFn[], ex: HttpExchange): void {
  for (let i = 0; i < fns.length; i++) fns[i](ex);
}

/** Runs a response-body phase's functions over `buf[start..end)`. */
export function runBody(fns: readonly BodyFn[], ex: HttpExchange, buf: Buffer, start: number, end: number): number {
  for (let i = 0; i < fns.length; i++) if (fns[i](ex, buf, start, end) !== CONTINUE) return DONE;
  return CONTINUE;
}

/** The first page a localPage function gives (a message, or null: close without one); undefined when none does. */
export function runPage(fns: readonly PageFn[], ex: HttpExchange, status: number): Buffer | null | undefined {
  for (let i = 0; i < fns.length; i++) {
    const page = fns[i](ex, status);
    if (page !== undefined) return page;
  }
  return undefined;
}

/** Runs the localResponse functions over a message tslb made, each given the previous one's. */
export function runLocal(fns: readonly LocalFn[], ex: HttpExchange, msg: Buffer): Buffer {
  for (let i = 0; i < fns.length; i++) msg = fns[i](ex, msg);
  return msg;
}
