/**
 * ACME HTTP-01 (RFC 8555 §8.3): `GET /.well-known/acme-challenge/<token>` on a
 * frontend's plain binds is answered with the token's key authorization. The
 * primary's ACME client (src/primary/acme.ts) sends the pending tokens to every
 * worker (`acme-tokens`); other paths, and unknown tokens, go on to the server.
 */
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

const PREFIX = Buffer.from('/.well-known/acme-challenge/', 'latin1');

/** Pending challenges of this worker: token → key authorization. */
const keyAuthorizations = new Map<string, string>();

/** The primary's pending tokens replace this worker's. */
export function setAcmeTokens(tokens: Record<string, string>): void {
  keyAuthorizations.clear();
  for (const [token, keyAuthorization] of Object.entries(tokens)) keyAuthorizations.set(token, keyAuthorization);
}

class AcmeChallenge implements HttpModule {
  request(ex: HttpExchange): number {
    const req = ex.req;
    const start = req.targetStart;
    if (req.targetEnd - start <= PREFIX.length || req.buf.compare(PREFIX, 0, PREFIX.length, start, start + PREFIX.length) !== 0) return CONTINUE;
    const keyAuthorization = keyAuthorizations.get(req.buf.toString('latin1', start + PREFIX.length, req.targetEnd));
    if (keyAuthorization === undefined || ex.ctx.method() !== 'GET') return CONTINUE;
    return ex.ok('application/octet-stream', keyAuthorization);
  }
}

export const acmeChallenge: ModuleDefinition = {
  name: 'acme-challenge',
  create(scope) {
    if (scope.kind !== 'frontend' || !scope.global.acme) return null;
    // Validation requests come in plain HTTP (port 80 at the CA's end).
    return scope.config.binds.some((b) => !b.tls) ? new AcmeChallenge() : null;
  },
};
