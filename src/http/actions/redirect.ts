/**
 * redirect scheme|location|prefix: answers with the rule's code and a Location
 * built from the request (a log-format location; a prefix or scheme followed by the
 * request's URI, its query dropped and a slash appended when asked); a scheme redirect of a request without Host does not
 * apply (the next rule runs), in both directions.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type RedirectAct = Extract<HttpAction, { action: 'redirect-scheme' | 'redirect-location' | 'redirect-prefix' }>;

export function redirectAction(a: RedirectAct): RuleAction {
  const code = a.code;
  switch (a.action) {
    case 'redirect-location': {
      // A log-format location (`https://%[req.hdr(host)]%[path]`); the loader checked it.
      const location = compileValueTemplate(a.location, 'request', []);
      return typeof location === 'string' ? (ex) => ex.redirect(code, location) : (ex) => ex.redirect(code, location(ex.ctx));
    }
    case 'redirect-prefix': {
      const prefix = a.prefix.replace(/\/$/, '');
      const uri = uriOf(a);
      return (ex) => ex.redirect(code, prefix + uri(ex));
    }
    case 'redirect-scheme': {
      const scheme = a.scheme + '://';
      const uri = uriOf(a);
      return (ex) => {
        const host = requestHost(ex);
        return host ? ex.redirect(code, scheme + host + uri(ex)) : CONTINUE;
      };
    }
  }
}

/** The request's URI as the redirect carries it. */
function uriOf(a: { dropQuery?: boolean; appendSlash?: boolean }): (ex: HttpExchange) => string {
  if (!a.dropQuery) return (ex) => ex.ctx.pathAndQuery();
  if (!a.appendSlash) return (ex) => ex.ctx.path() || '/';
  return (ex) => {
    const p = ex.ctx.path();
    return p.endsWith('/') ? p : p + '/';
  };
}

/** The request's Host without its port ('' when none). */
function requestHost(ex: HttpExchange): string {
  const req = ex.req;
  if (req.host < 0) return '';
  const host = req.value(req.host);
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}
