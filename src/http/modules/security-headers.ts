/**
 * The security-headers preset (`security_headers: strict|basic`): X-Content-Type-Options,
 * X-Frame-Options, Referrer-Policy, Content-Security-Policy, Permissions-Policy on every
 * final response (tslb's own answers included), and Server / X-Powered-By removed from
 * servers' responses. A server's own header of the preset is kept: it knows its pages
 * (a CSP per page, a frame it allows); the headers http_response rules name were left
 * out of the preset when it was built. HSTS is the hsts module's.
 */
import type { SecurityHeaders } from '../../config/model';
import type { HttpExchange } from '../exchange';
import type { HttpModule, ModuleDefinition } from '../pipeline';

class SecurityHeaderPreset implements HttpModule {
  private readonly names: string[];
  private readonly lines: string[];
  /** Every line, for tslb's own answers. */
  private readonly all: string;

  constructor(private readonly settings: SecurityHeaders) {
    this.names = settings.add.map((h) => h.name.toLowerCase());
    this.lines = settings.add.map((h) => `${h.name}: ${h.value}\r\n`);
    this.all = this.lines.join('');
  }

  afterResponse(ex: HttpExchange): void {
    if (ex.localAnswer) {
      ex.resExtras += this.all;
      return;
    }
    const res = ex.res;
    const remove = this.settings.remove;
    for (let i = 0; i < remove.length; i++) res.dropNamed(remove[i]);
    for (let i = 0; i < this.names.length; i++) if (res.find(this.names[i]) < 0) ex.resExtras += this.lines[i];
  }
}

export const securityHeaders: ModuleDefinition = {
  name: 'security-headers',
  create: (scope) => (scope.kind === 'frontend' && scope.config.securityHeaders ? new SecurityHeaderPreset(scope.config.securityHeaders) : null),
};
