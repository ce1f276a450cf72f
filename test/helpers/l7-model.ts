/**
 * Hand-built http models and an in-process L7 proxy for tests that drive
 * handleHttpConnection directly (no CLI).
 */
import * as net from 'node:net';
import type { Backend, Frontend, HttpRule, Model, Server, Timeouts } from '../../src/config/model';
import { Runtime } from '../../src/worker/runtime';
import { handleHttpConnection } from '../../src/worker/http/session';
import { closeIdleUpstreams } from '../../src/worker/http/pool';
import { connectionInfo, TestWorker, timeouts } from './l4-model';

export { server } from './l4-model';

export interface HttpModelOptions {
  timeouts?: Partial<Timeouts>;
  retries?: number;
  redispatch?: boolean;
  frontend?: Partial<Frontend>;
  backend?: Partial<Backend>;
  httpRules?: HttpRule[];
}

export function httpModel(servers: Server[], opts: HttpModelOptions = {}): Model {
  const t = timeouts(opts.timeouts);
  servers.forEach((s, i) => (s.id = i + 1));
  const backend: Backend = {
    name: 'be_http',
    id: 2,
    mode: 'http',
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
    name: 'fe_http',
    mode: 'http',
    binds: [{ address: '127.0.0.1', port: 0, acceptProxy: false }],
    defaultBackend: 'be_http',
    useBackend: [],
    hostBackends: [],
    httpRules: opts.httpRules ?? [],
    timeouts: t,
    maxconn: 0,
    forwardedProto: true,
    forwardedHost: false,
    log: { format: 'httplog', dontLogNull: false, logHealthChecks: false, enabled: false },
    errorFiles: {},
    maxHeaderBytes: 15360,
    options: [],
    ...opts.frontend,
  };
  return {
    global: { workers: 1, maxconn: 0, gracePeriod: 1000, acceptMode: 'rr', bufSize: 65536, logLevel: 'error', accessLog: 'stdout' },
    frontends: [frontend],
    backends: [backend],
    extras: {},
    pending: [],
    files: [],
  };
}

export interface L7Proxy {
  port: number;
  runtime: Runtime;
  worker: TestWorker;
  close(): Promise<void>;
}

/** Listens on loopback and hands every connection to handleHttpConnection (first frontend). */
export async function startL7Proxy(model: Model): Promise<L7Proxy> {
  const runtime = new Runtime(model);
  const worker = new TestWorker(runtime);
  const fe = runtime.frontends[0];
  const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    handleHttpConnection(socket, fe, connectionInfo(socket), worker);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    runtime,
    worker,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of worker.live) s.destroy();
        closeIdleUpstreams();
        srv.close(() => resolve());
      }),
  };
}
