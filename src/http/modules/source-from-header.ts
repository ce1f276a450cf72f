/**
 * `source_from_header: { header, trusted }` on a frontend: a request from one of the
 * trusted proxies has its source address taken from the header (X-Forwarded-For), as
 * nginx's real_ip with real_ip_recursive does: the right-most address that is not a
 * trusted proxy's, the left-most when all are. From any other peer the header is
 * ignored, so a client cannot choose its address. It runs before the stick counters
 * and the http-request rules, so everything after it sees that address (ACLs, stick
 * tables, `access:` lists, logs, balance source, the X-Forwarded-For tslb adds).
 */
import type { SourceFromHeader as Settings } from '../../config/model';
import { buildLookup, type Lookup } from '../../rules/pattern-index';
import { setSource } from '../actions/source';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class SourceFromHeader implements HttpModule {
  private readonly trusted: Lookup;

  constructor(private readonly settings: Settings) {
    this.trusted = buildLookup('ip', settings.trusted, false);
  }

  request(ex: HttpExchange): number {
    const ctx = ex.ctx;
    if (this.trusted(ctx.src) < 0) return CONTINUE;
    const req = ex.req;
    let first: string | undefined;
    let lastUntrusted: string | undefined;
    for (let i = req.find(this.settings.header); i >= 0; i = req.find(this.settings.header, i + 1)) {
      for (const part of req.value(i).split(',')) {
        const a = part.trim();
        if (a === '') continue;
        first ??= a;
        if (this.trusted(a) < 0) lastUntrusted = a;
      }
    }
    // An untrusted entry that is not an address (garbage a client wrote) leaves the peer's address.
    const chosen = lastUntrusted ?? first;
    if (chosen !== undefined) setSource(ctx, chosen);
    return CONTINUE;
  }
}

export const sourceFromHeader: ModuleDefinition = {
  name: 'source-from-header',
  create: (scope) => (scope.kind === 'frontend' && scope.config.sourceFromHeader ? new SourceFromHeader(scope.config.sourceFromHeader) : null),
};
