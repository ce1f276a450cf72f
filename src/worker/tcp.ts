/**
 * The L4 (`mode tcp`) data path: route the connection, pick a server, connect with
 * `timeout connect` (retries, then redispatch on the last retry, as HAProxy's
 * `option redispatch` default), then tunnel bytes both ways with backpressure and
 * half-close: a FIN from one side is forwarded as a FIN to the other while the
 * opposite direction keeps flowing.
 *
 * Socket event handlers are shared functions that find their session through a
 * property on the socket, so a connection costs no closures beyond one
 * connect callback.
 */
import type * as net from 'node:net';
import type { BalanceKey } from '../balance/balancer';
import type { ClientCertificate, SampleContext } from '../rules/context';
import type { ConnectionInfo, WorkerContext } from './connection';
import { sessionOpened } from './counters';
import type { BackendRuntime, FrontendRuntime, ServerRuntime } from './runtime';
import type { QueueEntry, SlotWaiter } from './queue';
import { connectUpstream, type UpstreamWaiter } from './upstream';
import { dropSession, holdSession, observe, OBS_L4_ERR, OBS_L4_OK, type ServerSession } from './passive-health';
import { TcpTransaction } from '../log/transaction';
import { DEFAULT_INSPECT_DELAY_MS, HelloInspection, type ClientHello } from './clienthello';
import { forward, READ_BUFFER_SIZE, readThrough, retain } from './socket-io';
import type { Trackers } from '../stick/worker';
import { admit } from '../stick/tcp-rules';

/** HAProxy waits this long (at most, bounded by `timeout connect`) before retrying the same server. */
const RETRY_TURNAROUND_MS = 1000;

/** The connection-stage sample context for tcp rules: no request, no response. */
export class ConnectionSampleContext implements SampleContext {
  readonly stage = 'connection' as const;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly ssl: boolean;
  readonly sni: string | undefined;
  readonly clientCert: ClientCertificate | undefined;
  readonly clientHelloSni: string | undefined;
  readonly clientHelloType: number | undefined;

  constructor(
    private readonly info: ConnectionInfo,
    readonly frontend: string,
    hello?: ClientHello,
  ) {
    this.src = info.src;
    this.srcPort = info.srcPort;
    this.dst = info.dst;
    this.dstPort = info.dstPort;
    this.ssl = info.ssl;
    this.sni = info.sni;
    this.clientCert = info.clientCert;
    this.clientHelloSni = hello?.sni;
    this.clientHelloType = hello?.type;
  }

  /** The connection's stick counters, as tracked so far (rules of this connection may add some). */
  get trackers(): Trackers | undefined {
    return this.info.trackers;
  }

  method(): string {
    return '';
  }
  path(): string {
    return '';
  }
  url(): string {
    return '';
  }
  query(): string {
    return '';
  }
  version(): string {
    return '';
  }
  header(): string | undefined {
    return undefined;
  }
  headerValues(): string[] {
    return [];
  }
  status(): number {
    return 0;
  }
  responseHeader(): string | undefined {
    return undefined;
  }
  responseHeaderValues(): string[] {
    return [];
  }
}

function noHeader(): undefined {
  return undefined;
}

interface SessionSocket extends net.Socket {
  tcpSession?: TcpSession;
}

class TcpSession implements SlotWaiter, ServerSession, UpstreamWaiter {
  readonly key: BalanceKey;
  // Queueing (src/worker/runtime.ts) and `stick on` (./stick.ts).
  queueEntry: QueueEntry | null = null;
  awaitingSlot = false;
  stickKey: string | undefined;
  server: SessionSocket | undefined;
  /** Server currently holding a slot (take/release) for this session. */
  srv: ServerRuntime | undefined;
  /** Connection attempts that failed so far. */
  failures = 0;
  connecting = false;
  clientClosed = false;
  serverClosed = false;
  finished = false;
  retryTimer: NodeJS.Timeout | undefined;
  /** Bytes from and to the client, for the log (direct writes bypass the socket's counters). */
  bytesRead = 0;
  bytesWritten = 0;

  constructor(
    readonly client: SessionSocket,
    readonly fe: FrontendRuntime,
    readonly be: BackendRuntime,
    readonly info: ConnectionInfo,
    /** Timers and the access-log line of this connection. */
    readonly tx: TcpTransaction,
    /** What routing read (with the ClientHello when inspected); `stick on` reads it too. */
    readonly sample: ConnectionSampleContext,
    /** Bytes read before a server was connected (while inspecting, too), forwarded first once connected. */
    public payload: Buffer | undefined,
  ) {
    this.key = { src: info.src, path: '', uri: '', header: noHeader };
  }

  /** Get a server slot (avoiding `avoid` on redispatch; the stick-table's server first) and connect. */
  dispatch(avoid: ServerRuntime | undefined): void {
    const be = this.be;
    let forced: ServerRuntime | undefined;
    if (be.stick && !avoid) {
      this.stickKey ??= be.stick.key(this.sample);
      const s = this.stickKey === undefined ? undefined : be.stick.lookup(this.stickKey);
      if (s && s.persistable) forced = s;
    }
    const srv = be.acquire(this.key, avoid, forced, this);
    if (srv === null) {
      this.awaitingSlot = true;
      return;
    }
    if (!srv) return this.abort('SC');
    this.dispatched(srv, avoid);
  }

  slotGranted(srv: ServerRuntime): void {
    if (!this.awaitingSlot || this.clientClosed) {
      this.be.release(srv);
      return;
    }
    this.awaitingSlot = false;
    this.dispatched(srv, undefined);
  }

  /** `timeout queue` expired: close the client. */
  queueTimedOut(): void {
    this.awaitingSlot = false;
    this.abort('sQ');
  }

  private dispatched(srv: ServerRuntime, avoid: ServerRuntime | undefined): void {
    const be = this.be;
    if (this.stickKey !== undefined) be.stick!.store(this.stickKey, srv);
    if (avoid && srv !== avoid) {
      this.tx.redispatched = true;
      be.counters.redispatches++;
      avoid.counters.redispatches++;
    } else if (this.failures > 0) {
      be.counters.retries++;
      srv.counters.retries++;
    }
    srv.counters.lbTotal++;
    be.counters.lbTotal++;
    this.attempt(srv);
  }

  /** Connect to `srv`, whose slot this session holds. */
  attempt(srv: ServerRuntime): void {
    this.retryTimer = undefined;
    this.srv = srv;
    holdSession(srv, this);
    this.tx.assigned(srv);
    if (this.clientClosed) return this.finish();
    this.connecting = true;
    connectUpstream(srv, this.info, this.be.config.timeouts.connect, this);
  }

  upstreamConnected(err: Error | null, socket?: net.Socket): void {
    this.connecting = false;
    const srv = this.srv!;
    if (this.clientClosed) {
      socket?.destroy();
      return this.finish();
    }
    if (err || !socket) return this.connectFailed(srv);
    observe(srv, OBS_L4_OK);
    const be = this.be;
    this.tx.connAt = Date.now();
    sessionOpened(srv.counters);
    const server = socket as SessionSocket;
    this.server = server;
    server.tcpSession = this;
    server.allowHalfOpen = true;
    readThrough(server, onServerChunk);
    server.on('end', onServerEnd);
    server.on('drain', onServerDrain);
    server.on('error', onServerError);
    server.on('close', onServerClose);
    server.on('timeout', onTimeout);
    const client = this.client;
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    // `timeout tunnel`, when set, replaces client/server inactivity timeouts once both sides are connected.
    const tunnel = be.config.timeouts.tunnel;
    if (tunnel > 0) {
      client.setTimeout(tunnel);
      server.setTimeout(tunnel);
    } else server.setTimeout(be.config.timeouts.server);
    client.resume();
    const payload = this.payload;
    if (payload) {
      this.payload = undefined;
      onClientChunk.call(client, payload.length, payload);
    }
    // A FIN received while inspecting: forward it after the bytes.
    if (client.readableEnded) onClientEnd.call(client);
  }

  connectFailed(srv: ServerRuntime): void {
    const be = this.be;
    const retries = be.config.retries;
    this.failures++;
    observe(srv, OBS_L4_ERR);
    // The last retry goes to another server with `option redispatch`; a server that
    // became unusable meanwhile is never retried. A retry on the same server keeps its slot.
    const elsewhere = this.failures > retries || (be.config.redispatch && this.failures === retries) || !srv.usable;
    if (elsewhere) {
      be.release(srv);
      dropSession(srv, this);
      this.srv = undefined;
    }
    if (this.failures > retries) {
      be.counters.errConn++;
      srv.counters.errConn++;
      return this.abort('SC');
    }
    if (elsewhere) return this.dispatch(srv);
    be.counters.retries++;
    srv.counters.retries++;
    srv.counters.lbTotal++;
    be.counters.lbTotal++;
    // HAProxy waits min(1 s, timeout connect) before retrying; with no connect timeout, 1 s.
    const connect = be.config.timeouts.connect;
    const delay = connect > 0 ? Math.min(RETRY_TURNAROUND_MS, connect) : RETRY_TURNAROUND_MS;
    this.retryTimer = setTimeout(retrySameServer, delay, this, srv);
  }

  /** Close both sides now (error, timeout, no server); `term` is the log's termination state. */
  abort(term: string): void {
    this.tx.fail(term);
    this.client.destroy();
    this.server?.destroy();
  }

  /** Its server went DOWN (on-marked-down) or an active server came UP (on-marked-up): close both sides. */
  shutdown(cause: 'D' | 'U'): void {
    this.abort(cause + (this.server ? 'D' : 'C'));
  }

  /** Both sockets are gone: account the session once. */
  finish(): void {
    if (this.finished || this.connecting || this.retryTimer || !this.clientClosed) return;
    if (this.server && !this.serverClosed) return;
    this.finished = true;
    this.tx.end(this.be, this, this.failures);
    if (this.awaitingSlot) {
      this.awaitingSlot = false;
      this.be.cancelWait(this);
    }
    this.fe.counters.sessCur--;
    this.be.counters.sessCur--;
    const srv = this.srv;
    if (srv) {
      this.srv = undefined;
      dropSession(srv, this);
      if (this.server) srv.counters.sessCur--;
      this.be.release(srv);
    }
  }
}

function retrySameServer(session: TcpSession, srv: ServerRuntime): void {
  session.attempt(srv);
}

function onClientChunk(this: SessionSocket, n: number, buf: Buffer): void {
  const s = this.tcpSession!;
  const server = s.server;
  if (!server) {
    // Read before the server is connected: kept (the buffer is shared) and sent first;
    // reading goes on up to one buffer's worth, as a paused stream would.
    const kept = retain(buf, 0, n);
    s.payload = s.payload ? Buffer.concat([s.payload, kept]) : kept;
    if (s.payload.length >= READ_BUFFER_SIZE) this.pause();
    return;
  }
  s.bytesRead += n;
  s.info.trackers?.onBytesIn(n);
  s.fe.counters.bytesIn += n;
  s.be.counters.bytesIn += n;
  s.srv!.counters.bytesIn += n;
  if (!forward(server, buf, 0, n)) this.pause();
}

function onServerChunk(this: SessionSocket, n: number, buf: Buffer): void {
  const s = this.tcpSession!;
  s.bytesWritten += n;
  s.info.trackers?.onBytesOut(n);
  s.fe.counters.bytesOut += n;
  s.be.counters.bytesOut += n;
  s.srv!.counters.bytesOut += n;
  if (!forward(s.client, buf, 0, n)) this.pause();
}

function onServerDrain(this: SessionSocket): void {
  this.tcpSession!.client.resume();
}

function onClientDrain(this: SessionSocket): void {
  this.tcpSession!.server!.resume();
}

/** Client shut its write side: forward the FIN, keep the reply flowing. */
function onClientEnd(this: SessionSocket): void {
  const s = this.tcpSession!;
  s.server!.end();
  const fin = s.fe.config.timeouts.clientFin;
  if (fin > 0) this.setTimeout(fin);
}

function onServerEnd(this: SessionSocket): void {
  const s = this.tcpSession!;
  s.client.end();
  const fin = s.be.config.timeouts.serverFin;
  if (fin > 0) this.setTimeout(fin);
}

function onClientError(this: SessionSocket): void {
  const s = this.tcpSession!;
  if (s.server) {
    s.be.counters.cliAborts++;
    s.srv!.counters.cliAborts++;
  }
  s.abort('CD');
}

function onServerError(this: SessionSocket): void {
  const s = this.tcpSession!;
  s.be.counters.srvAborts++;
  s.srv!.counters.srvAborts++;
  s.abort('SD');
}

function onTimeout(this: SessionSocket): void {
  const s = this.tcpSession!;
  s.abort(this === s.client ? 'cD' : 'sD');
}

/** A socket that closes before both of its directions ended cleanly takes its peer down. */
function closedCleanly(socket: net.Socket, hadError: boolean): boolean {
  return !hadError && socket.readableEnded && socket.writableFinished;
}

function onClientClose(this: SessionSocket, hadError: boolean): void {
  const s = this.tcpSession!;
  s.clientClosed = true;
  // Gone before a server connection: while connecting (or waiting to retry), or queued.
  if (!s.server) s.tx.fail(s.awaitingSlot ? 'CQ' : 'CC');
  if (s.retryTimer) {
    clearTimeout(s.retryTimer);
    s.retryTimer = undefined;
  }
  if (s.server && !closedCleanly(this, hadError)) s.server.destroy();
  s.finish();
}

function onServerClose(this: SessionSocket, hadError: boolean): void {
  const s = this.tcpSession!;
  s.serverClosed = true;
  if (!closedCleanly(this, hadError)) s.client.destroy();
  s.finish();
}

/**
 * `worker` gives the access log its config and connection counts; the listener already
 * tracks the accepted socket, and while draining, tunnels run until they end (the
 * worker enforces the grace period).
 */
export function handleTcpConnection(socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext): void {
  const client = socket as SessionSocket;
  // Half-close must be forwarded, not answered by an automatic FIN.
  client.allowHalfOpen = true;
  // Nothing is read until a server is connected; bytes wait in the socket meanwhile.
  client.pause();
  sessionOpened(fe.counters);
  const tx = new TcpTransaction(fe, info, worker.runtime.frontends, worker.runtime.model.global);
  // Routing reads the ClientHello of TLS passed through: read until it is complete (TLS we terminate has none in its stream).
  if (fe.inspectsHello && !info.ssl) {
    new HelloInspection(client, fe.config.inspectDelay ?? DEFAULT_INSPECT_DELAY_MS, { fe, info, tx }, helloInspected);
    return;
  }
  startSession(client, fe, info, tx, undefined);
}

interface Inspecting {
  fe: FrontendRuntime;
  info: ConnectionInfo;
  tx: TcpTransaction;
}

function helloInspected(i: HelloInspection<Inspecting>): void {
  startSession(i.socket as SessionSocket, i.owner.fe, i.owner.info, i.owner.tx, i);
}

/** Route (with the inspected ClientHello, if any) and dispatch to a server of the chosen backend. */
function startSession(client: SessionSocket, fe: FrontendRuntime, info: ConnectionInfo, tx: TcpTransaction, inspected: HelloInspection<Inspecting> | undefined): void {
  const sample = new ConnectionSampleContext(info, fe.name, inspected?.hello);
  // tcp-request content rules, before the backend is chosen.
  const content = fe.tcpRules?.content;
  if (content && !admit(content, sample, info, client)) {
    fe.counters.sessCur--;
    fe.counters.deniedReq++;
    return;
  }
  const be = fe.route(sample);
  if (!be) {
    fe.counters.sessCur--;
    client.destroy();
    return;
  }
  sessionOpened(be.counters);
  const session = new TcpSession(client, fe, be, info, tx, sample, inspected?.data);
  client.tcpSession = session;
  if (inspected?.closed) {
    // Gone while we waited for its request (HAProxy's CR): account and log the session.
    session.clientClosed = true;
    tx.fail('CR');
    return session.finish();
  }
  client.on('error', onClientError);
  client.on('close', onClientClose);
  client.on('timeout', onTimeout);
  client.setTimeout(fe.config.timeouts.client);
  // From here on, reads go through the shared buffer (kept in `payload` until a server is connected).
  readThrough(client, onClientChunk);
  session.dispatch(undefined);
}
