/**
 * Cookie persistence (`cookie NAME insert|rewrite|prefix ...`), HAProxy's semantics:
 * - The request's NAME cookie names a server (its `cookie` value, else its name).
 *   A server that can serve it (up, not in maintenance; drain is fine) gets the
 *   request whatever the balancer would pick; an unknown, expired or down one is
 *   ignored and the request is balanced (re-dispatched).
 * - insert: a response gets `Set-Cookie: NAME=<server>; path=/` unless the client
 *   already sent a valid cookie for the server that answered; a NAME cookie the
 *   server sets itself is removed. `indirect` also removes NAME from the request
 *   before the server sees it. `nocache` adds `Cache-Control: private` to responses
 *   that get the cookie. `maxidle`/`maxlife` put last-seen and first-seen times in
 *   the value (`server|seen|first`, base-36 seconds), refused once too old; the
 *   last-seen time is refreshed when it is older than a quarter of maxidle.
 * - rewrite: the server's own `Set-Cookie: NAME=...` gets the server's value.
 * - prefix: the server's `Set-Cookie: NAME=v` becomes `NAME=<server>~v`, and the
 *   request's `NAME=<server>~v` reaches the server as `NAME=v`.
 */
import type { CookiePersistence } from '../../config/model';
import type { BackendRuntime, ServerRuntime } from '../../worker/runtime';
import type { HeadTable } from '../head';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

/** Reads the request's persistence cookie, forwards the edited Cookie lines, sets the response's cookie. */
class CookieModule implements HttpModule {
  constructor(
    private readonly backend: BackendRuntime,
    private readonly cfg: CookiePersistence,
  ) {}

  choose(ex: HttpExchange): number {
    const cookie = requestCookie(this.backend, ex.req);
    ex.cookie = cookie;
    ex.forced = cookie.server;
    return CONTINUE;
  }

  upstreamRequest(ex: HttpExchange): number {
    ex.reqExtras += ex.cookie!.extras;
    return CONTINUE;
  }

  response(ex: HttpExchange): number {
    ex.resExtras += responseCookie(this.cfg, ex.server!, ex.cookie!, ex.res);
    return CONTINUE;
  }
}

export const cookiePersistence: ModuleDefinition = {
  name: 'cookie',
  create: (scope) => (scope.kind === 'backend' && scope.config.cookie ? new CookieModule(scope.runtime, scope.config.cookie) : null),
};

/** What the request's cookie said, kept until the response. */
export interface CookieRequest {
  /** The server the cookie names, when it can serve the request. */
  server: ServerRuntime | undefined;
  /** First-seen time carried by a valid maxlife cookie (seconds). */
  firstSeen: number;
  /** The valid cookie's last-seen time is recent enough not to be refreshed. */
  fresh: boolean;
  /** Header lines replacing the request's Cookie headers that were changed. */
  extras: string;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Reads (and for indirect/prefix, edits) the request's persistence cookie. */
function requestCookie(backend: BackendRuntime, req: HeadTable): CookieRequest {
  const cfg = backend.config.cookie!;
  const out: CookieRequest = { server: undefined, firstSeen: 0, fresh: false, extras: '' };
  for (let i = req.find('cookie'); i >= 0; i = req.find('cookie', i + 1)) {
    const line = req.value(i);
    if (line.indexOf(cfg.name) < 0) continue;
    const pairs = line.split(';');
    let changed = false;
    const kept: string[] = [];
    for (const raw of pairs) {
      const pair = raw.trim();
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim() !== cfg.name) {
        if (pair) kept.push(pair);
        continue;
      }
      let value = pair.slice(eq + 1).trim();
      if (cfg.mode === 'prefix') {
        const tilde = value.indexOf('~');
        if (tilde < 0) {
          kept.push(pair);
          continue;
        }
        readValue(backend, cfg, value.slice(0, tilde), out);
        value = value.slice(tilde + 1);
        kept.push(`${cfg.name}=${value}`);
        changed = true;
        continue;
      }
      readValue(backend, cfg, value, out);
      if (cfg.mode === 'insert' && cfg.indirect) changed = true;
      else kept.push(pair);
    }
    if (!changed) continue;
    req.dropAt(i);
    if (kept.length) out.extras += `Cookie: ${kept.join('; ')}\r\n`;
  }
  return out;
}

function readValue(backend: BackendRuntime, cfg: CookiePersistence, value: string, out: CookieRequest): void {
  let name = value;
  if (cfg.maxIdle || cfg.maxLife) {
    const parts = value.split('|');
    name = parts[0];
    const now = nowSeconds();
    const seen = parts[1] ? parseInt(parts[1], 36) : NaN;
    const first = parts[2] ? parseInt(parts[2], 36) : NaN;
    if (cfg.maxIdle && !(seen <= now && (now - seen) * 1000 <= cfg.maxIdle)) return;
    if (cfg.maxLife && !(first <= now && (now - first) * 1000 <= cfg.maxLife)) return;
    out.firstSeen = first || now;
    out.fresh = !cfg.maxIdle || (now - seen) * 4000 < cfg.maxIdle;
  } else out.fresh = true;
  const s = backend.byCookie.get(name);
  if (s && s.persistable) out.server = s;
}

/** Header lines the response gets (Set-Cookie, Cache-Control); drops or edits the server's own NAME cookies. */
function responseCookie(cfg: CookiePersistence, server: ServerRuntime, req: CookieRequest, res: HeadTable): string {
  let extras = '';
  if (cfg.mode === 'insert') {
    for (let i = res.find('set-cookie'); i >= 0; i = res.find('set-cookie', i + 1)) {
      if (cookieName(res.value(i)) === cfg.name) res.dropAt(i);
    }
    if (req.server === server && req.fresh) return extras;
    let value = server.cookieValue;
    if (cfg.maxIdle || cfg.maxLife) {
      const now = nowSeconds();
      value += `|${now.toString(36)}|${(req.server === server && req.firstSeen ? req.firstSeen : now).toString(36)}`;
    }
    extras += `Set-Cookie: ${cfg.name}=${value}; path=/${attributes(cfg)}\r\n`;
    if (cfg.nocache) extras += 'Cache-Control: private\r\n';
    return extras;
  }
  for (let i = res.find('set-cookie'); i >= 0; i = res.find('set-cookie', i + 1)) {
    const line = res.value(i);
    if (cookieName(line) !== cfg.name || res.drop[i]) continue;
    res.dropAt(i);
    const eq = line.indexOf('=');
    const semi = line.indexOf(';');
    const rest = semi >= 0 ? line.slice(semi) : '';
    const own = line.slice(eq + 1, semi >= 0 ? semi : line.length).trim();
    const value = cfg.mode === 'rewrite' ? server.cookieValue : `${server.cookieValue}~${own}`;
    extras += `Set-Cookie: ${cfg.name}=${value}${rest}\r\n`;
  }
  if (cfg.nocache && extras) extras += 'Cache-Control: private\r\n';
  return extras;
}

function cookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return eq < 0 ? '' : setCookie.slice(0, eq).trim();
}

function attributes(cfg: CookiePersistence): string {
  let a = '';
  if (cfg.domain) a += `; domain=${cfg.domain}`;
  if (cfg.httpOnly) a += '; HttpOnly';
  if (cfg.secure) a += '; Secure';
  return a;
}
