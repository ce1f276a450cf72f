/** Small real backends for tests: node:http servers that say who answered. */
import * as http from 'node:http';
import * as net from 'node:net';

export interface HttpBackend {
  name: string;
  port: number;
  server: http.Server;
  /** Requests served so far. */
  hits: number;
  close(): Promise<void>;
}

/**
 * An HTTP backend answering every request with `x-served-by: <name>` and a small
 * body; `handler` may take over a request (return true when it answered). It listens
 * on 127.0.0.1 and a free port unless `at` names others (any 127.0.0.0/8 address works).
 */
export async function startHttpBackend(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
  at: { host?: string; port?: number } = {},
): Promise<HttpBackend> {
  const backend: HttpBackend = {
    name,
    port: 0,
    hits: 0,
    server: http.createServer((req, res) => {
      backend.hits++;
      if (handler?.(req, res)) return;
      const body = `hello from ${name}\n`;
      res.writeHead(200, { 'x-served-by': name, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }),
    close: () =>
      new Promise<void>((resolve) => {
        backend.server.closeAllConnections();
        backend.server.close(() => resolve());
      }),
  };
  backend.server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    backend.server.once('error', reject);
    backend.server.listen(at.port ?? 0, at.host ?? '127.0.0.1', resolve);
  });
  backend.port = (backend.server.address() as net.AddressInfo).port;
  return backend;
}

/**
 * A TCP echo backend that prefixes nothing: bytes in, same bytes out. `connections`
 * counts every connection (health checks included); `tunnels` only those that carried bytes.
 */
export async function startEchoBackend(): Promise<{ port: number; connections: number; tunnels: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0, tunnels: 0, close: async () => undefined as void };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.connections++;
    s.once('data', () => state.tunnels++);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/**
 * Listen `srv` (a net or tls server) on 127.0.0.1 and a free port, tracking its connections so that
 * `close` destroys those still open (a server's own close waits for them).
 */
export async function listenTracked(srv: net.Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}
