/**
 * The server side of a proxied exchange up to a connected server: a slot on a server
 * (queueing while all are full), the connect phase, the connection (pooled or new),
 * and HAProxy's retries and redispatch when connecting fails. ProxyExchange
 * (./proxy-exchange.ts) extends it with the request and response relay. A class
 * level rather than a helper object: nothing more is allocated or called through
 * per request.
 */
import type * as net from 'node:net';
import type { ServerRuntime } from '../worker/runtime';
import type { QueueEntry, SlotWaiter } from '../worker/queue';
import { connectUpstream, type UpstreamWaiter } from '../worker/upstream';
import { sessionOpened } from '../worker/counters';
import { dropSession, holdSession, observe, OBS_L4_ERR, OBS_L4_OK, type ServerSession } from '../worker/passive-health';
import { HttpExchange } from './exchange';
import { takeIdle, Upstream } from './pool';
import { runEvent } from './pipeline';

// Where the exchange is with its server.
export const X_IDLE = 0; // no request in progress (not begun, answered or over)
export const X_CONNECT = 1; // request accepted, getting a server slot and a connection
export const X_EXCHANGE = 2; // request/response in flight
export const X_TUNNEL = 3; // after 101 Switching Protocols
export const X_FLUSH = 4; // the server's response is read, its body transform still sends output

export abstract class ServerSlotExchange extends HttpExchange implements UpstreamWaiter, SlotWaiter, ServerSession {
  protected state = X_IDLE;
  private attempts = 0;
  private retryServer: ServerRuntime | undefined = undefined;
  private avoid: ServerRuntime | undefined = undefined;
  queueEntry: QueueEntry | null = null;
  private awaitingSlot = false;
  /** A connect callback is on its way. */
  private connecting = false;
  /** The server's `moves` when that connect started (the address it went to). */
  private connectMoves = 0;
  /** A slot grant may still arrive for an ended request: never pooled again. */
  private stale = false;

  /** A connection to `this.server` is ready for the request. */
  protected abstract attach(up: Upstream): void;

  abstract shutdown(cause: 'D' | 'U'): void;

  /** The request is ready for a server: take a slot (or queue) and connect, with the backend's retries. */
  protected startConnect(): void {
    this.state = X_CONNECT;
    this.attempts = 0;
    this.retryServer = undefined;
    this.avoid = undefined;
    this.connect();
  }

  /** The server closed a pooled connection as it was reused: connect again to the same server (slot kept). */
  protected reconnect(): void {
    this.state = X_CONNECT;
    this.connecting = true;
    this.connectMoves = this.server!.moves;
    connectUpstream(this.server!, this.info, this.backend!.config.timeouts.connect, this);
  }

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
    if (!server) {
      this.answer(503, !this.reqDone);
      return;
    }
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
    this.answer(503, !this.reqDone, 'sQ');
  }

  /** The slot on `server` is held: count it, run the connect phase, connect. */
  private useServer(server: ServerRuntime): void {
    const backend = this.backend!;
    this.server = server;
    holdSession(server, this);
    this.tx.assigned(server);
    runEvent(this.fe.pipeline.connect, this);
    runEvent(backend.pipeline.connect, this);
    backend.counters.lbTotal++;
    server.counters.lbTotal++;
    sessionOpened(backend.counters);
    sessionOpened(server.counters);
    const up = takeIdle(server, this.worker.now());
    if (up) return this.attach(up);
    this.connecting = true;
    this.connectMoves = server.moves;
    connectUpstream(server, this.info, backend.config.timeouts.connect, this);
  }

  upstreamConnected(err: Error | null, socket?: net.Socket): void {
    this.connecting = false;
    if (this.state !== X_CONNECT) {
      socket?.destroy();
      return;
    }
    if (err || !socket) return this.connectFailed();
    observe(this.server!, OBS_L4_OK);
    this.attach(new Upstream(socket, this.server!, this.connectMoves));
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
    if (this.attempts++ >= retries) {
      this.answer(503, !this.reqDone);
      return;
    }
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

  /** Done with the server (or the queue); `keepSlot` for a retry on the same server. */
  protected releaseServer(keepSlot = false): void {
    if (this.awaitingSlot) {
      this.awaitingSlot = false;
      // Out of the queue already: a slot grant is on its way to this object.
      if (!this.queueEntry) this.stale = true;
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

  /** May go back to the pool: no callback of an earlier request can still reach it. */
  get reusable(): boolean {
    return !this.connecting && !this.stale;
  }
}
