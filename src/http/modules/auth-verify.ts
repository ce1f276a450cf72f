/**
 * Checks a request's Basic credentials against the userlists before any rule reads
 * them, without holding the event loop: when some list has a slow hash (bcrypt,
 * SHA-crypt) and the outcome for these credentials is not remembered yet, the
 * request waits for the asynchronous check (src/auth/userlists.ts), then its phases
 * run from the start and `http_auth()` finds the outcome. First of the frontend's
 * modules, so nothing has happened to the request when it waits; built only when the
 * config has slow hashes.
 */
import { prepareHttpAuth, userlistsHaveSlowHashes } from '../../auth/userlists';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class AuthVerify implements HttpModule {
  request(ex: HttpExchange): number {
    const authorization = ex.ctx.header('authorization');
    if (authorization === undefined) return CONTINUE;
    const ready = prepareHttpAuth(authorization);
    return ready === undefined ? CONTINUE : ex.waitFor(ready);
  }
}

export const authVerify: ModuleDefinition = {
  name: 'auth-verify',
  // The frontend's runs before every rule of the frontend and of the backends it routes to.
  create: (scope) => (scope.kind === 'frontend' && userlistsHaveSlowHashes() ? new AuthVerify() : null),
};
