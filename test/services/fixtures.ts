/** Hand-built models and a log capture for the health-check tests. */
import net from 'node:net';
import pino from 'pino';
import type { Backend, HealthCheck, Model, Server, Timeouts } from '../../src/config/model';

export const timeouts: Timeouts = {
  connect: 1000,
  client: 5000,
  server: 5000,
  httpRequest: 5000,
  httpKeepAlive: 1000,
  queue: 1000,
  tunnel: 5000,
  check: 500,
  clientFin: 1000,
  serverFin: 1000,
  tarpit: 1000,
};

export function server(name: string, port: number, extra: Partial<Server> = {}, check: Partial<Server['check']> = {}): Server {
  return {
    name,
    id: 1,
    address: '127.0.0.1',
    port,
    weight: 10,
    backup: false,
    maxconn: 0,
    maxqueue: 0,
    disabled: false,
    slowstart: 0,
    check: { enabled: true, inter: 100, fastinter: 50, downinter: 100, rise: 2, fall: 2, ssl: false, ...check },
    tls: { enabled: false, verify: 'none' },
    sendProxy: 0,
    options: 'check',
    ...extra,
  };
}

export function backend(name: string, servers: Server[], healthCheck: Partial<HealthCheck> = {}, options: string[] = []): Backend {
  servers.forEach((s, i) => (s.id = i + 1));
  return {
    name,
    id: 1,
    mode: 'tcp',
    balance: { algorithm: 'roundrobin', args: [], hashType: 'map-based' },
    servers,
    healthCheck: { kind: 'tcp', text: '', ...healthCheck },
    timeouts,
    retries: 3,
    redispatch: false,
    allBackups: false,
    httpRules: [],
    hostNames: [],
    errorFiles: {},
    options,
  };
}

export function model(backends: Backend[], extras: Record<string, unknown> = {}): Model {
  return {
    global: {
      workers: 1,
      maxconn: 0,
      gracePeriod: 1000,
      acceptMode: 'auto',
      bufSize: 16384,
      maxHeaders: 128,
      logLevel: 'info',
      accessLog: 'stdout',
      h2: { maxConcurrentStreams: 100, initialWindowSize: 65535, maxHeaderListSize: 65536, headerTableSize: 4096 },
      certWatch: 0,
      certExpiryWarningDays: 30,
    },
    frontends: [],
    backends,
    extras,
    pending: [],
    files: [],
  };
}

/** A pino logger whose lines land in `lines` (msg texts in `messages`). */
export function captureLog(): { log: pino.Logger; lines: Record<string, unknown>[]; messages: () => string[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, messages: () => lines.map((l) => String(l.msg)) };
}

/** Poll `cond` every 20 ms for at most `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string, detail?: () => unknown): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? ': ' + JSON.stringify(detail()) : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A free loopback port (bind 0, read, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const connections = new WeakMap<net.Server, Set<net.Socket>>();

/** Listen on loopback; connections are tracked so close() can cut them. */
export async function listen(srv: net.Server, port = 0): Promise<number> {
  if (!connections.has(srv)) {
    const open = new Set<net.Socket>();
    connections.set(srv, open);
    srv.on('connection', (sock: net.Socket) => {
      open.add(sock);
      sock.on('close', () => open.delete(sock));
    });
  }
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  return (srv.address() as net.AddressInfo).port;
}

export function close(srv: net.Server): Promise<void> {
  return new Promise((r) => {
    for (const sock of connections.get(srv) ?? []) sock.destroy();
    if (!srv.listening) return r();
    srv.close(() => r());
  });
}
