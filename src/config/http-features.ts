/**
 * Frontend settings of small L7 modules (src/http/modules/): the https redirect, HSTS,
 * the monitor URI and the security-headers preset. Each is checked against the frontend's mode and binds.
 */
import type { Bind, Condition, Hsts, HttpsRedirect, Mode, Monitor, SecurityHeaders } from './model';
import type { FrontendInput } from './schema-frontend';
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

/** What each preset adds; a header the user names in the preset object replaces (or, with false, drops) its line. */
const PRESETS: Record<'strict' | 'basic', Record<string, string>> = {
  strict: {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // Restricts what cannot break a page's own scripts and styles: framing, plugins, <base>.
    'Content-Security-Policy': "frame-ancestors 'none'; object-src 'none'; base-uri 'self'",
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  },
  basic: {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'SAMEORIGIN',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
  },
};
const PRESET_KEYS: Record<string, string> = {
  x_content_type_options: 'X-Content-Type-Options',
  x_frame_options: 'X-Frame-Options',
  referrer_policy: 'Referrer-Policy',
  content_security_policy: 'Content-Security-Policy',
  permissions_policy: 'Permissions-Policy',
};
/** HSTS the presets turn on when the frontend gives no `hsts` of its own. */
const PRESET_HSTS: Hsts = { maxAge: 31536000, includeSubDomains: false, preload: false };

/**
 * The security-headers preset: its lines, minus the headers the user's http_response
 * rules set, add or delete (an explicit header wins), and the HSTS it implies.
 */
export function securityHeaders(
  v: FrontendInput['security_headers'],
  ruleHeaders: Set<string>,
  hstsGiven: Hsts | undefined,
  mode: Mode,
  where: Where,
  diag: Diagnostics,
): { headers?: SecurityHeaders; hsts?: Hsts } {
  if (v === undefined) return { hsts: hstsGiven };
  if (mode !== 'http') {
    diag.error(where, 'security_headers needs mode http');
    return { hsts: hstsGiven };
  }
  const o = typeof v === 'string' ? { preset: v } : v;
  const lines: Record<string, string | false> = { ...PRESETS[o.preset] };
  for (const [key, name] of Object.entries(PRESET_KEYS)) {
    const given = (o as unknown as Record<string, unknown>)[key];
    if (typeof given === 'string' || given === false) lines[name] = given;
  }
  const add: SecurityHeaders['add'] = [];
  for (const [name, value] of Object.entries(lines)) if (value !== false && !ruleHeaders.has(name.toLowerCase())) add.push({ name, value });
  const remove = ['server', 'x-powered-by', ...((typeof v === 'string' ? undefined : v.remove) ?? []).map((n) => n.toLowerCase())];
  const withHsts = typeof v === 'string' || v.hsts !== false;
  return { headers: { add, remove }, hsts: hstsGiven ?? (withHsts && !ruleHeaders.has('strict-transport-security') ? PRESET_HSTS : undefined) };
}
