/**
 * Frontend settings of L7 modules that take no rule (src/http/modules/): the https
 * redirect and HSTS. Each is checked against the frontend's mode and binds.
 */
import type { Bind, Hsts, HttpsRedirect, Mode } from './model';
import type { FrontendInput } from './schema';
import type { Diagnostics, Where } from './source';

export function httpsRedirect(v: FrontendInput['https_redirect'], binds: Bind[], mode: Mode, where: Where, diag: Diagnostics): HttpsRedirect | undefined {
  if (v === undefined || v === false) return undefined;
  if (mode !== 'http') {
    diag.error(where, 'https_redirect needs mode http');
    return undefined;
  }
  const o = v === true ? {} : v;
  return { code: o.code ?? 301, port: o.port ?? binds.find((b) => b.tls)?.port ?? 443 };
}

export function hsts(v: FrontendInput['hsts'], binds: Bind[], mode: Mode, where: Where, diag: Diagnostics): Hsts | undefined {
  if (v === undefined) return undefined;
  if (mode !== 'http') {
    diag.error(where, 'hsts needs mode http');
    return undefined;
  }
  if (!binds.some((b) => b.tls)) diag.warn(where, 'hsts is sent over TLS only, and no bind of this frontend terminates TLS');
  return { maxAge: v.max_age, includeSubDomains: v.include_subdomains ?? false, preload: v.preload ?? false };
}
