/**
 * The admin services beside the proxies: the runtime API, the stats page, the Prometheus
 * exporter, e-mail alert settings, and the `address:port` listen syntax they share with binds.
 */
import { isIP } from 'node:net';
import { adminAllow } from './admin-allow';
import type { Locate } from './build';
import type { Model } from './model';
import type { MailersInput } from './schema-services';
import type { NativeConfig } from './schema';
import type { Diagnostics, Seg } from './source';

/** `127.0.0.1:80`, `[::1]:80`, `:80`, `*:80` (any address). */
export function parseListen(text: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)|([0-9a-fA-F:]+)):(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[4]);
  if (port < 1 || port > 65535) return undefined;
  let address = m[1] ?? m[2] ?? m[3] ?? '';
  if (address === '' || address === '*') address = '0.0.0.0';
  if (!isIP(address)) return undefined;
  return { address, port };
}

/** An admin listener's `allow`, present only when it has one (src/config/admin-allow.ts). */
function allowField(allow: string[] | undefined, options: string[] | undefined, segs: Seg[], at: Locate, diag: Diagnostics): { allow?: string[] } {
  const nets = adminAllow(allow, options, segs, at, diag);
  return nets ? { allow: nets } : {};
}

/** The runtime API's unix socket and/or TCP listener. */
export function runtimeApi(cfg: NativeConfig, at: Locate, diag: Diagnostics): Model['runtimeApi'] {
  const r = cfg.runtime_api;
  if (!r) return undefined;
  const segs: Seg[] = ['runtime_api'];
  let tcp: { address: string; port: number } | undefined;
  if (r.tcp !== undefined) {
    tcp = parseListen(r.tcp);
    if (!tcp) diag.error(at([...segs, 'tcp']), `bad address "${r.tcp}"`);
    else if (!/^(127\.|::1$)/.test(tcp.address)) diag.warn(at([...segs, 'tcp']), 'the runtime API is unauthenticated: listen on loopback only');
  }
  if (!r.socket && !tcp) diag.error(at(segs), 'runtime_api needs a socket path or a tcp address');
  // The schema's pattern only sees strings: `mode: 660` is a YAML integer.
  if (r.mode !== undefined && !/^0?[0-7]{3}$/.test(String(r.mode))) diag.error(at([...segs, 'mode']), `must be an octal unix socket mode such as 660, not ${r.mode}`);
  return {
    socketPath: r.socket,
    mode: r.mode === undefined ? 0o600 : parseInt(String(r.mode), 8),
    level: r.level ?? 'admin',
    tcp,
    ...allowField(r.allow, undefined, segs, at, diag),
  };
}

/** The stats page listener; `time` parses a duration field, reporting a bad one. */
export function statsListener(cfg: NativeConfig, at: Locate, diag: Diagnostics, time: (v: string | number | undefined, segs: Seg[]) => number | undefined): Model['stats'] {
  const s = cfg.stats;
  if (!s) return undefined;
  // The page checks credentials only when it has a username: one without the other would leave it open.
  if ((s.username === undefined) !== (s.password === undefined)) {
    diag.error(at(['stats', s.username === undefined ? 'password' : 'username']), 'stats authentication needs both username and password');
  } else if (s.admin && s.username === undefined) {
    diag.warn(at(['stats', 'admin']), 'admin without username/password: anyone who reaches the stats page can change server states');
  }
  const l = parseListen(s.bind);
  if (!l) {
    diag.error(at(['stats', 'bind']), `bad address "${s.bind}"`);
    return undefined;
  }
  return {
    ...l,
    uri: s.uri ?? '/stats',
    username: s.username,
    password: s.password,
    refresh: time(s.refresh, ['stats', 'refresh']) ?? 0,
    admin: s.admin ?? false,
    ...allowField(s.allow, s.options, ['stats'], at, diag),
  };
}

/** E-mail alert settings, as src/primary/mailer.ts reads them from `extras.mailers`. */
export function mailerSettings(m: MailersInput, at: Locate, diag: Diagnostics): Record<string, unknown> {
  const segs: Seg[] = ['mailers'];
  const to = (typeof m.to === 'string' ? m.to.split(',') : (m.to ?? [])).map((a) => a.trim()).filter(Boolean);
  for (const addr of to) if (!/^[^\s@]+@[^\s@]+$/.test(addr)) diag.error(at([...segs, 'to']), `"${addr}" is not an e-mail address`);
  if (to.length === 0) diag.warn(at(segs), 'mailers without recipients (to, or the seed\'s email_alerts): no alert is sent');
  if ((m.user === undefined) !== (m.pass === undefined)) diag.error(at([...segs, m.user === undefined ? 'pass' : 'user']), 'SMTP authentication needs both user and pass');
  if (m.host !== undefined && !isIP(m.host) && !/^[A-Za-z0-9.-]+$/.test(m.host)) diag.error(at([...segs, 'host']), `"${m.host}" is not an IP address or host name`);
  const out: Record<string, unknown> = { ...m, to };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** The Prometheus exporter's listener. */
export function prometheusListener(cfg: NativeConfig, at: Locate, diag: Diagnostics): Model['prometheus'] {
  const p = cfg.prometheus;
  if (!p) return undefined;
  const l = parseListen(p.bind);
  if (!l) {
    diag.error(at(['prometheus', 'bind']), `bad address "${p.bind}"`);
    return undefined;
  }
  return { ...l, uri: p.uri ?? '/metrics', prefix: p.prefix ?? 'tslb', ...allowField(p.allow, p.options, ['prometheus'], at, diag) };
}
