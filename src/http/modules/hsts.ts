/**
 * HSTS: `Strict-Transport-Security` on every final response over TLS, the server's
 * (whose own header it replaces, as `http-response set-header` would) and tslb's
 * own answers (error pages, redirects), through the afterResponse phase. Never over
 * plain HTTP, where browsers ignore it (RFC 6797 8.1).
 */
import type { Hsts } from '../../config/model';
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class StrictTransportSecurity implements HttpModule {
  private readonly line: string;

  constructor(h: Hsts) {
    this.line = `Strict-Transport-Security: max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}\r\n`;
  }

  afterResponse(ex: HttpExchange): void {
    if (!ex.info.ssl) return;
    if (!ex.localAnswer) ex.res.dropNamed('strict-transport-security');
    ex.resExtras += this.line;
  }
}

export const hsts: ModuleDefinition = {
  name: 'hsts',
  create: (scope) => (scope.kind === 'frontend' && scope.config.hsts ? new StrictTransportSecurity(scope.config.hsts) : null),
};
