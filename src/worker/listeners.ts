/**
 * Binds every frontend's listeners in this worker and hands accepted sockets to
 * the frontend's data path: PROXY header first (accept-proxy), then TLS
 * termination, then the tcp or http handler.
 */
import * as net from 'node:net';
import type { Bind } from '../config/model';
import type { ListenMode } from '../ipc/messages';
import { readProxyHeader } from '../proxyproto';
import { createTlsTerminator } from './tls';
import { handleTcpConnection } from './tcp';
import { SOCKET_HIGH_WATER_MARK } from './upstream';
import { handleHttpConnection } from './http/session';
import type { ConnectionInfo, WorkerContext } from './connection';
import type { FrontendRuntime } from './runtime';
import { admitConnection, configureConnectionLimits, holdConnection } from './conn-limit';

type Handler = (socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext) => void;

/** `::ffff:1.2.3.4` → `1.2.3.4`, so rules and logs see plain IPv4. */
export function unmapAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export function bindLabel(b: Bind): string {
  return b.address.includes(':') ? `[${b.address}]:${b.port}` : `${b.address}:${b.port}`;
}

export async function startListeners(
  frontends: FrontendRuntime[],
  worker: WorkerContext,
  listenMode: ListenMode,
  ticketKeys: Buffer,
): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  configureConnectionLimits(frontends, worker.runtime.model.global.maxconn, worker.runtime.model.global.workers);
  try {
    for (const fe of frontends) {
      const handler: Handler = fe.config.mode === 'http' ? handleHttpConnection : handleTcpConnection;
      for (const bind of fe.config.binds) {
        // Half-open on both modes: a client that shuts down its side after a request still gets the response.
        const server = net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: SOCKET_HIGH_WATER_MARK });
        const terminate = bind.tls ? createTlsTerminator(bind.tls, ticketKeys) : undefined;
        const handshakeTimeout = fe.config.timeouts.httpRequest || fe.config.timeouts.client;
        server.on('connection', (socket) => acceptConnection(socket, fe, bind, handler, terminate, handshakeTimeout, worker));
        server.on('error', () => undefined);
        await listen(server, bind, listenMode);
        servers.push(server);
      }
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return servers;
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

function acceptConnection(
  socket: net.Socket,
  fe: FrontendRuntime,
  bind: Bind,
  handler: Handler,
  terminate: ((s: net.Socket) => import('node:tls').TLSSocket) | undefined,
  handshakeTimeout: number,
  worker: WorkerContext,
): void {
  // The only track() of a client connection: a TLS socket closes with the socket it wraps.
  worker.track(socket);
  socket.on('error', destroySelf);
  // Over a maxconn: held until a connection ends (src/worker/conn-limit.ts).
  if (!admitConnection(socket, fe.name)) {
    return holdConnection(socket, fe.name, () => {
      // Reading resumes for the PROXY header or the handler; TLS reads through its own wrapper.
      if (bind.acceptProxy || !terminate) socket.resume();
      acceptAdmitted(socket, fe, bind, handler, terminate, handshakeTimeout, worker);
    });
  }
  acceptAdmitted(socket, fe, bind, handler, terminate, handshakeTimeout, worker);
}

function acceptAdmitted(
  socket: net.Socket,
  fe: FrontendRuntime,
  bind: Bind,
  handler: Handler,
  terminate: ((s: net.Socket) => import('node:tls').TLSSocket) | undefined,
  handshakeTimeout: number,
  worker: WorkerContext,
): void {
  const info: ConnectionInfo = {
    src: unmapAddress(socket.remoteAddress),
    srcPort: socket.remotePort ?? 0,
    dst: unmapAddress(socket.localAddress),
    dstPort: socket.localPort ?? 0,
    ssl: false,
    sni: undefined,
    acceptedAt: Date.now(),
  };
  if (!bind.acceptProxy) return afterProxy(socket, fe, handler, terminate, handshakeTimeout, info, worker);
  readProxyHeader(socket, handshakeTimeout, (err, addr) => {
    if (err) return socket.destroy();
    if (addr) {
      info.src = unmapAddress(addr.src);
      info.srcPort = addr.srcPort;
      info.dst = unmapAddress(addr.dst);
      info.dstPort = addr.dstPort;
    }
    // readProxyHeader leaves the socket paused; TLS reads through its own wrapper.
    if (!terminate) socket.resume();
    afterProxy(socket, fe, handler, terminate, handshakeTimeout, info, worker);
  });
}

/** Shared 'error' listener (no closure per connection). */
function destroySelf(this: net.Socket): void {
  this.destroy();
}

function afterProxy(
  socket: net.Socket,
  fe: FrontendRuntime,
  handler: Handler,
  terminate: ((s: net.Socket) => import('node:tls').TLSSocket) | undefined,
  handshakeTimeout: number,
  info: ConnectionInfo,
  worker: WorkerContext,
): void {
  if (!terminate) return handler(socket, fe, info, worker);
  const secure = terminate(socket);
  const timer = setTimeout(() => secure.destroy(), handshakeTimeout);
  secure.on('error', () => {
    clearTimeout(timer);
    secure.destroy();
    socket.destroy();
  });
  secure.once('secure', () => {
    clearTimeout(timer);
    info.ssl = true;
    const name = (secure as unknown as { servername?: string | false }).servername;
    info.sni = typeof name === 'string' && name ? name : undefined;
    handler(secure, fe, info, worker);
  });
}
