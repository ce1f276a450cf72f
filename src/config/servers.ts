/**
 * A backend's servers: its `servers`, its templates' (YAML `server_templates`, `server-template`
 * lines), each with its options string read, its checks (active, agent, passive), TLS, h2 and DNS.
 */
import { isIP } from 'node:net';
import type { Locate } from './build';
import { parseServerOptions, type ServerOptionValues } from './server-syntax';
import type { AgentCheck, HealthCheck, HttpCheckConnect, PassiveCheck, Server, ServerCheck, ServerTlsOptions } from './model';
import type { OptionSet } from './option-lines';
import { isHostName, isSrvLabel, parseServerTemplateLine, serverDns, templateServers } from './resolvers';
import type { BackendInput, ServerInput } from './schema-backend';
import { formatPath, type Diagnostics, type Seg, type Where } from './source';
import type { TlsConfig } from './tls';

/** HAProxy's check `inter` default (ms), also the `agent-inter` default. */
export const DEFAULT_INTER = 2000;
/** HAProxy's `error-limit` default. */
const DEFAULT_ERROR_LIMIT = 10;

/** The `defaults` check timing, for servers that do not set their own. */
export interface CheckDefaults {
  inter: number;
  fastinter?: number;
  downinter?: number;
  rise: number;
  fall: number;
}

/** What building a server reads from the rest of the config. */
export interface ServerContext {
  at: Locate;
  diag: Diagnostics;
  /** A duration field parsed, a bad one reported. */
  time: (v: string | number | undefined, segs: Seg[]) => number | undefined;
  /** A file named in the config, relative to the config file naming it. */
  readRelative: (file: string, segs: Seg[]) => string | undefined;
  checkDefaults: CheckDefaults;
  /** Names of the `resolvers` sections. */
  resolverNames: Set<string>;
  tls: TlsConfig;
  /** The backend's check kind: `check-proto` is for HTTP checks. */
  checkKind: HealthCheck['kind'];
  /** The backend's `http-check connect`: its proto / alpn choose the check's protocol over the server's. */
  httpConnect: HttpCheckConnect | undefined;
}

/** The backend's servers, then those of its templates (YAML `server_templates`, then `server-template` lines). */
export function backendServers(b: BackendInput, templateLines: OptionSet['templates'], base: Seg[], mode: 'http' | 'tcp', ctx: ServerContext): Server[] {
  const { at, diag } = ctx;
  const inputs = (b.servers ?? []).map((s, i) => ({ s, segs: [...base, 'servers', i], template: undefined as string | undefined }));
  const templates = (b.server_templates ?? []).map((t, i) => ({ t, segs: [...base, 'server_templates', i] }));
  for (const l of templateLines) {
    const t = parseServerTemplateLine(l.text);
    if (t.error !== undefined) diag.error(l.where, t.error);
    else templates.push({ t: t.value, segs: l.where.segs });
  }
  for (const { t, segs } of templates) for (const s of templateServers(t, at(segs), diag)) inputs.push({ s, segs, template: t.prefix });
  const servers: Server[] = [];
  const names = new Map<string, Seg[]>();
  const usedIds = new Set<number>();
  inputs.forEach(({ s, segs, template }) => {
    const prev = names.get(s.name);
    if (prev !== undefined) diag.error(at(template ? segs : [...segs, 'name']), `duplicate server "${s.name}" in backend "${b.name}" (also ${formatPath(prev.slice(2))})`);
    names.set(s.name, segs);
    const server = buildServer(s, segs, mode, ctx, template);
    if (server.id !== 0) {
      if (usedIds.has(server.id)) diag.error(at([...segs, 'options']), `server id ${server.id} is used twice in backend "${b.name}"`);
      usedIds.add(server.id);
    }
    servers.push(server);
  });
  // Servers without an explicit id get the lowest free ones, in order.
  let next = 1;
  for (const s of servers) {
    if (s.id !== 0) continue;
    while (usedIds.has(next)) next++;
    s.id = next;
    usedIds.add(next);
  }
  return servers;
}

function buildServer(s: ServerInput, segs: Seg[], mode: 'http' | 'tcp', ctx: ServerContext, template?: string): Server {
  const { at, diag } = ctx;
  const parsed = parseServerOptions(s.options ?? '');
  const optWhere = at([...segs, 'options']);
  for (const e of parsed.errors) diag.error(optWhere, e);
  for (const p of parsed.pending) diag.pendingFeature(optWhere, p.area, `server keyword "${p.keyword}"`, p.keyword);
  const o = parsed.values;
  // Structured fields win over the options string.
  const inter = ctx.time(s.inter, [...segs, 'inter']) ?? o.inter ?? ctx.checkDefaults.inter;
  if (inter === 0) diag.error(at([...segs, s.inter !== undefined ? 'inter' : 'options']), 'check inter must be above 0');
  const ssl = s.ssl ?? o.ssl ?? false;
  const sni = s.sni ?? o.sni;
  if (!isIP(s.address) && !isHostName(s.address) && !isSrvLabel(s.address)) {
    diag.error(at([...segs, 'address']), `"${s.address}" is not an IP address, host name or SRV label`);
  }
  const dns = serverDns(s.address, s, o, template, ctx.resolverNames, template ? at(segs) : optWhere, diag);
  let ca: string | undefined;
  if (o.caFile) ca = ctx.readRelative(o.caFile, [...segs, 'options']);
  const verify = o.verify ?? (o.caFile ? 'required' : 'none');
  if (verify === 'required' && !o.caFile && ssl) diag.error(optWhere, 'verify required needs ca-file <PEM bundle>');
  const enabled = s.check ?? o.check ?? false;
  const sendProxy = s.send_proxy === undefined ? (o.sendProxy ?? 0) : s.send_proxy === true ? 1 : s.send_proxy === false ? 0 : (s.send_proxy as 1 | 2);
  const tls = { enabled: ssl, sni, verify, ca, ...ctx.tls.server(o, ssl, mode, segs) };
  const h2 = serverH2(s.proto ?? o.proto, tls, sendProxy, mode, at([...segs, s.proto !== undefined ? 'proto' : 'options']), diag);
  return {
    name: s.name,
    id: o.id ?? 0,
    address: s.address,
    port: s.port,
    weight: s.weight ?? o.weight ?? 1,
    backup: s.backup ?? o.backup ?? false,
    maxconn: s.maxconn ?? o.maxconn ?? 0,
    maxqueue: s.maxqueue ?? o.maxqueue ?? 0,
    disabled: s.disabled ?? o.disabled ?? false,
    slowstart: ctx.time(s.slowstart, [...segs, 'slowstart']) ?? o.slowstart ?? 0,
    cookie: s.cookie ?? o.cookie,
    check: {
      enabled,
      inter,
      fastinter: o.fastinter ?? ctx.checkDefaults.fastinter ?? inter,
      downinter: o.downinter ?? ctx.checkDefaults.downinter ?? inter,
      rise: s.rise ?? o.rise ?? ctx.checkDefaults.rise,
      fall: s.fall ?? o.fall ?? ctx.checkDefaults.fall,
      port: o.checkPort,
      addr: o.checkAddr,
      ssl: o.checkSsl ?? (ssl && o.checkPort === undefined),
      sni: o.checkSni ?? sni,
      ...checkProto(s.check_proto ?? o.checkProto, o.checkAlpn, h2, ctx, at([...segs, s.check_proto !== undefined ? 'check_proto' : 'options']), diag),
      agent: agentCheck(o, optWhere, diag),
      observe: passiveCheck(o, enabled, mode, optWhere, diag),
      onMarkedDown: o.onMarkedDown,
      onMarkedUp: o.onMarkedUp,
    },
    tls,
    sendProxy,
    ...(h2 ? { h2 } : {}),
    nonStick: o.nonStick,
    options: s.options ?? '',
    ...(dns ? { dns } : {}),
    source: diag.sourceRef(at(segs)),
  };
}

/**
 * `proto h2` (h2c prior knowledge, or h2 over TLS offered by ALPN alone unless `alpn`
 * says otherwise), or a TLS `alpn` list offering h2 (the server's pick is spoken).
 */
function serverH2(proto: 'h2' | undefined, tls: ServerTlsOptions, sendProxy: number, mode: 'http' | 'tcp', where: Where, diag: Diagnostics): Server['h2'] {
  if (proto === 'h2') {
    if (mode === 'tcp') {
      diag.error(where, 'proto h2 needs mode http: a tcp backend forwards bytes as they are');
      return undefined;
    }
    if (tls.enabled && tls.alpn && !tls.alpn.includes('h2')) diag.error(where, `proto h2 with alpn ${tls.alpn.join(',')}: the server is not offered h2`);
    if (tls.enabled && !tls.alpn) tls.alpn = ['h2'];
    if (sendProxy) diag.error(where, 'proto h2 with send-proxy: one h2 connection carries many clients\' requests, a PROXY header names one');
    return 'always';
  }
  if (mode === 'http' && tls.enabled && tls.alpn?.includes('h2')) {
    if (sendProxy) diag.error(where, 'alpn h2 with send-proxy: one h2 connection carries many clients\' requests, a PROXY header names one');
    return 'alpn';
  }
  return undefined;
}

/**
 * HAProxy's check mux (src/check.c init_srv_check, src/tcpcheck.c tcpcheck_eval_connect):
 * `check-proto` when given, else what `check-alpn` negotiates, else the server's own
 * protocol. An `http-check connect` line's `proto` / `alpn` win; without `default` the
 * server's check-proto, check-alpn and proto do not apply (HTTP/1.x, or what the
 * server's TLS ALPN picks, unless the line says).
 */
function checkProto(
  forced: 'h1' | 'h2' | undefined,
  alpn: string[] | undefined,
  h2: Server['h2'],
  { checkKind: kind, httpConnect: connect }: ServerContext,
  where: Where,
  diag: Diagnostics,
): Pick<ServerCheck, 'proto' | 'alpn'> {
  if (connect) {
    const server = connect.useDefault;
    forced = connect.proto ?? (server ? forced : undefined);
    alpn = connect.alpn ?? (server ? alpn : undefined);
    // Without `default` the server's `proto h2` is not the check's mux either; over TLS its ALPN still negotiates.
    if (!server && h2 === 'always') h2 = 'alpn';
  }
  // tslb's checks of other kinds speak their own protocol, over TLS without ALPN.
  if (kind !== 'http') {
    if (forced) diag.error(where, `check-proto ${forced} is for HTTP checks (option httpchk), not ${kind} checks`);
    if (alpn) diag.error(where, `check-alpn is for HTTP checks (option httpchk), not ${kind} checks`);
  }
  if (forced === 'h1') return {};
  if (forced === 'h2') return { proto: 'h2' };
  if (alpn) return { proto: 'alpn', alpn };
  if (h2 === 'always') return { proto: 'h2' };
  return h2 === 'alpn' ? { proto: 'alpn' } : {};
}

/** `observe` with `error-limit` (default 10) and `on-error` (default fail-check), as HAProxy. */
function passiveCheck(o: ServerOptionValues, checked: boolean, mode: 'http' | 'tcp', where: Where, diag: Diagnostics): PassiveCheck | undefined {
  if (o.observe === undefined || o.observe === 'none') {
    if (o.errorLimit !== undefined || o.onError !== undefined) diag.warn(where, 'error-limit/on-error without observe layer4|layer7: live traffic is not observed');
    return undefined;
  }
  // HAProxy ignores observe on a server without checks: only checks could bring it back.
  if (!checked) {
    diag.warn(where, `observe ${o.observe} needs check on the server: live traffic is not observed`);
    return undefined;
  }
  let layer = o.observe;
  if (layer === 'layer7' && mode === 'tcp') {
    diag.warn(where, 'observe layer7 in a tcp backend: observing layer4 (tcp traffic has no HTTP responses)');
    layer = 'layer4';
  }
  return { layer, errorLimit: o.errorLimit ?? DEFAULT_ERROR_LIMIT, onError: o.onError ?? 'fail-check' };
}

/** `agent-check` with `agent-port` (required), `agent-inter` (default 2s, as HAProxy), `agent-addr`, `agent-send`. */
function agentCheck(o: ServerOptionValues, where: Where, diag: Diagnostics): AgentCheck | undefined {
  if (!o.agentCheck) {
    if (o.agentPort !== undefined || o.agentSend !== undefined || o.agentAddr !== undefined || o.agentInter !== undefined) {
      diag.warn(where, 'agent-port/agent-send/agent-addr/agent-inter without agent-check: no agent check runs');
    }
    return undefined;
  }
  if (o.agentPort === undefined) {
    diag.error(where, 'agent-check needs agent-port <port>');
    return undefined;
  }
  if (o.agentAddr !== undefined && !isIP(o.agentAddr) && !/^[A-Za-z0-9.-]+$/.test(o.agentAddr)) diag.error(where, `agent-addr: "${o.agentAddr}" is not an IP address or host name`);
  if (o.agentInter === 0) diag.error(where, 'agent-inter must be above 0');
  const agent: AgentCheck = { port: o.agentPort, inter: o.agentInter || DEFAULT_INTER };
  if (o.agentAddr !== undefined) agent.addr = o.agentAddr;
  if (o.agentSend !== undefined) agent.send = o.agentSend;
  return agent;
}
