/**
 * Hand-built config models and a minimal worker for tests that drive the L4/TLS
 * data path directly (no CLI): a net.Server whose connection handler calls
 * handleTcpConnection with a Runtime compiled from the model.
 */
import * as net from 'node:net';
import type { Backend, Frontend, Model, Server, Timeouts } from '../../src/config/model';
import type { ConnectionInfo, WorkerContext } from '../../src/worker/connection';
import { Runtime, type FrontendRuntime } from '../../src/worker/runtime';
import { handleTcpConnection } from '../../src/worker/tcp';

export function timeouts(over: Partial<Timeouts> = {}): Timeouts {
  return {
    connect: 1000,
    client: 5000,
    server: 5000,
    httpRequest: 5000,
    httpKeepAlive: 5000,
    queue: 5000,
    tunnel: 0,
    check: 2000,
    clientFin: 0,
    serverFin: 0,
    tarpit: 0,
    ...over,
  };
}

export function server(name: string, port: number, over: Partial<Server> = {}): Server {
  return {
    name,
    id: 1,
    address: '127.0.0.1',
    port,
    weight: 1,
    backup: false,
    maxconn: 0,
    maxqueue: 0,
    disabled: false,
    slowstart: 0,
    check: { enabled: false, inter: 2000, fastinter: 2000, downinter: 2000, rise: 2, fall: 3, ssl: false },
    tls: { enabled: false, verify: 'none' },
    sendProxy: 0,
    options: '',
    ...over,
  };
}

export interface ProxyModelOptions {
  timeouts?: Partial<Timeouts>;
  retries?: number;
  redispatch?: boolean;
  frontend?: Partial<Frontend>;
  backend?: Partial<Backend>;
}

/** One frontend (`fe_<mode>`) with one backend (`be_<mode>`) over the given servers. */
export function proxyModel(mode: 'tcp' | 'http', servers: Server[], opts: ProxyModelOptions = {}): Model {
  const t = timeouts(opts.timeouts);
  servers.forEach((s, i) => (s.id = i + 1));
  const backend: Backend = {
    name: `be_${mode}`,
    id: 2,
    mode,
    balance: { algorithm: 'roundrobin', args: [], hashType: 'map-based' },
    servers,
    healthCheck: { kind: 'tcp', text: '' },
    timeouts: t,
    retries: opts.retries ?? 0,
    redispatch: opts.redispatch ?? false,
    allBackups: false,
    httpRules: [],
    hostNames: [],
    errorFiles: {},
    options: [],
    ...opts.backend,
  };
  const frontend: Frontend = {
    name: `fe_${mode}`,
    mode,
    binds: [{ address: '127.0.0.1', port: 0, acceptProxy: false, h2c: false }],
    defaultBackend: `be_${mode}`,
    useBackend: [],
    hostBackends: [],
    httpRules: [],
    timeouts: t,
    maxconn: 0,
    forwardedProto: mode === 'http',
    forwardedHost: false,
    log: { format: mode === 'http' ? 'httplog' : 'tcplog', dontLogNull: false, logHealthChecks: false, enabled: false },
    errorFiles: {},
    maxHeaderBytes: 15360,
    options: [],
    ...opts.frontend,
  };
  return {
    global: { workers: 1, maxconn: 0, gracePeriod: 1000, acceptMode: 'rr', bufSize: 65536, maxHeaders: 128, logLevel: 'error', accessLog: 'stdout', certWatch: 0, certExpiryWarningDays: 30, h2: { maxConcurrentStreams: 100, initialWindowSize: 65535, maxHeaderListSize: 65536, headerTableSize: 4096 } },
    frontends: [frontend],
    backends: [backend],
    extras: {},
    pending: [],
    files: [],
  };
}

export function tcpModel(servers: Server[], opts: ProxyModelOptions = {}): Model {
  return proxyModel('tcp', servers, opts);
}

export class TestWorker implements WorkerContext {
  draining = false;
  readonly live = new Set<net.Socket>();
  constructor(readonly runtime: Runtime) {}
  track(socket: net.Socket): void {
    this.live.add(socket);
    socket.once('close', () => this.live.delete(socket));
  }
  now(): number {
    return Date.now();
  }
}

export function connectionInfo(socket: net.Socket): ConnectionInfo {
  return {
    src: socket.remoteAddress ?? '',
    srcPort: socket.remotePort ?? 0,
    dst: socket.localAddress ?? '',
    dstPort: socket.localPort ?? 0,
    ssl: false,
    sni: undefined,
    acceptedAt: Date.now(),
  };
}

export interface TestProxy {
  port: number;
  runtime: Runtime;
  worker: TestWorker;
  close(): Promise<void>;
}

type Handler = (socket: net.Socket, fe: FrontendRuntime, info: ConnectionInfo, worker: WorkerContext) => void;

/** Listens on loopback and hands every connection to `handler` with the model's first frontend. */
export async function startTestProxy(model: Model, handler: Handler, onClose: () => void = () => undefined): Promise<TestProxy> {
  const runtime = new Runtime(model);
  const worker = new TestWorker(runtime);
  const fe = runtime.frontends[0];
  const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    worker.track(socket);
    handler(socket, fe, connectionInfo(socket), worker);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    runtime,
    worker,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of worker.live) s.destroy();
        onClose();
        srv.close(() => resolve());
      }),
  };
}

export type L4Proxy = TestProxy;

export function startL4Proxy(model: Model): Promise<L4Proxy> {
  return startTestProxy(model, handleTcpConnection);
}
