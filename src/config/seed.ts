/**
 * The seed document's `Proxy` shape (under `proxy:`) → native config. Every
 * decision the seed leaves open is documented in config/README.md. Keys of the
 * produced config map back to the seed's own keys, so errors point at them.
 */
import * as path from 'node:path';
import type { Fragment } from './load';
import type { BackendInput, ServerInput } from './schema-backend';
import type { FrontendInput } from './schema-frontend';
import type { NativeConfig } from './schema';
import type { SeedProxy } from './schema-seed';
import type { StickTableInput } from './schema-protection';
import { splitWords } from './haproxy-syntax';
import { formatPath, type Diagnostics, type Seg, type SourceFile } from './source';

type SeedBackend = NonNullable<SeedProxy['backends']>[number];

/** Options that only make sense on http frontends, left out of the seed's tcp ones. */
const HTTP_ONLY_OPTIONS = /^(httplog|forwardfor|http-|monitor)/;
const DEFAULT_HTTPS_IN_BINDS: NonNullable<SeedProxy['https_in_binds']> = [{ ip: '0.0.0.0', port: 443 }];
const TLS_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
/** The peers section ha_config.peers becomes, and the port of a peer without one (HAProxy examples' 10000). */
const SEED_PEERS = 'ha';
const SEED_PEER_PORT = 10000;
/** ha_config.stick_tables' defaults (configuration.txt's example table). */
const SEED_TABLE: StickTableInput = { type: 'ip', size: '100k', expire: '30s', store: ['http_req_rate(10s)', 'conn_cur'] };

export function adaptSeed(p: SeedProxy, src: SourceFile, diag: Diagnostics): { fragment: Fragment; extras: Record<string, unknown> } {
  const map = new Map<string, Seg[]>();
  const P = (...segs: Seg[]): Seg[] => ['proxy', ...segs];
  const link = (native: Seg[], seed: Seg[]) => map.set(formatPath(native), seed);
  const at = (seed: Seg[]) => ({ src, segs: seed });
  const extras: Record<string, unknown> = {};
  const cfg: NativeConfig = {};

  // ---- global
  const global: NonNullable<NativeConfig['global']> = {};
  if (p.run_user !== undefined) (global.user = p.run_user), link(['global', 'user'], P('run_user'));
  if (p.run_group !== undefined) (global.group = p.run_group), link(['global', 'group'], P('run_group'));
  if (p.proxy_lib !== undefined) {
    global.state_dir = p.proxy_lib;
    link(['global', 'state_dir'], P('proxy_lib'));
    cfg.runtime_api = { socket: path.posix.join(p.proxy_lib, 'stats'), mode: '660', level: 'admin' };
    link(['runtime_api'], P('proxy_lib'));
  }
  const perf = p.performance;
  if (perf) {
    if (perf.nbproc !== undefined) (global.workers = perf.nbproc), link(['global', 'workers'], P('performance', 'nbproc'));
    if (perf.maxconn !== undefined) (global.maxconn = perf.maxconn), link(['global', 'maxconn'], P('performance', 'maxconn'));
    if (perf.tune_bufsize !== undefined) (global.buf_size = perf.tune_bufsize), link(['global', 'buf_size'], P('performance', 'tune_bufsize'));
    if (perf.tune_maxrewrite !== undefined) (global.max_rewrite = perf.tune_maxrewrite), link(['global', 'max_rewrite'], P('performance', 'tune_maxrewrite'));
    if (perf.cpu_map !== undefined) diag.pendingFeature(at(P('performance', 'cpu_map')), 'performance issue (CPU pinning)', '', perf.cpu_map);
    if (perf.tune_ssl_default_dh_param !== undefined) {
      global.ssl_default_dh_param = perf.tune_ssl_default_dh_param;
      link(['global', 'ssl_default_dh_param'], P('performance', 'tune_ssl_default_dh_param'));
    }
  }
  if (Object.keys(global).length) cfg.global = global;
  for (const k of ['proxy_version', 'proxy_cfg_file', 'run_user_home'] as const) {
    if (p[k] !== undefined) extras[k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())] = p[k];
  }

  // ---- defaults: timeouts and check defaults
  const defaults: NonNullable<NativeConfig['defaults']> = {};
  if (p.timeouts) {
    defaults.timeouts = { ...p.timeouts };
    link(['defaults', 'timeouts'], P('timeouts'));
    for (const k of Object.keys(p.timeouts)) link(['defaults', 'timeouts', k], P('timeouts', k));
  }
  const hc = p.monitoring?.health_checks;
  if (hc) {
    const check: NonNullable<typeof defaults.check> = {};
    if (hc.interval !== undefined) (check.inter = hc.interval), link(['defaults', 'check', 'inter'], P('monitoring', 'health_checks', 'interval'));
    if (hc.rise !== undefined) (check.rise = hc.rise), link(['defaults', 'check', 'rise'], P('monitoring', 'health_checks', 'rise'));
    if (hc.fall !== undefined) (check.fall = hc.fall), link(['defaults', 'check', 'fall'], P('monitoring', 'health_checks', 'fall'));
    if (Object.keys(check).length) defaults.check = check;
    if (hc.timeout !== undefined && p.timeouts?.check === undefined) {
      defaults.timeouts = { ...defaults.timeouts, check: hc.timeout };
      link(['defaults', 'timeouts', 'check'], P('monitoring', 'health_checks', 'timeout'));
    }
    // Recipients of the state-change mails; a native `mailers:` (same or another file) names the SMTP server.
    if (hc.email_alerts !== undefined) {
      cfg.mailers = { to: hc.email_alerts };
      link(['mailers'], P('monitoring', 'health_checks', 'email_alerts'));
    }
    if (hc.enabled === false) diag.warn(at(P('monitoring', 'health_checks', 'enabled')), "enabled: false does not turn checks off: each server's `check` keyword decides");
  }
  if (Object.keys(defaults).length) cfg.defaults = defaults;

  // ---- backends: one entry per server, grouped by name
  const groups = new Map<string, { first: number; items: { b: SeedBackend; index: number }[] }>();
  (p.backends ?? []).forEach((b, index) => {
    const g = groups.get(b.name) ?? { first: index, items: [] };
    g.items.push({ b, index });
    groups.set(b.name, g);
  });
  const backends: BackendInput[] = [];
  for (const [name, g] of groups) {
    const bi = backends.length;
    const firstOf = (key: 'mode' | 'balance' | 'option') => g.items.find((it) => nonEmpty(it.b[key]) !== undefined);
    for (const key of ['mode', 'balance', 'option'] as const) {
      const ref = firstOf(key);
      if (!ref) continue;
      for (const it of g.items) {
        const v = nonEmpty(it.b[key]);
        if (v !== undefined && v !== nonEmpty(ref.b[key])) {
          diag.error(at(P('backends', it.index, key)), `backend "${name}": ${key} "${v}" conflicts with "${ref.b[key]}" at backends[${ref.index}] (entries with the same name form one backend)`);
        }
      }
    }
    const servers: ServerInput[] = [];
    const backend: BackendInput = { name, servers };
    link(['backends', bi], P('backends', g.first));
    const mode = firstOf('mode');
    if (mode) (backend.mode = mode.b.mode), link(['backends', bi, 'mode'], P('backends', mode.index, 'mode'));
    const balance = firstOf('balance');
    if (balance) (backend.balance = balance.b.balance), link(['backends', bi, 'balance'], P('backends', balance.index, 'balance'));
    const option = firstOf('option');
    if (option) {
      // One HAProxy line per line: `option …` (the word `option` may be left out), `http-check …`, `tcp-check …`.
      backend.options = option.b.option!.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      link(['backends', bi, 'options'], P('backends', option.index, 'option'));
    }
    const hosts = [...new Set(g.items.map((it) => nonEmpty(it.b.ssl_sni)).filter((h): h is string => h !== undefined))];
    if (hosts.length) (backend.host_names = hosts), link(['backends', bi, 'host_names'], P('backends', g.first, 'ssl_sni'));
    g.items.forEach(({ b, index }, si) => {
      const server: ServerInput = { name: b.server_name, address: b.server_host_ip, port: b.server_port };
      const ops = nonEmpty(b.server_ops);
      if (ops !== undefined) server.options = ops;
      // ssl_sni is the SNI sent to servers spoken to over TLS, unless the ops name one.
      const words = splitWords(ops ?? '');
      if (words.includes('ssl') && !words.includes('sni') && nonEmpty(b.ssl_sni)) server.sni = b.ssl_sni;
      servers.push(server);
      const base: Seg[] = ['backends', bi, 'servers', si];
      link(base, P('backends', index));
      link([...base, 'name'], P('backends', index, 'server_name'));
      link([...base, 'address'], P('backends', index, 'server_host_ip'));
      link([...base, 'port'], P('backends', index, 'server_port'));
      link([...base, 'options'], P('backends', index, 'server_ops'));
      link([...base, 'sni'], P('backends', index, 'ssl_sni'));
    });
    backends.push(backend);
  }
  if (backends.length) cfg.backends = backends;
  const backendByName = new Map(backends.map((b) => [b.name, b]));
  const modeOf = (name: string) => backendByName.get(name)?.mode ?? 'http';

  // ---- binds: tcp_services own their port; the rest belong to https-in
  const bindsGiven = p.https_in_binds !== undefined;
  const seedBinds = (p.https_in_binds ?? (backends.length ? DEFAULT_HTTPS_IN_BINDS : [])).map((b, index) => ({ ...b, index }));
  if (!bindsGiven && backends.length) {
    diag.warn(at(P()), 'no https_in_binds: https-in listens on 0.0.0.0:443 (the seed default)');
  }
  const ownedPorts = new Map<number, number>();
  const frontends: FrontendInput[] = [];
  const options = p.https_options ?? [];
  const log = p.https_log_format !== undefined ? { format: p.https_log_format } : undefined;
  const sharedSettings = (fe: FrontendInput, fi: number, tcp: boolean) => {
    const own = options.map((o, i) => ({ o, i })).filter(({ o }) => !(tcp && HTTP_ONLY_OPTIONS.test(o)));
    if (own.length) {
      fe.options = own.map(({ o }) => o);
      own.forEach(({ i }, k) => link(['frontends', fi, 'options', k], P('https_options', i)));
    }
    if (log) (fe.log = { ...log }), link(['frontends', fi, 'log'], P('https_log_format'));
    if (hc?.log_health_checks) (fe.log = { ...fe.log, log_health_checks: true }), link(['frontends', fi, 'log', 'log_health_checks'], P('monitoring', 'health_checks', 'log_health_checks'));
  };
  (p.tcp_services ?? []).forEach((svc, i) => {
    const seg = P('tcp_services', i);
    if (ownedPorts.has(svc.bind_port)) {
      diag.error(at([...seg, 'bind_port']), `port ${svc.bind_port} is already owned by tcp_services[${ownedPorts.get(svc.bind_port)}]`);
      return;
    }
    ownedPorts.set(svc.bind_port, i);
    if (backendByName.has(svc.backend) && modeOf(svc.backend) !== 'tcp') {
      diag.error(at([...seg, 'backend']), `tcp_services needs a tcp backend; "${svc.backend}" is mode ${modeOf(svc.backend)}`);
    }
    const fi = frontends.length;
    const shared = seedBinds.find((b) => b.port === svc.bind_port);
    const fe: FrontendInput = { name: `tcp-${svc.bind_port}`, mode: 'tcp', binds: [{ address: shared?.ip ?? '0.0.0.0', port: svc.bind_port, accept_proxy: shared?.accept_proxy }], default_backend: svc.backend };
    link(['frontends', fi], seg);
    link(['frontends', fi, 'binds', 0], shared ? P('https_in_binds', shared.index) : [...seg, 'bind_port']);
    link(['frontends', fi, 'default_backend'], [...seg, 'backend']);
    sharedSettings(fe, fi, true);
    frontends.push(fe);
  });

  const httpsBinds = seedBinds.filter((b) => !ownedPorts.has(b.port));
  const usedByTcp = new Set((p.tcp_services ?? []).map((s) => s.backend));
  const candidates = backends.filter((b) => !usedByTcp.has(b.name));
  const rules = p.routing_rules ?? [];
  // What no rule matches goes to the first backend of the list (of the rules' mode), as with no rules at all.
  const ruleModes = new Set(rules.map((r) => r.backend).filter((n) => backendByName.has(n)).map(modeOf));
  const pool = candidates.length ? candidates : backends;
  const defaultBackend = (ruleModes.size === 1 ? pool.find((b) => ruleModes.has(modeOf(b.name))) : pool[0])?.name;
  const routed = new Set([...rules.map((r) => r.backend), ...(defaultBackend ? [defaultBackend] : [])]);
  const routedModes = new Set([...routed].filter((n) => backendByName.has(n)).map(modeOf));
  const ssl = p.ssl;
  if (httpsBinds.length === 0) {
    if (rules.length) diag.warn(at(P('routing_rules')), 'https-in has no bind of its own (tcp_services own them all): routing_rules are not used');
    if (ssl?.enabled) diag.warn(at(P('ssl', 'enabled')), 'https-in has no bind of its own (tcp_services own them all): nothing terminates TLS');
  } else {
    if (routedModes.size > 1) diag.error(at(P('routing_rules')), 'https-in would route to both http and tcp backends; one frontend has one mode');
    const mode = routedModes.has('tcp') && routedModes.size === 1 ? 'tcp' : 'http';
    const fi = frontends.length;
    const fe: FrontendInput = { name: 'https-in', mode, binds: [] };
    link(['frontends', fi], bindsGiven ? P('https_in_binds') : P());
    // A bind is TLS when marked `ssl: true`, or on port 443 unless marked `ssl: false`.
    const tlsBind = (b: (typeof httpsBinds)[number]) => b.ssl === true || (b.ssl === undefined && b.port === 443);
    const tls = ssl?.enabled ? sslSettings(ssl, diag, at, P) : undefined;
    let tlsPort = 0;
    httpsBinds.forEach((b, k) => {
      const bind: NonNullable<FrontendInput['binds'][number]> = { address: b.ip, port: b.port, accept_proxy: b.accept_proxy };
      link(['frontends', fi, 'binds', k], P('https_in_binds', b.index));
      if (tls && tlsBind(b)) {
        bind.ssl = tls;
        tlsPort ||= b.port;
        link(['frontends', fi, 'binds', k, 'ssl'], P('ssl'));
        link(['frontends', fi, 'binds', k, 'ssl', 'certificates', 0], P('ssl', 'certificate_file'));
      } else if (b.ssl && !ssl?.enabled) {
        diag.warn(at(P('https_in_binds', b.index, 'ssl')), 'ssl: true but ssl.enabled is not set: this bind is plain');
      }
      fe.binds.push(bind);
    });
    if (tls && !tlsPort) diag.warn(at(P('ssl', 'enabled')), 'ssl.enabled, but no https_in_binds entry is on port 443 or marked ssl: true: every bind is plain');
    if (defaultBackend) (fe.default_backend = defaultBackend), link(['frontends', fi, 'default_backend'], P('backends', (p.backends ?? []).findIndex((b) => b.name === defaultBackend)));
    if (rules.length) {
      fe.use_backend = rules.map((r) => ({ backend: r.backend, if: r.condition }));
      rules.forEach((_, i) => {
        link(['frontends', fi, 'use_backend', i], P('routing_rules', i));
        link(['frontends', fi, 'use_backend', i, 'if'], P('routing_rules', i, 'condition'));
        link(['frontends', fi, 'use_backend', i, 'backend'], P('routing_rules', i, 'backend'));
      });
    }
    if (tls && tlsPort && mode === 'http') {
      fe.host_routing = true;
      link(['frontends', fi, 'host_routing'], P('ssl', 'enabled'));
      if (ssl?.redirect_http_to_https) {
        fe.https_redirect = { code: ssl.redirect_code ?? 301, port: tlsPort };
        link(['frontends', fi, 'https_redirect'], P('ssl', 'redirect_http_to_https'));
      }
      if (ssl?.hsts_enabled) {
        fe.hsts = { max_age: ssl.hsts_max_age ?? 31536000, include_subdomains: ssl.hsts_include_subdomains, preload: ssl.hsts_preload };
        link(['frontends', fi, 'hsts'], P('ssl', 'hsts_enabled'));
      }
    } else if (tls && mode === 'tcp' && (ssl?.redirect_http_to_https || ssl?.hsts_enabled)) {
      diag.error(at(P('ssl')), 'redirect_http_to_https and hsts_enabled need http backends (https-in is mode tcp)');
    }
    if (mode === 'tcp') {
      // SNI routing, after routing_rules: the ClientHello's when TLS passes through, ours when we terminate it.
      const fetch = tls ? 'ssl_fc_sni' : 'req_ssl_sni';
      const sniRules = backends.filter((b) => b.mode === 'tcp' && b.host_names?.length);
      sniRules.forEach((b) => {
        const k = (fe.use_backend ??= []).length;
        fe.use_backend.push({ backend: b.name, if: `{ ${fetch} -i ${b.host_names!.map(quoteWord).join(' ')} }` });
        link(['frontends', fi, 'use_backend', k], P('backends', groups.get(b.name)!.first, 'ssl_sni'));
      });
    }
    sharedSettings(fe, fi, mode === 'tcp');
    frontends.push(fe);
  }
  if (ssl && !ssl.enabled && Object.keys(ssl).some((k) => k !== 'enabled')) {
    diag.warn(at(P('ssl')), 'ssl settings are ignored: ssl.enabled is not true');
  }
  if (frontends.length) cfg.frontends = frontends;

  // ---- monitoring
  const mon = p.monitoring;
  if (mon?.stats?.enabled) {
    const s = mon.stats;
    cfg.stats = {
      bind: listen(s.bind_ip ?? '127.0.0.1', s.bind_port ?? 8404),
      uri: s.uri,
      username: s.username,
      password: s.password,
      // The seed writes `refresh: 30` meaning seconds, as HAProxy's `stats refresh 30s`.
      refresh: typeof s.refresh === 'number' ? `${s.refresh}s` : s.refresh,
      admin: s.admin,
    };
    link(['stats'], P('monitoring', 'stats'));
    for (const k of ['refresh', 'username', 'password', 'admin'] as const) link(['stats', k], P('monitoring', 'stats', k));
  }
  if (mon?.prometheus?.enabled) {
    const m = mon.prometheus;
    cfg.prometheus = { bind: listen(m.bind_ip ?? '127.0.0.1', m.bind_port ?? 8405), uri: m.uri, prefix: 'haproxy' };
    link(['prometheus'], P('monitoring', 'prometheus'));
  }

  // ---- high availability: `tslb keepalived` reads ha_config.keepalived from the extras; peers become a
  // `peers ha` section, `stick_tables` settings https-in's table, session_synchronization replicates every table.
  if (p.ha_config) {
    extras.haConfig = p.ha_config;
    const ha = p.ha_config;
    if (ha.peers?.length) {
      cfg.peers = [
        {
          name: SEED_PEERS,
          members: ha.peers.map((m) => ({ name: m.name, address: m.ip, port: m.port ?? SEED_PEER_PORT })),
          ...(ha.peers_secret ? { secret: ha.peers_secret } : {}),
          ...(ha.session_synchronization ? { sync_all_tables: true } : {}),
        },
      ];
      link(['peers', 0], P('ha_config', 'peers'));
      ha.peers.forEach((_, i) => link(['peers', 0, 'members', i], P('ha_config', 'peers', i)));
    } else if (ha.session_synchronization) diag.warn(at(P('ha_config', 'session_synchronization')), 'session_synchronization needs ha_config.peers: nothing is replicated');
    if (typeof ha.stick_tables === 'object') {
      const fi = frontends.findIndex((f) => f.name === 'https-in');
      if (fi < 0) diag.warn(at(P('ha_config', 'stick_tables')), 'stick_tables settings go to https-in, which this config does not have');
      else (frontends[fi].stick_table = { ...SEED_TABLE, ...(ha.stick_tables as Partial<StickTableInput>) }), link(['frontends', fi, 'stick_table'], P('ha_config', 'stick_tables'));
    }
  }

  const locate = (segs: Seg[]) => {
    for (let k = segs.length; k >= 0; k--) {
      const seed = map.get(formatPath(segs.slice(0, k)));
      if (seed) return { src, segs: seed };
    }
    return { src, segs: P() };
  };
  return { fragment: { config: cfg, locate }, extras };
}

/** A word of an ACL pattern list, quoted as HAProxy reads it. */
function quoteWord(w: string): string {
  return `"${w.replace(/["\\]/g, '\\$&')}"`;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

function listen(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function sslSettings(
  ssl: NonNullable<SeedProxy['ssl']>,
  diag: Diagnostics,
  at: (s: Seg[]) => { src: SourceFile; segs: Seg[] },
  P: (...s: Seg[]) => Seg[],
): NonNullable<Exclude<FrontendInput['binds'][number], string>['ssl']> | undefined {
  if (!ssl.certificate_file) {
    diag.error(at(P('ssl')), 'ssl.enabled needs certificate_file (a PEM with the certificate and its key), with certificate_path');
    return undefined;
  }
  const out: NonNullable<Exclude<FrontendInput['binds'][number], string>['ssl']> = {
    certificates: [path.join(ssl.certificate_path ?? '', ssl.certificate_file)],
  };
  if (ssl.protocols !== undefined) {
    const words = ssl.protocols.split(/[\s,]+/).filter(Boolean);
    const idx = words.map((w) => TLS_ORDER.indexOf(w as (typeof TLS_ORDER)[number]));
    const bad = words.filter((_, i) => idx[i] < 0);
    if (bad.length || words.length === 0) {
      diag.error(at(P('ssl', 'protocols')), `unknown TLS version "${bad[0] ?? ''}" (expected ${TLS_ORDER.join(', ')})`);
    } else {
      out.min_version = TLS_ORDER[Math.min(...idx)];
      out.max_version = TLS_ORDER[Math.max(...idx)];
    }
  }
  if (ssl.ciphers !== undefined) out.ciphers = ssl.ciphers;
  return out;
}
