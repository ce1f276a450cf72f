/**
 * Frontend settings of small L7 modules (src/http/modules/): the https redirect, HSTS
 * and the monitor URI. Each is checked against the frontend's mode and binds.
 */
import type { Bind, Condition, Hsts, HttpsRedirect, Mode, Monitor } from './model';
import type { FrontendInput } from './schema';
import type { Diagnostics, Seg, Where } from './source';

/** HAProxy's `monitor-uri <uri>` and `monitor fail if|unless <condition>` lines. */
export const MONITOR_LINE = /^monitor(-uri|\s+fail)\s/;
export interface MonitorLine {
  text: string;
  segs: Seg[];
}

/**
 * The monitor URI from `monitor_uri` (else the line) and the `monitor fail` conditions
 * of the lines then of `monitor_fail`; `condition` compiles one (undefined: reported).
 */
export function monitor(
  f: FrontendInput,
  lines: MonitorLine[],
  mode: Mode,
  base: Seg[],
  condition: (r: { if?: string; unless?: string }, segs: Seg[]) => Condition | undefined,
  at: (segs: Seg[]) => Where,
  diag: Diagnostics,
): Monitor | undefined {
  let uri = f.monitor_uri;
  const fail: Condition[] = [];
  for (const l of lines) {
    const uriLine = /^monitor-uri\s+(\S+)$/.exec(l.text);
    const failLine = /^monitor\s+fail\s+(if|unless)\s+(.+)$/.exec(l.text);
    if (uriLine) uri ??= uriLine[1];
    else if (failLine) {
      const c = condition({ [failLine[1]]: failLine[2] }, l.segs);
      if (c) fail.push(c);
    } else diag.error(at(l.segs), `"${l.text}": expected monitor-uri <uri> or monitor fail if|unless <condition>`);
  }
  (f.monitor_fail ?? []).forEach((r, i) => {
    const c = condition(r, [...base, 'monitor_fail', i]);
    if (c) fail.push(c);
  });
  if (uri === undefined) {
    if (fail.length) diag.error(at([...base, f.monitor_fail ? 'monitor_fail' : 'options']), 'monitor fail needs a monitor-uri');
    return undefined;
  }
  if (mode !== 'http') {
    diag.error(at([...base, f.monitor_uri !== undefined ? 'monitor_uri' : 'options']), 'monitor-uri needs mode http');
    return undefined;
  }
  return { uri, fail };
}

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
