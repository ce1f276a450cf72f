/**
 * Binds every frontend's listeners in this worker and hands accepted sockets to
 * the frontend's data path: PROXY header first (accept-proxy), then TLS
 * termination, then the tcp or http handler.
 */
import * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Bind } from '../config/model';
import type { ListenMode } from '../ipc/messages';
import { readProxyHeader } from '../proxyproto';
import { TlsTerminator } from './tls';
import { clientCertificate } from './client-cert';
import { ConnectionSampleContext, handleTcpConnection } from './tcp';
import { handleHttpConnection } from '../http1/session';
import { handleH2Connection } from '../http2/session';
import type { ConnectionInfo, WorkerContext } from './connection';
import type { FrontendRuntime } from './runtime';
import { admitConnection, configureConnectionLimits, holdConnection } from './conn-limit';
import { timerAfter } from './deadline';
import { admit } from '../stick/tcp-rules';
import { sessionRateGate, type SessionRateGate } from './session-rate';

type Handler = (socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext) => void;

/** `::ffff:1.2.3.4` → `1.2.3.4`, so rules and logs see plain IPv4. */
export function unmapAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export function bindLabel(b: Bind): string {
  return b.address.includes(':') ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`;
}

/** What every connection accepted on one bind needs, built once per bind. */
interface Listener {
  fe: FrontendRuntime;
  bind: Bind;
  handler: Handler;
  /** Wraps the socket in TLS when the bind terminates it. */
  tls: TlsTerminator | undefined;
  /** Bounds the PROXY header and the TLS handshake (timeout http-request; 0: unbounded). */
  handshakeTimeout: number;
  worker: WorkerContext;
  /** `rate-limit sessions` of the frontend (shared by its binds). */
  sessionRate: SessionRateGate<Listener> | undefined;
  /**
   * The local address every connection on this bind has, when the bind names one IPv4
   * address and port: saves a getsockname() per connection. Otherwise read per socket.
   */
  localAddress: string | undefined;
}

/** A worker's bound sockets, and the TLS terminators of its binds (a replaced certificate reaches them). */
export interface Listening {
  servers: net.Server[];
  terminators: TlsTerminator[];
}

export async function startListeners(
  frontends: FrontendRuntime[],
  worker: WorkerContext,
  listenMode: ListenMode,
  ticketKeys: Buffer,
): Promise<Listening> {
  const servers: net.Server[] = [];
  const terminators: TlsTerminator[] = [];
  configureConnectionLimits(frontends, worker.runtime.model.global.maxconn, worker.runtime.model.global.workers);
  try {
    for (const fe of frontends) {
      const sessionRate = sessionRateGate<Listener>(fe.name, fe.config.rateLimitSessions, worker.runtime.model.global.workers, afterSessionRate);
      for (const bind of fe.config.binds) {
        const listener: Listener = {
          fe,
          bind,
          handler: fe.config.mode !== 'http' ? handleTcpConnection : bind.h2c ? handleH2Connection : bind.tls ? handleNegotiated : handleHttpConnection,
          tls: bind.tls ? new TlsTerminator(bind.tls, ticketKeys) : undefined,
          handshakeTimeout: fe.config.timeouts.httpRequest,
          worker,
          sessionRate,
          localAddress: net.isIPv4(bind.address) && bind.address !== '0.0.0.0' && bind.port > 0 ? bind.address : undefined,
        };
        // Half-open on both modes: a client that shuts down its side after a request still gets the response.
        const server = net.createServer({ allowHalfOpen: true, noDelay: true });
        server.on('connection', (socket) => acceptConnection(socket, listener));
        server.on('error', () => undefined);
        await listen(server, bind, listenMode);
        servers.push(server);
        if (listener.tls) terminators.push(listener.tls);
      }
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return { servers, terminators };
}

function listen(server: net.Server, bind: Bind, listenMode: ListenMode): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`cannot bind ${bindLabel(bind)}: ${err.message}`));
    server.once('error', onError);
    const opts: net.ListenOptions & { reusePort?: boolean } = { host: bind.address, port: bind.port, backlog: 1024 };
    if (listenMode === 'reuseport') {
      opts.reusePort = true;
      opts.exclusive = true;
    }
    server.listen(opts, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

function acceptConnection(socket: net.Socket, l: Listener): void {
  // The only track() of a client connection: a TLS socket closes with the socket it wraps.
  l.worker.track(socket);
  socket.on('error', destroySelf);
  // Over the frontend's session rate: held until the rate allows one more (src/worker/session-rate.ts).
  if (l.sessionRate && !l.sessionRate.admit(socket, l)) return;
  limitConnection(socket, l);
}

/** A connection held for the session rate goes on. */
function afterSessionRate(socket: net.Socket, l: Listener): void {
  // As after a maxconn hold: reading resumes for the PROXY header or the handler.
  if (l.bind.acceptProxy || !l.tls) socket.resume();
  limitConnection(socket, l);
}

function limitConnection(socket: net.Socket, l: Listener): void {
  // Over a maxconn: held until a connection ends (src/worker/conn-limit.ts).
  if (!admitConnection(socket, l.fe.name)) {
    return holdConnection(socket, l.fe.name, () => {
      // Reading resumes for the PROXY header or the handler; TLS reads through its own wrapper.
      if (l.bind.acceptProxy || !l.tls) socket.resume();
      acceptAdmitted(socket, l);
    });
  }
  acceptAdmitted(socket, l);
}

function acceptAdmitted(socket: net.Socket, l: Listener): void {
  const info: ConnectionInfo = {
    src: unmapAddress(socket.remoteAddress),
    srcPort: socket.remotePort ?? 0,
    dst: l.localAddress ?? unmapAddress(socket.localAddress),
    dstPort: l.localAddress ? l.bind.port : (socket.localPort ?? 0),
    ssl: false,
    sni: undefined,
    clientCert: undefined,
    acceptedAt: Date.now(),
  };
  // tcp-request connection rules: before the PROXY header (src is the peer), as HAProxy.
  const rules = l.fe.tcpRules?.connection;
  if (rules && !admit(rules, new ConnectionSampleContext(info, l.fe.name), info, socket)) {
    l.fe.counters.deniedConn++;
    return;
  }
  if (!l.bind.acceptProxy) return afterProxy(socket, l, info);
  readProxyHeader(socket, l.handshakeTimeout, (err, addr) => {
    if (err) return socket.destroy();
    if (addr) {
      info.src = unmapAddress(addr.src);
      info.srcPort = addr.srcPort;
      info.dst = unmapAddress(addr.dst);
      info.dstPort = addr.dstPort;
    }
    // readProxyHeader leaves the socket paused; TLS reads through its own wrapper.
    if (!l.tls) socket.resume();
    afterProxy(socket, l, info);
  });
}

/** An HTTP connection over TLS: HTTP/2 when ALPN chose it, else HTTP/1.1. */
function handleNegotiated(socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext): void {
  if ((socket as TLSSocket).alpnProtocol === 'h2') handleH2Connection(socket, fe, info, worker);
  else handleHttpConnection(socket, fe, info, worker);
}

/** Shared 'error' listener (no closure per connection). */
function destroySelf(this: net.Socket): void {
  this.destroy();
}

function afterProxy(socket: net.Socket, l: Listener, info: ConnectionInfo): void {
  if (!l.tls) return startSession(socket, socket, l, info);
  const secure = l.tls.wrap(socket);
  const timer = timerAfter(l.handshakeTimeout, () => secure.destroy());
  secure.on('error', () => {
    clearTimeout(timer);
    secure.destroy();
    socket.destroy();
  });
  // Binds are half-open for HTTP's sake; a client gone before the handshake ends has nothing to wait for.
  secure.on('end', destroySelf);
  secure.once('secure', () => {
    clearTimeout(timer);
    secure.off('end', destroySelf);
    info.ssl = true;
    const name = (secure as unknown as { servername?: string | false }).servername;
    info.sni = typeof name === 'string' && name ? name : undefined;
    if (l.bind.tls!.verify !== 'none') {
      const cert = clientCertificate(secure);
      // A certificate that failed verification: HAProxy aborts the handshake.
      if (cert === null) return secure.destroy();
      info.clientCert = cert;
    }
    startSession(secure, socket, l, info);
  });
}

/**
 * The PROXY header and TLS are done: tcp-request session rules, then the session
 * counts in its tracked entries; an http frontend's tcp-request content rules run
 * here too, once per connection (a tcp frontend's run before routing, src/worker/tcp.ts).
 * `raw` is the TCP socket (a reject or silent-drop closes it).
 */
function startSession(socket: net.Socket, raw: net.Socket, l: Listener, info: ConnectionInfo): void {
  const rules = l.fe.tcpRules;
  if (rules) {
    const content = l.fe.config.mode === 'http' ? rules.content : undefined;
    const ctx = rules.session || content ? new ConnectionSampleContext(info, l.fe.name) : undefined;
    if (rules.session && !admit(rules.session, ctx!, info, raw)) {
      l.fe.counters.deniedSess++;
      return;
    }
    info.trackers?.onSession();
    if (content && !admit(content, ctx!, info, raw)) {
      l.fe.counters.deniedReq++;
      return;
    }
  }
  l.handler(socket, l.fe, info, l.worker);
}
