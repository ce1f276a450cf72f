/**
 * The https redirect (the seed's `ssl.redirect_http_to_https`, native `https_redirect`):
 * a request over plain HTTP is answered with a redirect to `https://<host><path?query>`.
 * A Host naming the port the request came in on (or no port) gets the TLS bind's port
 * instead, left out when it is 443, so a plain bind on :8080 leads to the TLS one on
 * :8443. A request without Host goes on (as HAProxy's `redirect scheme`).
 */
import type { HttpsRedirect } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class RedirectToHttps implements HttpModule {
  private readonly portSuffix: string;

  constructor(private readonly settings: HttpsRedirect) {
    this.portSuffix = settings.port === 443 ? '' : `:${settings.port}`;
  }

  request(ex: HttpExchange): number {
    if (ex.info.ssl) return CONTINUE;
    const req = ex.req;
    if (req.host < 0) return CONTINUE;
    const host = req.value(req.host);
    if (host === '') return CONTINUE;
    // The port is after the last ':' unless that one is inside an IPv6 literal.
    const colon = host.lastIndexOf(':');
    const hasPort = colon > host.lastIndexOf(']');
    let authority: string;
    if (!hasPort) authority = host + this.portSuffix;
    else if (host.slice(colon + 1) === String(ex.info.dstPort)) authority = host.slice(0, colon) + this.portSuffix;
    else authority = host;
    return ex.redirect(this.settings.code, 'https://' + authority + ex.ctx.pathAndQuery());
  }
}

export const httpsRedirect: ModuleDefinition = {
  name: 'https-redirect',
  create: (scope) => (scope.kind === 'frontend' && scope.config.httpsRedirect ? new RedirectToHttps(scope.config.httpsRedirect) : null),
};
