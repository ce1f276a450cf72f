/**
 * Native config (validated, merged) → Model: applies defaults, parses the HAProxy
 * syntaxes inside strings, reads referenced files (TLS PEMs, errorfiles, CA
 * bundles) so the model is self-contained, and runs the semantic checks.
 */
import { accessLogDestinationError } from '../log/access-sink';
import { compileLogFormat } from '../log/access';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import type { Stage } from '../rules/context';
import { frontendReadsPayload } from '../rules/fetches';
import { parseSize, parseTime } from './haproxy-syntax';
import type {
  Backend,
  Compression,
  Condition,
  ForwardFor,
  Frontend,
  Global,
  HealthCheck,
  LogSettings,
  Mode,
  Model,
  Timeouts,
  UseBackendRule,
} from './model';
import type { BackendInput } from './schema-backend';
import type { ForwardForInput } from './schema-http-features';
import type { FrontendInput } from './schema-frontend';
import type { NativeConfig } from './schema';
import type { TimeoutsInput } from './schema-values';
import { applyCheckLines, nativeHealthCheck } from './health-checks';
import { mailerSettings, prometheusListener, runtimeApi, statsListener } from './services';
import { backendServers, DEFAULT_INTER, type CheckDefaults } from './servers';
import { ProxyRules } from './proxy-rules';
import { backendLines, balance } from './backend-lines';
import { buildBind, checkBindConflicts } from './binds';
import { optionLines, type OptionSet } from './option-lines';
import { type Diagnostics, type Seg, type Where } from './source';
import { missingTimeouts, NO_TIMEOUT_EFFECT, resolveTimeouts, type GivenTimeouts } from './timeouts';
import { declaredTables, frontendProtection, stickTableOf, presetLines, PUBLIC_PRESET, accessLines } from './protection';
import { didYouMean } from './suggest';
import { buildH2Settings } from './h2';
import { globalTuneLines, tuneNumber } from './global-options';
import { RuleRefs } from './rule-refs';
import { TlsConfig } from './tls';
import { buildAcme } from './acme';
import { DEFAULT_MAX_HEADERS } from '../http/head';
import { patternError } from '../rules/pattern-index';
import { buildUserlists } from './userlists';
import { buildCaches } from './caches';
import { compression } from './compression';
import { ErrorPages, type ProxyErrorInput } from './error-pages';
import { hsts, httpsRedirect, monitor, securityHeaders } from './http-features';
import { buildPeers, linkPeerTables } from './peers';
import { buildResolvers } from './resolvers';

/** Maps a key path of the merged native config to its place in a file. */
export type Locate = (segs: Seg[]) => Where;

const DEFAULT_BUFSIZE = 16384;
/** The largest tune.bufsize line: a request buffering its body may hold this much. */
const MAX_BUFSIZE = 1 << 30;
const DEFAULT_MAXREWRITE = 1024;
/** A served certificate expiring within this many days is a warning at start and reload. */
const DEFAULT_EXPIRY_WARNING_DAYS = 30;
/** How often the primary looks at served certificate files for replacements (ms). */
const DEFAULT_CERT_WATCH = 1000;

export class ModelBuilder {
  private defaultMode: Mode = 'http';
  private defaultTimeouts: GivenTimeouts = {};
  private checkDefaults!: CheckDefaults;
  /** Set by defaults(), before any proxy is built. */
  private defaultOptions!: OptionSet;
  /** Names of the `resolvers` sections, for the servers that name one. */
  private resolverNames = new Set<string>();
  private maxHeaderBytes = DEFAULT_BUFSIZE - DEFAULT_MAXREWRITE;
  /** Pattern/map files and proxies the rules name. */
  private readonly refs: RuleRefs;
  private readonly errorPages: ErrorPages;
  /** The stick tables conditions of the proxy being built may read (./protection.ts). */
  private tables = new Set<string>();
  /** Named ACLs, conditions and http rules of the proxy being built. */
  private readonly rules: ProxyRules;

  private readonly tls: TlsConfig;

  constructor(
    private readonly cfg: NativeConfig,
    private readonly at: Locate,
    private readonly diag: Diagnostics,
  ) {
    this.refs = new RuleRefs(diag, (file, where) => this.readFile(file, where), {
      backends: new Set((cfg.backends ?? []).map((b) => b.name)),
      frontends: new Set((cfg.frontends ?? []).map((f) => f.name)),
      userlists: new Set((cfg.userlists ?? []).map((l) => l.name)),
    });
    this.errorPages = new ErrorPages({ at, diag, read: (file, where) => this.readFile(file, where) });
    this.rules = new ProxyRules(at, diag, this.refs, this.errorPages);
    this.tls = new TlsConfig(at, diag, (file, segs) => this.readRelative(file, segs), cfg.global?.cert_expiry_warning_days ?? DEFAULT_EXPIRY_WARNING_DAYS, cfg.global?.ssl_default_dh_param);
  }

  build(files: string[], extras: Record<string, unknown>): Model {
    const cfg = this.cfg;
    const global = this.global();
    this.tls.acme = global.acme;
    this.defaults();
    const resolversIn = cfg.resolvers ?? [];
    this.checkDuplicates('resolvers', resolversIn, ['resolvers']);
    const resolvers = buildResolvers(resolversIn, this.at, this.diag);
    this.resolverNames = new Set(resolvers.map((r) => r.name));
    this.checkDuplicates('userlist', cfg.userlists ?? [], ['userlists']);
    const userlists = buildUserlists(cfg.userlists ?? [], this.at, this.diag);
    this.checkDuplicates('cache', cfg.caches ?? [], ['caches']);
    const caches = buildCaches(cfg.caches ?? [], this.at, this.diag);
    this.rules.cacheNames = new Set(caches.map((c) => c.name));
    this.errorPages.buildSections(cfg.http_errors ?? []);
    const frontendsIn = cfg.frontends ?? [];
    const backendsIn = cfg.backends ?? [];
    this.checkDuplicates('frontend', frontendsIn, ['frontends']);
    this.checkDuplicates('backend', backendsIn, ['backends']);
    this.tables = declaredTables(this.cfg, this.at, this.diag);
    const backends = backendsIn.map((b, i) => this.backend(b, i, frontendsIn.length + i + 1));
    const byName = new Map(backends.map((b) => [b.name, b]));
    const frontends = frontendsIn.map((f, i) => this.frontend(f, i, byName));
    checkBindConflicts(frontends, this.at, this.diag);
    this.checkDuplicates('peers', cfg.peers ?? [], ['peers']);
    const peers = buildPeers(cfg.peers ?? [], cfg.global?.localpeer, this.at, (file, segs) => this.readRelative(file, segs), this.diag);
    linkPeerTables(cfg.peers ?? [], peers, { frontends, backends }, this.at, this.diag);
    const stats = statsListener(this.cfg, this.at, this.diag, (v, segs) => this.time(v, segs));
    const prometheus = prometheusListener(this.cfg, this.at, this.diag);
    const listens = frontends.some((f) => f.binds.length > 0) || stats !== undefined || prometheus !== undefined;
    if (!listens && backends.length === 0) {
      this.diag.error(this.at([]), 'this configuration serves nothing: no frontend with a bind, no stats or prometheus listener, and no backend');
    } else if (!frontends.some((f) => f.binds.length > 0) && backends.length > 0) {
      this.diag.warn(this.at(['backends']), 'no frontend with a bind: the backends receive no traffic');
    }
    const patternFiles = this.refs.patternFiles();
    return {
      global,
      frontends,
      backends,
      runtimeApi: runtimeApi(this.cfg, this.at, this.diag),
      stats,
      prometheus,
      resolvers,
      ...(peers.length ? { peers } : {}),
      userlists,
      ...(caches.length ? { caches } : {}),
      extras: this.cfg.mailers ? { ...extras, mailers: mailerSettings(this.cfg.mailers, this.at, this.diag) } : extras,
      pending: this.diag.pending,
      files,
      ...(patternFiles.length ? { patternFiles } : {}),
    };
  }

  // ---------------------------------------------------------------- helpers

  private time(v: string | number | undefined, segs: Seg[]): number | undefined {
    if (v === undefined) return undefined;
    const t = parseTime(v);
    if (t.error !== undefined) this.diag.error(this.at(segs), t.error);
    return t.value;
  }

  private size(v: string | number | undefined, segs: Seg[]): number | undefined {
    if (v === undefined) return undefined;
    const t = parseSize(v);
    if (t.error !== undefined) this.diag.error(this.at(segs), t.error);
    return t.value;
  }

  /** Reads a file named in the config, relative to the config file that names it. */
  private readRelative(file: string, segs: Seg[]): string | undefined {
    return this.readFile(file, this.at(segs))?.text;
  }

  private readFile(file: string, where: Where): { path: string; text: string } | undefined {
    const full = path.resolve(path.dirname(where.src.file), file);
    try {
      return { path: full, text: readFileSync(full, 'utf8') };
    } catch (e) {
      this.diag.error(where, `cannot read ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return undefined;
    }
  }

  private checkDuplicates(kind: string, items: { name: string }[], base: Seg[]): void {
    const first = new Map<string, number>();
    items.forEach((it, i) => {
      const prev = first.get(it.name);
      if (prev === undefined) {
        first.set(it.name, i);
        return;
      }
      const other = this.at([...base, prev, 'name']);
      const pos = other.src.position(other.segs);
      this.diag.error(this.at([...base, i, 'name']), `duplicate ${kind} "${it.name}" (first defined at ${other.src.file}:${pos.line}:${pos.column})`);
    });
  }

  // ---------------------------------------------------------------- global / defaults

  private global(): Global {
    const g = this.cfg.global ?? {};
    let workers = availableParallelism();
    if (typeof g.workers === 'number') workers = g.workers;
    const tune = globalTuneLines(g, this.at, this.diag);
    const bufSize = this.size(g.buf_size, ['global', 'buf_size']) ?? tuneNumber(tune.get('tune.bufsize'), 'tune.bufsize', 2048, MAX_BUFSIZE, this.at, this.diag) ?? DEFAULT_BUFSIZE;
    const maxRewrite = this.size(g.max_rewrite, ['global', 'max_rewrite']) ?? Math.min(DEFAULT_MAXREWRITE, bufSize >> 1);
    if (bufSize - maxRewrite < 1024) {
      this.diag.error(this.at(['global', g.max_rewrite !== undefined ? 'max_rewrite' : 'buf_size']), `buf_size - max_rewrite must leave at least 1024 bytes for request headers (got ${bufSize - maxRewrite})`);
    }
    this.maxHeaderBytes = bufSize - maxRewrite;
    return {
      workers,
      user: g.user,
      group: g.group,
      pidfile: g.pidfile,
      stateDir: g.state_dir,
      maxconn: g.maxconn ?? 0,
      gracePeriod: this.time(g.grace_period, ['global', 'grace_period']) ?? 30_000,
      acceptMode: g.accept_mode ?? 'auto',
      bufSize,
      maxHeaders: g.max_headers ?? tuneNumber(tune.get('tune.http.maxhdr'), 'tune.http.maxhdr', 1, 32767, this.at, this.diag) ?? DEFAULT_MAX_HEADERS,
      logLevel: g.log_level ?? 'info',
      accessLog: this.accessLog(g.access_log),
      h2: buildH2Settings(g, tune, this.at, this.diag),
      maxCompRate: g.max_comp_rate ?? tuneNumber(tune.get('maxcomprate'), 'maxcomprate', 0, 2097151, this.at, this.diag) ?? 0,
      maxCompCpuUsage: g.max_comp_cpu_usage ?? tuneNumber(tune.get('maxcompcpuusage'), 'maxcompcpuusage', 0, 100, this.at, this.diag) ?? 100,
      certWatch: this.time(g.cert_watch, ['global', 'cert_watch']) ?? DEFAULT_CERT_WATCH,
      certExpiryWarningDays: g.cert_expiry_warning_days ?? DEFAULT_EXPIRY_WARNING_DAYS,
      acme: buildAcme(g, this.at, this.diag, (file, segs) => this.readRelative(file, segs)),
    };
  }

  /** Where access logs go: `stdout`, a file path, `udp://host:port` (RFC 3164) or `udp5424://…`. */
  private accessLog(dest: string | undefined): string {
    if (dest === undefined) return 'stdout';
    const err = accessLogDestinationError(dest);
    if (err) this.diag.error(this.at(['global', 'access_log']), err);
    return dest;
  }

  private defaults(): void {
    const d = this.cfg.defaults ?? {};
    this.defaultMode = d.mode ?? 'http';
    const c = d.check ?? {};
    const inter = this.time(c.inter, ['defaults', 'check', 'inter']) ?? DEFAULT_INTER;
    this.checkDefaults = {
      inter,
      fastinter: this.time(c.fastinter, ['defaults', 'check', 'fastinter']),
      downinter: this.time(c.downinter, ['defaults', 'check', 'downinter']),
      rise: c.rise ?? 2,
      fall: c.fall ?? 3,
    };
    this.defaultTimeouts = this.givenTimeouts(d.timeouts, ['defaults', 'timeouts']);
    this.defaultOptions = optionLines(d.options, ['defaults', 'options'], this.at, this.diag);
  }

  private givenTimeouts(t: TimeoutsInput | undefined, segs: Seg[]): GivenTimeouts {
    const given: GivenTimeouts = {};
    for (const k of Object.keys(t ?? {}) as (keyof TimeoutsInput)[]) {
      const ms = this.time(t![k], [...segs, k]);
      if (ms !== undefined) given[k] = ms;
    }
    return given;
  }

  /**
   * A frontend's or backend's timeouts over the defaults'. One that `serves` (a frontend
   * with binds, a backend with servers) gets HAProxy's warning for each essential timeout of 0.
   */
  private timeouts(kind: 'frontend' | 'backend', name: string, mode: Mode, t: TimeoutsInput | undefined, segs: Seg[], serves: boolean): Timeouts {
    const own = this.givenTimeouts(t, segs);
    const timeouts = resolveTimeouts(this.defaultTimeouts, own);
    if (!serves) return timeouts;
    for (const k of missingTimeouts(kind, mode, timeouts)) {
      // The 0 is in the section or in `defaults`.
      const at = own[k] !== undefined ? [...segs, k] : ['defaults', 'timeouts', k];
      this.diag.warn(this.at(at), `missing timeouts for ${kind} "${name}": ${k} 0 means no timeout (as in HAProxy); ${NO_TIMEOUT_EFFECT[k]}`);
    }
    return timeouts;
  }

  // ---------------------------------------------------------------- frontends

  private frontend(f: FrontendInput, index: number, backends: Map<string, Backend>): Frontend {
    const base: Seg[] = ['frontends', index];
    const mode = f.mode ?? this.defaultMode;
    const stage: Stage = mode === 'http' ? 'request' : 'connection';
    if (f.access !== undefined) f = { ...f, options: [...(f.options ?? []), ...accessLines(f.access, f.source_from_header !== undefined)] };
    if (f.protection !== undefined) {
      if (mode !== 'http') this.diag.error(this.at([...base, 'protection']), 'protection: public needs mode http');
      else if (f.stick_table !== undefined) this.diag.error(this.at([...base, 'protection']), 'protection: public declares the frontend\'s stick table: remove stick_table or the preset');
      else f = { ...f, options: [...(f.options ?? []), ...presetLines(f.protection)], max_body_size: f.max_body_size ?? PUBLIC_PRESET.maxBodySize, timeouts: { http_request: PUBLIC_PRESET.httpRequestTimeout, ...f.timeouts } };
    }
    const own = optionLines(f.options, [...base, 'options'], this.at, this.diag);
    const log: LogSettings = { format: 'json', dontLogNull: false, logHealthChecks: false, enabled: true };
    let forwardFor: ForwardFor | undefined;
    let bufferRequest = false;
    for (const { result, where } of [...this.defaultOptions.parsed, ...own.parsed]) {
      const isOwn = own.parsed.some((p) => p.where === where);
      if (result.kind === 'flag') {
        if (result.name === 'http-buffer-request') bufferRequest = true;
        else if (result.name === 'httplog' || result.name === 'tcplog') log.format = result.name;
        else if (result.name === 'dontlognull') log.dontLogNull = true;
        else if (result.name === 'log-health-checks') log.logHealthChecks = true;
        else if (isOwn && result.name !== 'http-keep-alive') this.diag.error(where, `option ${result.name} applies to backends, not frontends`);
      } else if (result.kind === 'forwardfor') forwardFor = result.forwardFor;
      else if (result.kind === 'check' && isOwn) this.diag.error(where, 'health check options belong in a backend');
    }
    if (f.log) {
      if (f.log.format !== undefined) {
        if (f.log.format === 'json' || f.log.format === 'httplog' || f.log.format === 'tcplog') log.format = f.log.format;
        else {
          log.format = 'custom';
          log.template = f.log.format;
        }
      }
      if (f.log.dontlognull !== undefined) log.dontLogNull = f.log.dontlognull;
      if (f.log.log_health_checks !== undefined) log.logHealthChecks = f.log.log_health_checks;
      if (f.log.enabled !== undefined) log.enabled = f.log.enabled;
    }
    const dl = this.cfg.defaults?.log;
    if (dl && !f.log?.format && dl.format) {
      if (dl.format === 'json' || dl.format === 'httplog' || dl.format === 'tcplog') log.format = dl.format;
      else {
        log.format = 'custom';
        log.template = dl.format;
      }
    }
    if (log.format === 'custom' && log.template !== undefined) {
      for (const err of compileLogFormat(log.template).errors) this.diag.error(this.at([...base, f.log?.format ? 'log' : 'options']), `log-format: ${err}`);
    }
    if (mode === 'tcp' && log.format === 'httplog') {
      this.diag.warn(this.at([...base, f.log?.format ? 'log' : 'options']), 'httplog in a tcp frontend: using tcplog (as HAProxy does)');
      log.format = 'tcplog';
    }
    if (f.forwardfor !== undefined) forwardFor = this.forwardFor(f.forwardfor);
    if (forwardFor && mode === 'tcp') {
      this.diag.error(this.at([...base, f.forwardfor !== undefined ? 'forwardfor' : 'options']), 'forwardfor needs mode http');
      forwardFor = undefined;
    }
    if (forwardFor) this.checkForwardForExcept(forwardFor, [...base, f.forwardfor !== undefined ? 'forwardfor' : 'options']);

    const named = this.rules.acls(f, base, mode);
    const stickTable = stickTableOf(f.name, f.stick_table, this.at([...base, 'stick_table']), own.protectionLines, this.diag);
    this.rules.tableScope = { tables: this.tables, own: stickTable ? f.name : undefined, checkDefault: true };
    const protection = frontendProtection({
      tcpRequest: f.tcp_request,
      rateLimitSessions: f.rate_limit_sessions,
      mode,
      lines: own.protectionLines,
      base,
      scope: this.rules.tableScope,
      at: this.at,
      diag: this.diag,
      condition: (text, where) => this.rules.parseRuleCondition(text, 'connection', named, where),
      sourceRef: (w) => this.diag.sourceRef(w),
    });
    const useBackend: UseBackendRule[] = [];
    (f.use_backend ?? []).forEach((r, i) => {
      const segs = [...base, 'use_backend', i];
      const cond = this.rules.condition(r, stage, named, segs);
      const rule: UseBackendRule | undefined = cond && { backend: r.backend, condition: cond.condition, text: cond.text, source: this.diag.sourceRef(this.at(segs)) };
      if (r.backend.includes('%[')) {
        const parts = this.refs.nameTemplate(r.backend, stage, this.at([...segs, 'backend']));
        if (rule && parts) rule.backendName = parts;
      } else this.backendRef(r.backend, mode, backends, [...segs, 'backend']);
      if (rule) useBackend.push(rule);
    });
    if (f.default_backend !== undefined) this.backendRef(f.default_backend, mode, backends, [...base, 'default_backend']);
    if (f.default_backend === undefined && useBackend.length === 0 && f.binds.length > 0 && !f.host_routing) {
      this.diag.warn(this.at([...base, 'name']), `frontend "${f.name}" has no default_backend and no use_backend rule: every connection gets 503`);
    }

    const hostBackends: Frontend['hostBackends'] = [];
    if (f.host_routing) {
      if (mode !== 'http') this.diag.error(this.at([...base, 'host_routing']), 'host_routing needs mode http');
      else for (const b of backends.values()) if (b.mode === 'http') for (const host of b.hostNames) hostBackends.push({ host, backend: b.name });
    }
    const inspectDelay = this.time(f.inspect_delay, [...base, 'inspect_delay']) ?? protection.inspectDelay;
    const tcpRequest = protection.tcpRequest;
    if (inspectDelay !== undefined && !frontendReadsPayload({ mode, useBackend, defaultBackend: f.default_backend, tcpRequest }, (name) => backends.get(name)?.stick)) {
      this.diag.warn(this.at([...base, 'inspect_delay']), 'inspect_delay has no effect: nothing in this frontend reads the ClientHello (req_ssl_sni, req_ssl_hello_type in a tcp frontend)');
    }

    if (f.max_body_size !== undefined && mode !== 'http') this.diag.error(this.at([...base, 'max_body_size']), 'max_body_size needs mode http');
    const httpRules = [
      ...this.rules.httpRules(f.http_request, 'request', mode, named, [...base, 'http_request'], own.ruleLines),
      ...this.rules.httpRules(f.http_response, 'response', mode, named, [...base, 'http_response'], own.ruleLines),
      ...this.rules.httpRules(f.http_after_response, 'after-response', mode, named, [...base, 'http_after_response'], own.ruleLines),
    ];

    const binds = f.binds.map((b, i) => buildBind(b, mode, [...base, 'binds', i], this.tls, this.at, this.diag));
    // Headers the user's http_response rules name win over the preset's.
    const ruleHeaders = new Set([...httpRules, ...[...backends.values()].flatMap((b) => b.httpRules)].flatMap((r) => (r.when === 'response' && 'name' in r.act ? [r.act.name.toLowerCase()] : [])));
    const preset = securityHeaders(f.security_headers, ruleHeaders, hsts(f.hsts, binds, mode, this.at([...base, 'hsts']), this.diag), mode, this.at([...base, 'security_headers']), this.diag);
    return {
      name: f.name,
      mode,
      binds,
      defaultBackend: f.default_backend,
      useBackend,
      hostBackends,
      httpRules,
      ...([...backends.values()].some((b) => b.httpRules.some((r) => r.act.action === 'track-sc')) ? { backendsTrack: true } : {}),
      captureSlots: httpRules.filter((r) => r.act.action === 'capture').length,
      timeouts: this.timeouts('frontend', f.name, mode, f.timeouts, [...base, 'timeouts'], f.binds.length > 0),
      maxconn: f.maxconn ?? this.cfg.defaults?.maxconn ?? 0,
      inspectDelay,
      forwardFor,
      forwardedProto: f.forwarded_proto ?? mode === 'http',
      forwardedHost: f.forwarded_host ?? mode === 'http',
      log,
      errorFiles: this.errorPages.proxyPages(this.defaultErrorPages(), { base, files: f.errorfiles, replies: f.http_error, lines: own.errorLines }),
      maxHeaderBytes: this.maxHeaderBytes,
      options: [...this.defaultOptions.texts, ...own.texts],
      httpsRedirect: httpsRedirect(f.https_redirect, binds, mode, this.at([...base, 'https_redirect']), this.diag),
      hsts: preset.hsts,
      securityHeaders: preset.headers,
      monitor: monitor(f, own.monitorLines, mode, base, (r, segs) => this.rules.condition(r, 'request', named, segs)?.condition, this.at, this.diag),
      compression: this.compression(f.compression, own, mode, base),
      stickTable,
      tcpRequest: tcpRequest.length ? tcpRequest : undefined,
      rateLimitSessions: protection.rateLimitSessions || undefined,
      maxBodySize: mode === 'http' ? this.size(f.max_body_size, [...base, 'max_body_size']) || undefined : undefined,
      ...this.bufferRequest(f.buffer_request ?? bufferRequest, mode, [...base, f.buffer_request !== undefined ? 'buffer_request' : 'options']),
      ...this.sourceFromHeader(f, mode, base),
      source: this.diag.sourceRef(this.at(base)),
    };
  }

  private forwardFor(v: boolean | ForwardForInput): ForwardFor | undefined {
    if (v === false) return undefined;
    const o = v === true ? {} : v;
    return { header: o.header ?? 'X-Forwarded-For', ifNone: o.if_none ?? false, except: o.except ?? [] };
  }

  private checkForwardForExcept(ff: ForwardFor, segs: Seg[]): void {
    for (const net of ff.except) {
      const [addr, bits] = net.split('/');
      const family = isIP(addr);
      const max = family === 4 ? 32 : 128;
      if (!family || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
        this.diag.error(this.at(segs), `forwardfor except: "${net}" is not an address or CIDR`);
      }
    }
  }

  private backendRef(name: string, mode: Mode, backends: Map<string, Backend>, segs: Seg[]): void {
    const b = backends.get(name);
    if (!b) this.diag.error(this.at(segs), `unknown backend "${name}"${didYouMean(name, backends.keys())}`);
    else if (b.mode !== mode) this.diag.error(this.at(segs), `backend "${name}" is mode ${b.mode}, this frontend is mode ${mode}`);
  }

  /** The defaults' error pages, which every proxy's start from. */
  private defaultErrorPages(): ProxyErrorInput {
    const d = this.cfg.defaults;
    return { base: ['defaults'], files: d?.errorfiles, replies: d?.http_error, lines: this.defaultOptions.errorLines };
  }

  // ---------------------------------------------------------------- backends

  private backend(b: BackendInput, index: number, id: number): Backend {
    const base: Seg[] = ['backends', index];
    const mode = b.mode ?? this.defaultMode;
    const own = optionLines(b.options, [...base, 'options'], this.at, this.diag);
    let healthCheck: HealthCheck = { kind: 'tcp', text: '' };
    let checkWhere = this.at([...base, 'options']);
    let ownCheck = false;
    let redispatch = false;
    let allBackups = false;
    let bufferRequest = false;
    let forwardFor: ForwardFor | undefined;
    for (const { result, where } of [...this.defaultOptions.parsed, ...own.parsed]) {
      const isOwn = own.parsed.some((p) => p.where === where);
      if (result.kind === 'check') {
        healthCheck = result.check;
        checkWhere = where;
        ownCheck = isOwn;
      } else if (result.kind === 'forwardfor') forwardFor = result.forwardFor;
      else if (result.kind === 'flag') {
        if (result.name === 'redispatch') redispatch = true;
        else if (result.name === 'allbackups') allBackups = true;
        else if (result.name === 'http-buffer-request') bufferRequest = true;
        else if (isOwn && (result.name === 'httplog' || result.name === 'tcplog' || result.name === 'dontlognull')) {
          this.diag.error(where, `option ${result.name} applies to frontends, not backends`);
        }
      }
    }
    let structuredLines: OptionSet['checkLines'] = [];
    if (b.health_check !== undefined) {
      const hc = nativeHealthCheck(b.health_check, [...base, 'health_check'], this.at, this.diag);
      if (hc) {
        healthCheck = hc.check;
        structuredLines = hc.lines;
        checkWhere = this.at([...base, 'health_check']);
        ownCheck = true;
      }
    }
    // The defaults' check lines go with the defaults' check; a backend's own check starts afresh.
    const checkLines = [...(ownCheck ? [] : this.defaultOptions.checkLines), ...own.checkLines, ...structuredLines];
    healthCheck = applyCheckLines(healthCheck, checkLines, checkWhere, this.diag);
    if (b.redispatch !== undefined) redispatch = b.redispatch;
    if (b.all_backups !== undefined) allBackups = b.all_backups;
    if (b.forwardfor !== undefined) forwardFor = this.forwardFor(b.forwardfor);
    if (forwardFor && mode === 'tcp') {
      this.diag.error(this.at([...base, b.forwardfor !== undefined ? 'forwardfor' : 'options']), 'forwardfor needs mode http');
      forwardFor = undefined;
    }
    if (forwardFor) this.checkForwardForExcept(forwardFor, [...base, b.forwardfor !== undefined ? 'forwardfor' : 'options']);
    if (healthCheck.kind === 'http' && mode === 'tcp') {
      // HAProxy allows httpchk on tcp backends: the check speaks HTTP to the server, traffic stays tcp.
    }
    const servers = backendServers(b, own.templates, base, mode, {
      at: this.at,
      diag: this.diag,
      time: (v, segs) => this.time(v, segs),
      readRelative: (file, segs) => this.readRelative(file, segs),
      checkDefaults: this.checkDefaults,
      resolverNames: this.resolverNames,
      tls: this.tls,
      checkKind: healthCheck.kind,
      httpConnect: healthCheck.http?.connect,
    });
    const timeouts = this.timeouts('backend', b.name, mode, b.timeouts, [...base, 'timeouts'], servers.length > 0);
    const stickTable = stickTableOf(b.name, b.stick_table, this.at([...base, 'stick_table']), own.protectionLines, this.diag);
    this.rules.tableScope = { tables: this.tables, own: undefined, checkDefault: false };
    this.rules.backendTable = stickTable?.name;
    const lines = backendLines(b, mode, own, base, stickTable, this.at, this.diag);
    const cookie = lines.cookie && mode === 'tcp' ? undefined : lines.cookie;
    if (lines.cookie && mode === 'tcp') this.diag.error(this.at([...base, b.cookie !== undefined ? 'cookie' : 'options']), 'cookie persistence needs mode http');
    if (servers.length === 0) this.diag.warn(this.at([...base, 'servers']), `backend "${b.name}" has no server: every request to it gets 503`);
    const named = new Map<string, Condition>();
    return {
      name: b.name,
      id,
      mode,
      balance: balance(b.balance ?? this.cfg.defaults?.balance, b.balance !== undefined ? [...base, 'balance'] : ['defaults', 'balance'], this.at, this.diag, lines.hashType),
      servers,
      healthCheck,
      timeouts,
      retries: b.retries ?? this.cfg.defaults?.retries ?? 3,
      redispatch,
      allBackups,
      forwardFor,
      httpRules: [
        ...this.rules.httpRules(b.http_request, 'request', mode, named, [...base, 'http_request'], own.ruleLines, { backend: b.name }),
        ...this.rules.httpRules(b.http_response, 'response', mode, named, [...base, 'http_response'], own.ruleLines, { backend: b.name }),
        ...this.rules.httpRules(b.http_after_response, 'after-response', mode, named, [...base, 'http_after_response'], own.ruleLines, { backend: b.name }),
      ],
      hostNames: (b.host_names ?? []).map((h) => h.toLowerCase()),
      errorFiles: this.errorPages.proxyPages(this.defaultErrorPages(), { base, files: b.errorfiles, replies: b.http_error, lines: own.errorLines }),
      options: [...this.defaultOptions.texts, ...own.texts],
      cookie,
      stick: lines.stick,
      stickTable,
      compression: this.compression(b.compression, own, mode, base),
      ...this.bufferRequest(b.buffer_request ?? bufferRequest, mode, [...base, b.buffer_request !== undefined ? 'buffer_request' : 'options']),
      source: this.diag.sourceRef(this.at(base)),
    };
  }

  /** `{ bufferRequest: true }` for a proxy with option http-buffer-request (`buffer_request`), an http one. */
  private bufferRequest(on: boolean, mode: Mode, segs: Seg[]): { bufferRequest?: true } {
    if (!on) return {};
    if (mode === 'http') return { bufferRequest: true };
    this.diag.error(this.at(segs), 'http-buffer-request needs mode http');
    return {};
  }

  /** A proxy's compression: the defaults' lines (http proxies), its own lines, its `compression` object. */
  private compression(native: BackendInput['compression'], own: OptionSet, mode: Mode, base: Seg[]): Compression | undefined {
    const lines = [...(mode === 'http' ? this.defaultOptions.compressionLines : []), ...own.compressionLines];
    return compression(native, lines, mode, this.at([...base, 'compression']), this.diag);
  }

  /** `{ sourceFromHeader }` when the frontend has one. */
  private sourceFromHeader(f: FrontendInput, mode: Mode, base: Seg[]): Pick<Frontend, 'sourceFromHeader'> {
    const s = f.source_from_header;
    if (!s) return {};
    const segs = [...base, 'source_from_header'];
    if (mode !== 'http') {
      this.diag.error(this.at(segs), 'source_from_header needs mode http (tcp frontends take the client address from the PROXY protocol: accept_proxy)');
      return {};
    }
    s.trusted.forEach((t, i) => {
      const err = patternError('ip', t);
      if (err) this.diag.error(this.at([...segs, 'trusted', i]), err);
    });
    return { sourceFromHeader: { header: (s.header ?? 'x-forwarded-for').toLowerCase(), trusted: s.trusted } };
  }

}
