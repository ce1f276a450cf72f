/**
 * DNS in the config (HAProxy configuration.txt 5.3): `resolvers` sections (YAML keys
 * or the section's HAProxy lines), the servers' `resolvers` / `init-addr` /
 * `resolve-prefer` / `resolve-opts`, and `server-template` expanded into its servers.
 * The primary resolves (src/primary/init-addr.ts at start, src/primary/resolvers.ts after).
 */
import { isIP } from 'node:net';
import { parseInitAddr, type ServerOptionValues } from './server-syntax';
import { parseTime, splitWords, type Parsed } from './haproxy-syntax';
import { MAX_RETRIES } from './limits';
import type { Resolvers, ServerDns } from './model';
import type { NameserverInput, ResolversInput } from './schema-sections';
import type { ServerInput, ServerTemplateInput } from './schema-backend';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';

type Locate = (segs: Seg[]) => Where;

/** HAProxy's defaults (resolvers.c). */
const DEFAULTS = { resolveRetries: 3, timeout: 1000, hold: { valid: 10_000, nx: 30_000, timeout: 30_000, refused: 30_000, other: 30_000, obsolete: 0 }, payload: 512 };
const HOLDS = ['valid', 'nx', 'timeout', 'refused', 'other', 'obsolete'] as const;
const LINE_KEYWORDS = ['nameserver', 'resolve_retries', 'timeout', 'hold', 'accepted_payload_size'];
/** Servers one template may make. */
export const MAX_TEMPLATE_SLOTS = 1024;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/** An SRV label (`_http._tcp.svc.example`): HAProxy takes a name starting with `_` as one. */
export function isSrvLabel(name: string): boolean {
  return name.startsWith('_') && /^(_[A-Za-z0-9-]+\.)+[A-Za-z0-9.-]+$/.test(name);
}

export function isHostName(name: string): boolean {
  return HOST_NAME.test(name) && name.length <= 253;
}

/** `resolvers` sections: HAProxy lines in `options` first, the YAML keys over them. */
export function buildResolvers(list: ResolversInput[], at: Locate, diag: Diagnostics): Resolvers[] {
  return list.map((r, i) => {
    const base: Seg[] = ['resolvers', i];
    const section: Resolvers = {
      name: r.name,
      nameservers: [],
      resolveRetries: DEFAULTS.resolveRetries,
      timeoutResolve: DEFAULTS.timeout,
      timeoutRetry: DEFAULTS.timeout,
      hold: { ...DEFAULTS.hold },
      acceptedPayloadSize: DEFAULTS.payload,
      source: diag.sourceRef(at(base)),
    };
    const nameservers: { ns: NameserverInput | string; where: Where }[] = [];
    (r.options ?? []).forEach((line, j) => {
      const where = at([...base, 'options', j]);
      const err = applyLine(section, line, (ns) => nameservers.push({ ns, where }));
      if (err) diag.error(where, err);
    });
    (r.nameservers ?? []).forEach((ns, j) => nameservers.push({ ns, where: at([...base, 'nameservers', j]) }));
    const time = (v: string | number | undefined, segs: Seg[], positive: boolean): number | undefined => {
      if (v === undefined) return undefined;
      const t = parseTime(v);
      if (t.error !== undefined) diag.error(at(segs), t.error);
      else if (positive && t.value === 0) diag.error(at(segs), 'must be above 0');
      return t.value;
    };
    if (r.resolve_retries !== undefined) section.resolveRetries = r.resolve_retries;
    section.timeoutResolve = time(r.timeouts?.resolve, [...base, 'timeouts', 'resolve'], true) ?? section.timeoutResolve;
    section.timeoutRetry = time(r.timeouts?.retry, [...base, 'timeouts', 'retry'], true) ?? section.timeoutRetry;
    for (const h of HOLDS) section.hold[h] = time(r.hold?.[h], [...base, 'hold', h], false) ?? section.hold[h];
    if (r.accepted_payload_size !== undefined) section.acceptedPayloadSize = r.accepted_payload_size;

    const names = new Map<string, Where>();
    for (const { ns, where } of nameservers) {
      const parsed = parseNameserver(ns);
      if (parsed.error !== undefined) {
        diag.error(where, parsed.error);
        continue;
      }
      const first = names.get(parsed.value.name);
      if (first) {
        const pos = first.src.position(first.segs);
        diag.error(where, `nameserver '${parsed.value.name}' has same name as another nameserver (declared at ${first.src.file}:${pos.line})`);
        continue;
      }
      names.set(parsed.value.name, where);
      section.nameservers.push(parsed.value);
    }
    if (section.nameservers.length === 0) diag.warn(at(base), `resolvers "${r.name}" has no nameserver: its servers keep the address they start with`);
    return section;
  });
}

/** One line of a resolvers section; nameservers go to `nameserver` (parsed with the YAML ones). */
function applyLine(section: Resolvers, line: string, nameserver: (ns: string) => void): string | undefined {
  const [kw, ...args] = splitWords(line);
  switch (kw) {
    case 'nameserver':
      nameserver(args.join(' '));
      return undefined;
    case 'resolve_retries': {
      const n = Number(args[0]);
      if (args.length !== 1 || !Number.isInteger(n) || n < 1 || n > MAX_RETRIES) return `'resolve_retries' expects <nb> (1..${MAX_RETRIES}) as argument`;
      section.resolveRetries = n;
      return undefined;
    }
    case 'timeout': {
      const t = args.length === 2 ? parseTime(args[1]) : undefined;
      if ((args[0] !== 'resolve' && args[0] !== 'retry') || !t) return `'timeout' expects 'retry' or 'resolve' and <time> as arguments`;
      if (t.error !== undefined) return `timeout ${args[0]}: ${t.error}`;
      if (t.value === 0) return `timeout ${args[0]}: must be above 0`;
      if (args[0] === 'resolve') section.timeoutResolve = t.value;
      else section.timeoutRetry = t.value;
      return undefined;
    }
    case 'hold': {
      const event = args[0] as (typeof HOLDS)[number];
      if (!HOLDS.includes(event) || args.length !== 2) return `'hold' expects an <event> (${HOLDS.join(', ')}) and a <time> as arguments`;
      const t = parseTime(args[1]);
      if (t.error !== undefined) return `hold ${event}: ${t.error}`;
      section.hold[event] = t.value;
      return undefined;
    }
    case 'accepted_payload_size': {
      const n = Number(args[0]);
      if (args.length !== 1 || !Number.isInteger(n) || n < 12 || n > 65535) return `'accepted_payload_size' must be between 12 and 65535 inclusive (was ${args[0] ?? ''})`;
      section.acceptedPayloadSize = n;
      return undefined;
    }
    case 'parse-resolv-conf':
      return 'parse-resolv-conf is not supported: list the nameservers (tslb never reads /etc/resolv.conf for resolvers)';
    default:
      return `unknown keyword '${kw ?? ''}' in 'resolvers' section${didYouMean(kw ?? '', LINE_KEYWORDS)}`;
  }
}

/** `dns1 10.0.0.1:53` (HAProxy's words, `udp@` allowed) or {name, address, port}. */
function parseNameserver(ns: NameserverInput | string): Parsed<Resolvers['nameservers'][number]> {
  let name: string;
  let address: string;
  let port: number | undefined;
  if (typeof ns === 'string') {
    const words = splitWords(ns);
    if (words.length !== 2) return { error: `'nameserver' expects <name> and <addr>[:<port>] as arguments, not "${ns}"` };
    name = words[0];
    const addr = words[1].replace(/^udp[46]?@/, '');
    if (/^tcp[46]?@/.test(addr)) return { error: `nameserver ${name}: only UDP nameservers are supported, not "${addr}"` };
    const m = isIP(addr) ? undefined : /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
    address = m ? (m[1] ?? m[2]) : addr;
    if (m) port = Number(m[3]);
  } else {
    ({ name, address, port } = ns);
  }
  if (!/^[A-Za-z0-9_.:-]+$/.test(name)) return { error: `nameserver name "${name}" may only hold letters, digits, '.', '_', '-' and ':'` };
  if (!isIP(address)) return { error: `nameserver ${name}: "${address}" is not an IP address` };
  port ??= 53;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `nameserver ${name}: port must be 1..65535` };
  return { value: { name, address, port } };
}

/** The YAML keys a server and a template share with the `resolvers`, `init-addr`, `resolve-prefer` words. */
export type ServerDnsInput = Pick<ServerInput, 'resolvers' | 'init_addr' | 'resolve_prefer'>;

/**
 * A server's resolution, or undefined when it has none: an IP address, or a host name
 * without `resolvers` and `init-addr` (then resolved by the system on each connection).
 * `init-addr` defaults to HAProxy's `last,libc`, plus `none` with resolvers.
 */
export function serverDns(
  address: string,
  s: ServerDnsInput,
  o: ServerOptionValues,
  template: string | undefined,
  sections: Set<string>,
  where: Where,
  diag: Diagnostics,
): ServerDns | undefined {
  const resolvers = s.resolvers ?? o.resolvers;
  let initAddr = o.initAddr;
  if (s.init_addr !== undefined) {
    const r = parseInitAddr(s.init_addr);
    if (r.error !== undefined) diag.error(where, `init-addr: ${r.error}`);
    else initAddr = r.value;
  }
  const prefer = s.resolve_prefer ?? o.resolvePrefer;
  if (isIP(address)) {
    if (resolvers !== undefined || initAddr !== undefined) diag.warn(where, `"${address}" is an IP address: resolvers and init-addr have nothing to resolve`);
    return undefined;
  }
  if (resolvers === undefined) {
    if (isSrvLabel(address)) diag.error(where, `"${address}" is an SRV label: it needs resolvers <section>`);
    if (prefer !== undefined || o.allowDupIp !== undefined || o.ignoreWeight !== undefined) diag.warn(where, 'resolve-prefer and resolve-opts need resolvers <section>: they apply to run-time resolution');
    if (initAddr === undefined && template === undefined) return undefined;
  } else if (!sections.has(resolvers)) {
    diag.error(where, `unable to find required resolvers '${resolvers}'${didYouMean(resolvers, sections)}`);
  }
  return {
    fqdn: address.replace(/\.$/, '').toLowerCase(),
    ...(resolvers !== undefined ? { resolvers } : {}),
    initAddr: initAddr ?? (resolvers !== undefined ? ['last', 'libc', 'none'] : ['last', 'libc']),
    prefer: prefer ?? 'ipv6',
    allowDupIp: o.allowDupIp ?? false,
    ignoreWeight: o.ignoreWeight ?? false,
    ...(template !== undefined ? { template } : {}),
  };
}

// ---------------------------------------------------------------- server-template

/** `server-template <prefix> <num | range> <fqdn>[:<port>] [params*]` (the words after `server-template`). */
export function parseServerTemplateLine(text: string): Parsed<ServerTemplateInput> {
  const words = splitWords(text);
  if (words.length < 3) return { error: "'server-template' expects <prefix> <nb | range> <fqdn>[:<port>] [params*]" };
  const [prefix, count, target] = words;
  const m = /^(.*?)(?::(\d+))?$/.exec(target)!;
  const value: ServerTemplateInput = { prefix, count, fqdn: m[1], options: words.slice(3).join(' ') };
  if (m[2] !== undefined) value.port = Number(m[2]);
  return { value };
}

/** The servers a template makes: `<prefix><n>` for each number of its range, all on its fqdn. */
export function templateServers(t: ServerTemplateInput, where: Where, diag: Diagnostics): ServerInput[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(String(t.count));
  const first = m ? (m[2] === undefined ? 1 : Number(m[1])) : 0;
  const last = m ? Number(m[2] ?? m[1]) : 0;
  if (!m || first < 1 || last < first) {
    diag.error(where, `server-template ${t.prefix}: "${t.count}" is not a number of servers or a range of their numbers (3, 1-3)`);
    return [];
  }
  if (last - first + 1 > MAX_TEMPLATE_SLOTS) {
    diag.error(where, `server-template ${t.prefix}: at most ${MAX_TEMPLATE_SLOTS} servers per template`);
    return [];
  }
  if (!isSrvLabel(t.fqdn) && !isIP(t.fqdn) && !isHostName(t.fqdn)) {
    diag.error(where, `server-template ${t.prefix}: "${t.fqdn}" is not a host name, SRV label or IP address`);
    return [];
  }
  if (t.port === undefined && !isSrvLabel(t.fqdn)) {
    diag.error(where, `server-template ${t.prefix}: ${t.fqdn} needs a port (<fqdn>:<port>); only SRV records carry one`);
    return [];
  }
  if (t.port !== undefined && (t.port < 1 || t.port > 65535)) {
    diag.error(where, `server-template ${t.prefix}: port must be 1..65535`);
    return [];
  }
  const servers: ServerInput[] = [];
  for (let n = first; n <= last; n++) {
    // SRV records give each slot its port: 0 until then.
    const s: ServerInput = { name: `${t.prefix}${n}`, address: t.fqdn, port: t.port ?? 0, options: t.options ?? '' };
    if (t.resolvers !== undefined) s.resolvers = t.resolvers;
    if (t.init_addr !== undefined) s.init_addr = t.init_addr;
    if (t.resolve_prefer !== undefined) s.resolve_prefer = t.resolve_prefer;
    servers.push(s);
  }
  return servers;
}
