/**
 * The body side of `http-response cache-store` (src/http/actions/cache.ts): built for a
 * proxy with a cache-store rule, it feeds the response being stored with each body
 * chunk the client gets (a copy: the chunk still goes to the client as it came) and
 * stores it when the body ends. A response that grows past max-object-size, or whose
 * exchange ends before its body does, is dropped.
 */
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class CacheStoreBody implements HttpModule {
  responseBody(ex: HttpExchange, buf: Buffer, start: number, end: number): number {
    const w = ex.cacheWrite;
    if (w === undefined) return CONTINUE;
    if (!w.add(this, buf, start, end)) ex.cacheWrite = undefined;
    else if (ex.resBody.done) {
      ex.cacheWrite = undefined;
      w.commit();
    }
    return CONTINUE;
  }

  /** The exchange ended (maybe before its body did): a pooled exchange keeps no partial object. */
  log(ex: HttpExchange): void {
    ex.cacheWrite = undefined;
  }
}

export const cacheStore: ModuleDefinition = {
  name: 'cache-store',
  create: (scope) => (scope.config.httpRules.some((r) => r.act.action === 'cache-store') ? new CacheStoreBody() : null),
};
