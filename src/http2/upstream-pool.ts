/**
 * HTTP/2 connections to servers (`proto h2`, or a TLS `alpn` offering h2), per server and
 * worker: each carries many exchanges as streams (./upstream-stream.ts), up to the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS; when every connection is full another one
 * is opened, up to MAX_CONNECTIONS, past which streams wait in the fullest-but-one
 * connection's queue (node:http2 holds them until a stream ends). Exchanges arriving
 * while a connection is being made wait for it instead of each opening its own.
 *
 * Connections are made by ../worker/upstream.ts (TCP, PROXY header, TLS with the
 * server's ALPN list, `timeout connect`), then handed to node:http2's client. When
 * ALPN picks http/1.1 (`alpn h2,http/1.1` and a server without h2), the connection goes
 * to one waiting exchange as an HTTP/1.1 connection (then into the HTTP/1.1 pool), and
 * the others connect on their own.
 *
 * Measured choice: node:http2's client rather than our frame layer in client role. The
 * frontend's measurement that ruled node:http2 out was the server side under load; here
 * correctness (flow control both ways, GOAWAY, concurrency limits) came first, and
 * node:http2 is one well-tested implementation of all of it (bench/README.md).
 *
 * A connection without streams closes after IDLE_MS, as idle HTTP/1.1 ones do.
 */
import * as http2 from 'node:http2';
import { isIPv6, type Socket } from 'node:net';
import type * as tls from 'node:tls';
import type { ServerRuntime } from '../worker/runtime';
import type { ConnectionInfo } from '../worker/connection';
import { connectSocket, type UpstreamWaiter } from '../worker/upstream';
import { IDLE_MS } from '../http/pool';
import { H2UpstreamStream, type StreamHost } from './upstream-stream';

/** Connections per server and worker before streams queue. */
const MAX_CONNECTIONS = 4;
/** Assumed until the server's SETTINGS say (node:http2's default too). */
const DEFAULT_MAX_STREAMS = 100;
/** Receive window of each connection (the streams' is SETTINGS_INITIAL_WINDOW_SIZE). */
const CONNECTION_WINDOW = 8 * 1024 * 1024;
const STREAM_WINDOW = 1024 * 1024;

class H2Link implements StreamHost {
  active = 0;
  goawayLast = -1;
  /** No new stream: GOAWAY received, or closing. */
  closing = false;
  private idleTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly session: http2.ClientHttp2Session,
    private readonly entry: ServerLinks,
  ) {
    session.on('error', () => undefined);
    session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
    session.on('goaway', (_code: number, last: number) => {
      this.goawayLast = last;
      this.retire();
    });
    session.on('close', () => this.retire());
    this.armIdle();
  }

  /** Streams this connection may still open now. */
  room(): number {
    if (this.closing || this.session.destroyed || this.session.closed) return 0;
    const max = this.session.remoteSettings.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
    return Math.min(max, 1 << 20) - this.active;
  }

  streamOpened(): void {
    this.active++;
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  streamClosed(): void {
    this.active--;
    if (this.active === 0) this.armIdle();
  }

  private armIdle(): void {
    if (this.closing) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.active === 0) {
        this.retire();
        this.session.close();
      }
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  /** No new stream here; the streams in flight finish, then the connection closes. */
  retire(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const links = this.entry.links;
    const i = links.indexOf(this);
    if (i >= 0) links.splice(i, 1);
  }
}

/** One server's connections in this worker. */
class ServerLinks implements UpstreamWaiter {
  readonly links: H2Link[] = [];
  /** Streams waiting for the connection being made (none being made: empty). */
  waiting: H2UpstreamStream[] = [];
  connecting = false;
  /** Connection facts for the next connection (the first waiter's: PROXY header source). */
  private info: ConnectionInfo | undefined = undefined;
  private timeoutMs = 0;
  /** `server.moves` when the connection being made started (the address it goes to). */
  private connectMoves = 0;

  constructor(readonly server: ServerRuntime) {}

  /** A session for `stream`: one with room, a new connection, or the least busy one. */
  find(stream: H2UpstreamStream, info?: ConnectionInfo, timeoutMs?: number): void {
    let best: H2Link | undefined;
    for (const l of this.links) if (l.room() > 0 && (!best || l.active > best.active)) best = l;
    if (best) return stream.granted(best);
    if (this.connecting) {
      this.waiting.push(stream);
      return;
    }
    if (this.links.length < MAX_CONNECTIONS) {
      if (info) this.info = info;
      if (timeoutMs !== undefined) this.timeoutMs = timeoutMs;
      this.connecting = true;
      this.waiting.push(stream);
      this.connectMoves = this.server.moves;
      connectSocket(this.server, this.info!, this.timeoutMs, this);
      return;
    }
    let least = this.links[0];
    for (const l of this.links) if (l.active < least.active) least = l;
    stream.granted(least);
  }

  upstreamConnected(err: Error | null, socket?: Socket): void {
    this.connecting = false;
    const waiting = this.waiting;
    this.waiting = [];
    if (err || !socket) {
      for (const s of waiting) s.granted(null, err ?? undefined);
      return;
    }
    const alpn = (socket as tls.TLSSocket).alpnProtocol;
    if (this.server.config.h2 === 'alpn' && alpn !== 'h2') return this.useHttp1(socket, waiting);
    const cfg = this.server.config;
    const link = new H2Link(
      http2.connect(`${cfg.tls.enabled ? 'https' : 'http'}://${isIPv6(this.server.address) ? `[${this.server.address}]` : this.server.address}:${this.server.port}`, {
        createConnection: () => socket,
        settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
        peerMaxConcurrentStreams: DEFAULT_MAX_STREAMS,
      }),
      this,
    );
    // Streams are placed once the server's SETTINGS say how many it takes (one round trip).
    this.connecting = true;
    this.waiting = waiting;
    const moves = this.connectMoves;
    let placed = false;
    link.session.once('remoteSettings', () => {
      if (link.closing) return;
      placed = true;
      // The server moved while this connection was being made: it leads to the old address, and
      // the streams that waited for it (none sent yet) go to the new one.
      if (moves !== this.server.moves) {
        link.retire();
        link.session.close();
      } else this.links.push(link);
      this.placeWaiting();
    });
    // Closed before its SETTINGS (not a retired link closing while another connection is being made).
    link.session.once('close', () => {
      if (!placed && this.connecting) this.placeWaiting(new Error('h2 connection closed before its SETTINGS'));
    });
  }

  /** The connection being made is up (or failed with `err`): place the streams that waited for it. */
  private placeWaiting(err?: Error): void {
    this.connecting = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const s of waiting) {
      if (err) s.granted(null, err);
      else this.find(s);
    }
  }

  /** The server chose HTTP/1.1: the first waiting exchange takes the connection as such, the others get their own. */
  private useHttp1(socket: Socket, waiting: H2UpstreamStream[]): void {
    let first = true;
    for (const s of waiting) {
      const waiter = s.takeWaiter();
      if (!waiter) {
        s.granted(null);
        continue;
      }
      if (first) waiter.upstreamConnected(null, socket);
      else connectSocket(this.server, this.info!, this.timeoutMs, waiter);
      first = false;
    }
    if (first) socket.destroy();
  }
}

const servers = new WeakMap<ServerRuntime, ServerLinks>();

/** The server moved (`set server addr`): its connections take no new stream and close once done. */
export function retireH2Links(server: ServerRuntime): void {
  const e = servers.get(server);
  if (!e) return;
  for (const l of [...e.links]) {
    l.retire();
    l.session.close();
  }
}

function linksOf(server: ServerRuntime): ServerLinks {
  let e = servers.get(server);
  if (!e) servers.set(server, (e = new ServerLinks(server)));
  return e;
}

function findAgain(stream: H2UpstreamStream): void {
  linksOf(stream.server).find(stream);
}

/**
 * An exchange wants `server` (an h2 one): `waiter` gets a stream that behaves as an
 * HTTP/1.1 server connection (./upstream-stream.ts), or, when ALPN picked http/1.1, a
 * plain connection; or the connection error, within `timeoutMs`.
 */
export function connectH2(server: ServerRuntime, info: ConnectionInfo, timeoutMs: number, waiter: UpstreamWaiter): void {
  linksOf(server).find(new H2UpstreamStream(server, findAgain, waiter), info, timeoutMs);
}
