/**
 * The keywords of a HAProxy `server` line (`check fall 3 rise 2 weight 100 backup`, the
 * seed's `server_ops`, a server's `options`): one table of keyword → argument count and
 * setter, and the parser that walks it. Apart because the table is long and grows
 * with every server feature; src/config/servers.ts builds servers from its values.
 */
import { isIP } from 'node:net';
import type { TlsVersion } from './model';
import { MAX_CONN, MAX_INT, MAX_RISE_FALL, MAX_WEIGHT } from './limits';
import { didYouMean } from './suggest';
import { parseTime, splitWords, unescape, type Parsed } from './haproxy-syntax';

/** What a `server` line's keywords set. Absent = not given. */
export interface ServerOptionValues {
  check?: boolean;
  fall?: number;
  rise?: number;
  inter?: number;
  fastinter?: number;
  downinter?: number;
  weight?: number;
  backup?: boolean;
  maxconn?: number;
  maxqueue?: number;
  disabled?: boolean;
  slowstart?: number;
  cookie?: string;
  id?: number;
  checkPort?: number;
  checkAddr?: string;
  ssl?: boolean;
  verify?: 'none' | 'required';
  sni?: string;
  caFile?: string;
  crt?: string;
  sslMinVer?: TlsVersion;
  sslMaxVer?: TlsVersion;
  alpn?: string[];
  /** `proto h2`: HTTP/2 to the server (h2c prior knowledge when plain). */
  proto?: 'h2';
  checkSsl?: boolean;
  checkSni?: string;
  /** `check-proto h1|h2`: the protocol HTTP checks speak (default: the server's `proto`). */
  checkProto?: 'h1' | 'h2';
  /** `check-alpn <list>`: what a TLS HTTP check offers by ALPN (it speaks the server's pick). */
  checkAlpn?: string[];
  sendProxy?: 0 | 1 | 2;
  nonStick?: boolean;
  agentCheck?: boolean;
  agentPort?: number;
  agentInter?: number;
  agentAddr?: string;
  agentSend?: string;
  observe?: 'none' | 'layer4' | 'layer7';
  errorLimit?: number;
  onError?: 'fastinter' | 'fail-check' | 'sudden-death' | 'mark-down';
  onMarkedDown?: 'shutdown-sessions';
  onMarkedUp?: 'shutdown-backup-sessions';
  resolvers?: string;
  initAddr?: string[];
  resolvePrefer?: 'ipv4' | 'ipv6';
  allowDupIp?: boolean;
  ignoreWeight?: boolean;
}

/** A keyword accepted and carried, but implemented by a later issue. */
export interface PendingKeyword {
  keyword: string;
  area: string;
}

export interface ServerOptionsResult {
  values: ServerOptionValues;
  pending: PendingKeyword[];
  errors: string[];
}

type Apply = (v: ServerOptionValues, arg: string) => string | undefined;

function intArg(key: keyof ServerOptionValues, min: number, max: number): Apply {
  return (v, arg) => {
    if (!/^\d+$/.test(arg) || Number(arg) < min || Number(arg) > max) return `must be ${min}..${max}, not "${arg}"`;
    (v as Record<string, unknown>)[key] = Number(arg);
    return undefined;
  };
}

function timeArg(key: keyof ServerOptionValues): Apply {
  return (v, arg) => {
    const t = parseTime(arg);
    if (t.error !== undefined) return t.error;
    (v as Record<string, unknown>)[key] = t.value;
    return undefined;
  };
}

function flag(set: (v: ServerOptionValues) => void): Apply {
  return (v) => {
    set(v);
    return undefined;
  };
}

/** A keyword whose argument is one of `allowed`. */
function oneOf(key: 'observe' | 'onError' | 'onMarkedDown' | 'onMarkedUp' | 'checkProto', allowed: readonly string[]): Apply {
  return (v, arg) => {
    if (!allowed.includes(arg)) return `must be ${allowed.join(', ')}, not "${arg}"`;
    (v as Record<string, unknown>)[key] = arg;
    return undefined;
  };
}

/** A comma-separated ALPN protocol list (`alpn`, `check-alpn`, `http-check connect alpn`). */
export function parseAlpnList(a: string): Parsed<string[]> {
  const protocols = a.split(',');
  if (protocols.some((p) => p === '' || p.length > 255)) return { error: `expects a comma-separated list of protocol names, not "${a}"` };
  return { value: protocols };
}

function alpnArg(key: 'alpn' | 'checkAlpn'): Apply {
  return (v, a) => {
    const protocols = parseAlpnList(a);
    if (protocols.error !== undefined) return protocols.error;
    v[key] = protocols.value;
    return undefined;
  };
}

/** HAProxy's TLS version names (`TLSv1.0`…`TLSv1.3`) as Node's; SSLv3 is gone from Node's OpenSSL. */
const TLS_VERSIONS: Record<string, TlsVersion> = { 'TLSv1.0': 'TLSv1', TLSv1: 'TLSv1', 'TLSv1.1': 'TLSv1.1', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };

function tlsVersionArg(key: 'sslMinVer' | 'sslMaxVer'): Apply {
  return (v, arg) => {
    const version = TLS_VERSIONS[arg];
    if (!version) return `must be TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3, not "${arg}"`;
    v[key] = version;
    return undefined;
  };
}

/** HAProxy's `init-addr`: comma-separated `last`, `libc`, `none` or an IP, each once. */
export function parseInitAddr(text: string): Parsed<string[]> {
  const methods: string[] = [];
  for (const m of text.split(',')) {
    if (m !== 'last' && m !== 'libc' && m !== 'none' && !isIP(m)) {
      return { error: `unknown init-addr method '${m}', supported methods are 'libc', 'last', 'none' or an IP address` };
    }
    if (methods.includes(m) || (isIP(m) && methods.some((x) => isIP(x)))) return { error: `too many init-addr methods when trying to add '${m}'` };
    methods.push(m);
  }
  return { value: methods };
}

/** `resolve-opts allow-dup-ip,ignore-weight,prevent-dup-ip` (the last of allow/prevent wins). */
const resolveOpts: Apply = (v, arg) => {
  for (const o of arg.split(',')) {
    if (o === 'allow-dup-ip' || o === 'prevent-dup-ip') v.allowDupIp = o === 'allow-dup-ip';
    else if (o === 'ignore-weight') v.ignoreWeight = true;
    else return `unknown option '${o}', supported options are 'allow-dup-ip', 'ignore-weight' and 'prevent-dup-ip'`;
  }
  return undefined;
};

/** `sni str(host)` or a plain host name; other sample expressions need the rules issue. */
function sniArg(key: 'sni' | 'checkSni'): Apply {
  return (v, arg) => {
    const m = /^str\((.*)\)$/.exec(arg);
    if (m) v[key] = m[1];
    else if (/^[A-Za-z0-9.-]+$/.test(arg)) v[key] = arg;
    else return `only a host name or str(<host>) is supported, not "${arg}"`;
    return undefined;
  };
}

interface KeywordDef {
  /** Number of arguments the keyword takes. */
  args: number;
  apply?: Apply;
  /** Set for keywords a later issue implements: accepted and reported. */
  area?: string;
}

const SERVER_KEYWORDS: Record<string, KeywordDef> = {
  check: { args: 0, apply: flag((v) => (v.check = true)) },
  'no-check': { args: 0, apply: flag((v) => (v.check = false)) },
  fall: { args: 1, apply: intArg('fall', 1, MAX_RISE_FALL) },
  rise: { args: 1, apply: intArg('rise', 1, MAX_RISE_FALL) },
  inter: { args: 1, apply: timeArg('inter') },
  fastinter: { args: 1, apply: timeArg('fastinter') },
  downinter: { args: 1, apply: timeArg('downinter') },
  weight: { args: 1, apply: intArg('weight', 0, MAX_WEIGHT) },
  backup: { args: 0, apply: flag((v) => (v.backup = true)) },
  'no-backup': { args: 0, apply: flag((v) => (v.backup = false)) },
  maxconn: { args: 1, apply: intArg('maxconn', 0, MAX_CONN) },
  maxqueue: { args: 1, apply: intArg('maxqueue', 0, MAX_CONN) },
  disabled: { args: 0, apply: flag((v) => (v.disabled = true)) },
  enabled: { args: 0, apply: flag((v) => (v.disabled = false)) },
  id: { args: 1, apply: intArg('id', 1, MAX_INT) },
  port: { args: 1, apply: intArg('checkPort', 1, 65535) },
  addr: { args: 1, apply: (v, a) => void (v.checkAddr = a) },
  ssl: { args: 0, apply: flag((v) => (v.ssl = true)) },
  'no-ssl': { args: 0, apply: flag((v) => (v.ssl = false)) },
  verify: {
    args: 1,
    apply: (v, a) => {
      if (a !== 'none' && a !== 'required') return `must be none or required, not "${a}"`;
      v.verify = a;
      return undefined;
    },
  },
  sni: { args: 1, apply: sniArg('sni') },
  'ca-file': { args: 1, apply: (v, a) => void (v.caFile = a) },
  'check-ssl': { args: 0, apply: flag((v) => (v.checkSsl = true)) },
  'check-sni': { args: 1, apply: sniArg('checkSni') },
  'check-proto': { args: 1, apply: oneOf('checkProto', ['h1', 'h2']) },
  'send-proxy': { args: 0, apply: flag((v) => (v.sendProxy = 1)) },
  'send-proxy-v2': { args: 0, apply: flag((v) => (v.sendProxy = 2)) },
  'no-send-proxy': { args: 0, apply: flag((v) => (v.sendProxy = 0)) },
  slowstart: { args: 1, apply: timeArg('slowstart') },
  cookie: { args: 1, apply: (v, a) => void (v.cookie = a) },
  'agent-check': { args: 0, apply: flag((v) => (v.agentCheck = true)) },
  'no-agent-check': { args: 0, apply: flag((v) => (v.agentCheck = false)) },
  'agent-port': { args: 1, apply: intArg('agentPort', 1, 65535) },
  'agent-inter': { args: 1, apply: timeArg('agentInter') },
  'agent-addr': { args: 1, apply: (v, a) => void (v.agentAddr = a) },
  'agent-send': { args: 1, apply: (v, a) => void (v.agentSend = unescape(a)) },
  observe: { args: 1, apply: oneOf('observe', ['none', 'layer4', 'layer7']) },
  'error-limit': { args: 1, apply: intArg('errorLimit', 1, MAX_INT) },
  'on-error': { args: 1, apply: oneOf('onError', ['fastinter', 'fail-check', 'sudden-death', 'mark-down']) },
  'on-marked-down': { args: 1, apply: oneOf('onMarkedDown', ['shutdown-sessions']) },
  'on-marked-up': { args: 1, apply: oneOf('onMarkedUp', ['shutdown-backup-sessions']) },
  // Carried for later issues.
  track: { args: 1, area: 'health checks (track)' },
  'check-send-proxy': { args: 0, area: 'health checks (check-send-proxy)' },
  redir: { args: 1, area: 'http rules (redir)' },
  'non-stick': { args: 0, apply: flag((v) => (v.nonStick = true)) },
  alpn: { args: 1, apply: alpnArg('alpn') },
  'check-alpn': { args: 1, apply: alpnArg('checkAlpn') },
  proto: {
    args: 1,
    apply: (v, a) => {
      if (a !== 'h2') return `tslb speaks h2 or HTTP/1.1 to servers: proto h2 is the only value (not "${a}")`;
      v.proto = a;
      return undefined;
    },
  },
  crt: { args: 1, apply: (v, a) => void (v.crt = a) },
  'ssl-min-ver': { args: 1, apply: tlsVersionArg('sslMinVer') },
  'ssl-max-ver': { args: 1, apply: tlsVersionArg('sslMaxVer') },
  'pool-max-conn': { args: 1, area: 'connection pooling (pool-max-conn)' },
  'pool-purge-delay': { args: 1, area: 'connection pooling (pool-purge-delay)' },
  resolvers: { args: 1, apply: (v, a) => void (v.resolvers = a) },
  'init-addr': {
    args: 1,
    apply: (v, a) => {
      const r = parseInitAddr(a);
      if (r.error !== undefined) return r.error;
      v.initAddr = r.value;
      return undefined;
    },
  },
  'resolve-prefer': {
    args: 1,
    apply: (v, a) => {
      if (a !== 'ipv4' && a !== 'ipv6') return `expects 'ipv4' or 'ipv6', not "${a}"`;
      v.resolvePrefer = a;
      return undefined;
    },
  },
  'resolve-opts': { args: 1, apply: resolveOpts },
};

/** Parses `server` keywords such as `check fall 3 rise 2 weight 100 backup`. */
export function parseServerOptions(text: string): ServerOptionsResult {
  const values: ServerOptionValues = {};
  const pending: PendingKeyword[] = [];
  const errors: string[] = [];
  const words = splitWords(text);
  for (let i = 0; i < words.length; i++) {
    const kw = words[i];
    const def = SERVER_KEYWORDS[kw];
    if (!def) {
      errors.push(`unknown server keyword "${kw}"${didYouMean(kw, Object.keys(SERVER_KEYWORDS))}`);
      continue;
    }
    const args = words.slice(i + 1, i + 1 + def.args);
    if (args.length < def.args) {
      errors.push(`server keyword "${kw}" needs ${def.args} argument${def.args > 1 ? 's' : ''}`);
      break;
    }
    i += def.args;
    const err = def.apply?.(values, args[0]);
    if (err) errors.push(`${kw}: ${err}`);
    if (def.area) pending.push({ keyword: [kw, ...args].join(' '), area: def.area });
  }
  return { values, pending, errors };
}
