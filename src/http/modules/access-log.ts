/**
 * The access log of an HTTP frontend (`log` settings, HAProxy's httplog / log-format
 * / JSON): one line per exchange in the log phase, built only when the frontend logs.
 */
import { frontendLog, type FrontendLog } from '../../log/transaction';
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class AccessLog implements HttpModule {
  constructor(private readonly settings: FrontendLog) {}

  log(ex: HttpExchange): void {
    if (!ex.unlogged) ex.tx.writeLog(this.settings, ex.ctx);
  }
}

export const accessLog: ModuleDefinition = {
  name: 'access-log',
  create(scope) {
    if (scope.kind !== 'frontend') return null;
    const settings = frontendLog(scope.config, scope.global);
    return settings ? new AccessLog(settings) : null;
  },
};
