/**
 * Hand-built http models and an in-process L7 proxy for tests that drive
 * handleHttpConnection directly (no CLI).
 */
import type { HttpRule, Model, Server } from '../../src/config/model';
import { handleHttpConnection } from '../../src/http1/session';
import { closeIdleUpstreams } from '../../src/http/pool';
import { proxyModel, startTestProxy, type ProxyModelOptions, type TestProxy } from './l4-model';

export { server } from './l4-model';

export interface HttpModelOptions extends ProxyModelOptions {
  httpRules?: HttpRule[];
}

export function httpModel(servers: Server[], opts: HttpModelOptions = {}): Model {
  return proxyModel('http', servers, { ...opts, frontend: { httpRules: opts.httpRules ?? [], ...opts.frontend } });
}

export type L7Proxy = TestProxy;

/** Listens on loopback and hands every connection to handleHttpConnection (first frontend). */
export function startL7Proxy(model: Model): Promise<L7Proxy> {
  return startTestProxy(model, handleHttpConnection, closeIdleUpstreams);
}
