/**
 * HAProxy's `monitor-uri`: a request whose target is exactly the URI (case-sensitive)
 * is answered by tslb itself, never forwarded nor logged, before any http-request
 * rule: HAProxy's 200 page ("Service ready."), or its 503 page when a `monitor fail`
 * condition holds (e.g. `{ nbsrv(app) lt 1 }`). Errorfiles for 200/503 replace them.
 */
import type { Monitor } from '../../config/model';
import { compileCondition, type CompiledCondition } from '../../rules/compile';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class MonitorUri implements HttpModule {
  private readonly uri: Buffer;
  private readonly fail: CompiledCondition[];

  constructor(settings: Monitor) {
    this.uri = Buffer.from(settings.uri, 'latin1');
    this.fail = settings.fail.map((c) => compileCondition(c, 'request'));
  }

  request(ex: HttpExchange): number {
    const req = ex.req;
    // Compared in place: no string per request.
    if (req.buf.compare(this.uri, 0, this.uri.length, req.targetStart, req.targetEnd) !== 0) return CONTINUE;
    ex.unlogged = true;
    for (let i = 0; i < this.fail.length; i++) if (this.fail[i](ex.ctx)) return ex.answer(503);
    return ex.answer(200);
  }
}

export const monitorUri: ModuleDefinition = {
  name: 'monitor-uri',
  create: (scope) => (scope.kind === 'frontend' && scope.config.monitor ? new MonitorUri(scope.config.monitor) : null),
};
