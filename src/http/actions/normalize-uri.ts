/**
 * http-request normalize-uri (HAProxy 2.4+ names): the path is rewritten in the
 * request line (as set-path does) so the rules after it, routing and the server see
 * one spelling of it.
 * - `path-merge-slashes`: `//` runs become one `/`;
 * - `path-strip-dotdot [full]`: a `..` segment removes the one before it; those with
 *   none before (`/../a`) stay unless `full`;
 * - `percent-decode-unreserved [strict]`: `%41` and the other unreserved characters
 *   (ALPHA DIGIT - . _ ~) are decoded in the path and query; `strict` answers 400 to a
 *   bad `%` escape.
 */
import type { HttpAction } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';
import { pathBounds, rebuild, setPathAndQuery } from './request-line';

type Act = Extract<HttpAction, { action: 'normalize-uri' }>;

export function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

export function stripDotdot(path: string, full: boolean): string {
  const segs = path.split('/');
  const out: string[] = [];
  // segs[0] is '' (the path starts with '/').
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    const last = i === segs.length - 1;
    if (s !== '..') {
      out.push(s);
      continue;
    }
    if (out.length && out[out.length - 1] !== '..') out.pop();
    else if (!full) out.push('..');
    // `/a/b/..` ends as a directory: `/a/`.
    if (last) out.push('');
  }
  return '/' + out.join('/');
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes unreserved escapes; undefined when `strict` and an escape is bad. */
export function decodeUnreserved(s: string, strict: boolean): string | undefined {
  if (strict && /%(?![0-9A-Fa-f]{2})/.test(s)) return undefined;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : m;
  });
}

export function normalizeUriAction(a: Act): RuleAction {
  switch (a.mode) {
    case 'path-merge-slashes':
      return (ex) => normalizePath(ex, mergeSlashes);
    case 'path-strip-dotdot': {
      const full = a.full === true;
      return (ex) => normalizePath(ex, (p) => stripDotdot(p, full));
    }
    case 'percent-decode-unreserved': {
      const strict = a.strict === true;
      return (ex) => {
        const { pathStart } = pathBounds(ex);
        const rest = ex.req.buf.toString('latin1', pathStart, ex.req.targetEnd);
        if (rest.indexOf('%') < 0) return CONTINUE;
        const decoded = decodeUnreserved(rest, strict);
        if (decoded === undefined) return ex.answer(400, true);
        if (decoded !== rest) setPathAndQuery(ex, decoded);
        return CONTINUE;
      };
    }
  }
}

function normalizePath(ex: HttpExchange, f: (path: string) => string): number {
  const path = ex.ctx.path();
  if (!path.startsWith('/')) return CONTINUE;
  const normal = f(path);
  if (normal !== path) rebuild(ex, normal, undefined);
  return CONTINUE;
}
