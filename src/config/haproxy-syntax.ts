/**
 * Parsers for the HAProxy syntaxes the config accepts inside YAML strings:
 * time values, sizes, `server` keywords (the seed's `server_ops`), `option`
 * lines and `balance` lines. Each returns plain values plus messages; the
 * loader attaches file positions.
 */
import { isIP } from 'node:net';
import { splitHaproxyWords, type SplitOptions } from './words';
import type { CookiePersistence, ForwardFor, HealthCheck, HttpCheckSpec, TcpCheckStep, TlsVersion } from './model';
import { MAX_CHECK_RESPONSE, MAX_CONN, MAX_INT, MAX_RISE_FALL, MAX_SIZE, MAX_TIME_MS, MAX_WEIGHT } from './limits';
import { didYouMean } from './suggest';

export type Parsed<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const TIME_RANGE = `must be 0..${MAX_TIME_MS} ms (~24.8 days)`;

/** HAProxy time: `500ms`, `5s`, `2m`, `1h`, `1d`, `100us`; a bare number is milliseconds. 0 means no timeout. */
export function parseTime(v: string | number): Parsed<number> {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { error: `bad time "${v}": must be an integer (ms)` };
    ms = v;
  } else {
    const m = /^(-?\d+)(us|ms|s|m|h|d)?$/.exec(v.trim());
    if (!m) return { error: `bad time "${v}": expected a number with an optional unit us|ms|s|m|h|d (e.g. 5s, 500ms)` };
    ms = Math.ceil(Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']);
  }
  // Longer delays would make Node's timers fire at once.
  return ms >= 0 && ms <= MAX_TIME_MS ? { value: ms } : { error: `bad time "${v}": ${TIME_RANGE}` };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

/** A byte size: `16384`, `16k`, `1m`, `1g`. */
export function parseSize(v: string | number): Parsed<number> {
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { error: `bad size "${v}": must be an integer` };
    n = v;
  } else {
    const m = /^(-?\d+)([kmg]?)$/i.exec(v.trim());
    if (!m) return { error: `bad size "${v}": expected a number with an optional unit k|m|g` };
    n = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  }
  return n >= 0 && n <= MAX_SIZE ? { value: n } : { error: `bad size "${v}": must be 0..${MAX_SIZE}` };
}

/**
 * Splits a line into words as HAProxy's config parser does: blanks separate
 * words, `\ ` is a literal space, and '…' / "…" quote. Other backslash
 * sequences (`\r\n` in the old httpchk header syntax) are kept as written.
 */
export function splitWords(text: string): string[] {
  return splitHaproxyWords(text, CONFIG_WORDS).words;
}

const CONFIG_WORDS: SplitOptions = { escapes: ' \t"\'', anyEscapeInDoubleQuotes: false, lineBreaksAreBlanks: false };

const ESCAPES: Record<string, string> = { r: '\r', n: '\n', t: '\t', '\\': '\\' };

/**
 * HAProxy's escapes in a word that is sent as data (`tcp-check send`, `agent-send`):
 * `\r`, `\n`, `\t`, `\\` and `\xNN`. (YAML double quotes may already have turned them into the bytes.)
 */
export function unescape(word: string): string {
  return word.replace(/\\(x[0-9A-Fa-f]{2}|[rnt\\])/g, (_, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ESCAPES[e]));
}

// ---------------------------------------------------------------- server keywords

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

/** A comma-separated ALPN protocol list (`alpn`, `check-alpn`). */
function alpnArg(key: 'alpn' | 'checkAlpn'): Apply {
  return (v, a) => {
    const protocols = a.split(',');
    if (protocols.some((p) => p === '' || p.length > 255)) return `expects a comma-separated list of protocol names, not "${a}"`;
    v[key] = protocols;
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

// ---------------------------------------------------------------- option lines

export type OptionResult =
  | { kind: 'check'; check: HealthCheck }
  | { kind: 'forwardfor'; forwardFor: ForwardFor }
  /** An option this issue implements, by name (httplog, redispatch…). */
  | { kind: 'flag'; name: string }
  /** An option a later issue implements. */
  | { kind: 'pending'; name: string; area: string }
  | { kind: 'error'; error: string };

/** Options that only switch something on. */
const FLAG_OPTIONS = new Set([
  'httplog',
  'tcplog',
  'dontlognull',
  'log-health-checks',
  'redispatch',
  'allbackups',
  'http-keep-alive',
]);

const PENDING_OPTIONS: Record<string, string> = {
  httpslog: 'logging (httpslog)',
  'http-server-close': 'http connection modes (http-server-close)',
  httpclose: 'http connection modes (httpclose)',
  'http-pretend-keepalive': 'http connection modes (http-pretend-keepalive)',
  'http-buffer-request': 'http connection modes (http-buffer-request)',
  'http-no-delay': 'http connection modes (http-no-delay)',
  abortonclose: 'http connection modes (abortonclose)',
  'prefer-last-server': 'balancing (prefer-last-server)',
  persist: 'session persistence (persist)',
  originalto: 'http rules (originalto)',
  tcpka: 'tcp keep-alive (tcpka)',
  clitcpka: 'tcp keep-alive (clitcpka)',
  srvtcpka: 'tcp keep-alive (srvtcpka)',
  'splice-auto': 'performance (splice)',
  'splice-request': 'performance (splice)',
  'splice-response': 'performance (splice)',
  contstats: 'statistics (contstats)',
  'log-separate-errors': 'logging (log-separate-errors)',
  logasap: 'logging (logasap)',
  nolinger: 'tcp tuning (nolinger)',
  'independent-streams': 'tcp tuning (independent-streams)',
  'socket-stats': 'statistics (socket-stats)',
};

const CHECK_OPTIONS = ['httpchk', 'tcp-check', 'mysql-check', 'pgsql-check', 'redis-check', 'smtpchk', 'ssl-hello-chk', 'ldap-check', 'external-check'];

const ALL_OPTIONS = [...FLAG_OPTIONS, ...Object.keys(PENDING_OPTIONS), ...CHECK_OPTIONS, 'forwardfor'];

/** Parses one `option` line (without the word `option`), e.g. `httpchk GET /health`. */
export function parseOption(text: string): OptionResult {
  const words = splitWords(text);
  const name = words[0] ?? '';
  const args = words.slice(1);
  if (FLAG_OPTIONS.has(name)) {
    return args.length ? { kind: 'error', error: `option ${name} takes no argument` } : { kind: 'flag', name };
  }
  if (name in PENDING_OPTIONS) return { kind: 'pending', name, area: PENDING_OPTIONS[name] };
  if (name === 'forwardfor') return parseForwardFor(args);
  if (CHECK_OPTIONS.includes(name)) {
    const r = parseCheckOption(name, args, text.trim());
    return r.error !== undefined ? { kind: 'error', error: r.error } : { kind: 'check', check: r.value };
  }
  return { kind: 'error', error: `unknown option "${name}"${didYouMean(name, ALL_OPTIONS)}` };
}

function parseForwardFor(args: string[]): OptionResult {
  const ff: ForwardFor = { header: 'X-Forwarded-For', ifNone: false, except: [] };
  for (let i = 0; i < args.length; i++) {
    const w = args[i];
    if (w === 'if-none') ff.ifNone = true;
    else if ((w === 'except' || w === 'header') && i + 1 < args.length) {
      if (w === 'except') ff.except.push(args[++i]);
      else ff.header = args[++i];
    } else return { kind: 'error', error: `option forwardfor: unexpected "${w}" (expected except <network>, header <name>, if-none)` };
  }
  return { kind: 'forwardfor', forwardFor: ff };
}

function parseCheckOption(name: string, args: string[], text: string): Parsed<HealthCheck> {
  switch (name) {
    case 'httpchk': {
      const http = parseHttpchkArgs(args);
      return http.error !== undefined ? http : { value: { kind: 'http', http: http.value, text } };
    }
    case 'tcp-check':
      return noArgs(name, args, { kind: 'tcp-check', tcpSteps: [], text });
    case 'redis-check':
      return noArgs(name, args, { kind: 'redis', text });
    case 'ssl-hello-chk':
      return noArgs(name, args, { kind: 'ssl-hello', text });
    case 'ldap-check':
      return noArgs(name, args, { kind: 'ldap', text });
    case 'external-check':
      // The command comes from an `external-check command` line.
      return noArgs(name, args, { kind: 'external', text });
    case 'smtpchk':
      if (args.length !== 0 && args.length !== 2) return { error: 'option smtpchk takes no argument or <HELO|EHLO> <domain>' };
      if (args.length === 2 && !/^(HELO|EHLO)$/i.test(args[0])) return { error: `option smtpchk: expected HELO or EHLO, not "${args[0]}"` };
      return { value: args.length ? { kind: 'smtp', smtpHello: `${args[0].toUpperCase()} ${args[1]}`, text } : { kind: 'smtp', text } };
    case 'mysql-check': {
      if (args.length === 0) return { value: { kind: 'mysql', text } };
      if (args[0] !== 'user' || args.length < 2 || args.length > 3 || (args.length === 3 && args[2] !== 'post-41')) {
        return { error: 'option mysql-check takes [user <name> [post-41]]' };
      }
      return { value: { kind: 'mysql', user: args[1], mysqlPost41: args.length === 3, text } };
    }
    case 'pgsql-check':
      if (args.length !== 2 || args[0] !== 'user') return { error: 'option pgsql-check needs user <name>' };
      return { value: { kind: 'pgsql', user: args[1], text } };
  }
  return { error: `unknown check option "${name}"` };
}

function noArgs(name: string, args: string[], check: HealthCheck): Parsed<HealthCheck> {
  return args.length ? { error: `option ${name} takes no argument` } : { value: check };
}

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']);

/**
 * `httpchk [<method>] [<uri>] [<version> [<host>]]`, where the version may carry
 * extra header lines in HAProxy's old escaped form: `HTTP/1.1\r\nHost:\ x`.
 */
export function parseHttpchkArgs(args: string[]): Parsed<HttpCheckSpec> {
  // HAProxy's default check request.
  const spec: HttpCheckSpec = { method: 'OPTIONS', uri: '/', version: 'HTTP/1.0', headers: [] };
  let rest = args;
  if (rest.length === 1) {
    spec.uri = rest[0];
    rest = [];
  } else if (rest.length >= 2) {
    spec.method = rest[0].toUpperCase();
    spec.uri = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length > 2) return { error: `option httpchk: too many arguments ("${rest.slice(2).join(' ')}")` };
  if (!HTTP_METHODS.has(spec.method)) return { error: `option httpchk: unknown method "${spec.method}"` };
  if (!spec.uri.startsWith('/') && spec.uri !== '*') return { error: `option httpchk: URI must start with "/", not "${spec.uri}"` };
  if (rest.length) {
    const lines = rest[0].split(/\\r\\n|\\n/);
    spec.version = lines[0];
    if (!/^HTTP\/1\.[01]$/.test(spec.version)) return { error: `option httpchk: version must be HTTP/1.0 or HTTP/1.1, not "${spec.version}"` };
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) return { error: `option httpchk: bad header line "${line}" (expected Name: value)` };
      spec.headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
    }
    if (rest.length === 2) spec.headers.push({ name: 'Host', value: rest[1] });
  }
  return { value: spec };
}

// ---------------------------------------------------------------- check directives

type HttpExpect = NonNullable<HttpCheckSpec['expect']>;

/** A backend's check directive: `http-check send|expect`, `tcp-check <step>`, `external-check command|path`. */
export type CheckLine =
  | { kind: 'http-send'; method?: string; uri?: string; version?: string; headers: { name: string; value: string }[]; body?: string }
  | { kind: 'http-expect'; expect: HttpExpect }
  | { kind: 'tcp-step'; step: TcpCheckStep }
  | { kind: 'external-command'; command: string }
  | { kind: 'external-path'; path: string };

/** A check directive rather than an option (a lone `tcp-check` is `option tcp-check`). */
export function isCheckLine(text: string): boolean {
  return /^\s*(?:http-check\s|external-check\s|tcp-check\s+\S)/.test(text);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LIST = /^[1-5]\d\d(-[1-5]\d\d)?(,[1-5]\d\d(-[1-5]\d\d)?)*$/;

function regexError(what: string, pattern: string): string | undefined {
  try {
    new RegExp(pattern);
    return undefined;
  } catch (e) {
    return `${what}: bad regular expression "${pattern}": ${(e as Error).message}`;
  }
}

/** Parses one check directive line (with its leading keyword), e.g. `tcp-check expect string +PONG`. */
export function parseCheckLine(text: string): Parsed<CheckLine> {
  const words = splitWords(text);
  const [kw, sub] = words;
  const args = words.slice(2);
  const head = `${kw} ${sub ?? ''}`.trim();
  if (kw === 'http-check') {
    if (sub === 'send') return parseHttpSend(args);
    if (sub === 'expect') {
      const e = parseExpect(args, head);
      return e.error !== undefined ? e : { value: { kind: 'http-expect', expect: e.value } };
    }
    return { error: `http-check ${sub ?? ''}: expected send or expect${sub ? didYouMean(sub, ['send', 'expect']) : ''}` };
  }
  if (kw === 'tcp-check') {
    const step = parseTcpStep(sub ?? '', args);
    return step.error !== undefined ? step : { value: { kind: 'tcp-step', step: step.value } };
  }
  if (kw === 'external-check') {
    if ((sub !== 'command' && sub !== 'path') || args.length !== 1) return { error: 'external-check takes command <path> or path <PATH>' };
    return { value: sub === 'command' ? { kind: 'external-command', command: args[0] } : { kind: 'external-path', path: args[0] } };
  }
  return { error: `"${kw}" is not a check directive (http-check, tcp-check, external-check)` };
}

/** `http-check send [meth M] [uri U] [ver V] [hdr N V]… [body B]`. */
function parseHttpSend(args: string[]): Parsed<CheckLine> {
  const send: Extract<CheckLine, { kind: 'http-send' }> = { kind: 'http-send', headers: [] };
  for (let i = 0; i < args.length; i++) {
    const w = args[i];
    const need = w === 'hdr' ? 2 : 1;
    const vals = args.slice(i + 1, i + 1 + need);
    if (!['meth', 'uri', 'ver', 'hdr', 'body'].includes(w)) {
      return { error: `http-check send: unknown or unsupported keyword "${w}"${didYouMean(w, ['meth', 'uri', 'ver', 'hdr', 'body'])} (meth, uri, ver, hdr, body)` };
    }
    if (vals.length < need) return { error: `http-check send: ${w} needs ${need === 2 ? 'a name and a value' : 'a value'}` };
    i += need;
    if (vals.some((v) => v.includes('%['))) return { error: `http-check send ${w}: log-format expressions are not supported, only literal text` };
    if (w === 'meth') {
      if (!TOKEN.test(vals[0])) return { error: `http-check send: bad method "${vals[0]}"` };
      send.method = vals[0].toUpperCase();
    } else if (w === 'uri') {
      if (!vals[0].startsWith('/') && vals[0] !== '*') return { error: `http-check send: uri must start with "/", not "${vals[0]}"` };
      send.uri = vals[0];
    } else if (w === 'ver') {
      if (!/^HTTP\/1\.[01]$/.test(vals[0])) return { error: `http-check send: ver must be HTTP/1.0 or HTTP/1.1, not "${vals[0]}"` };
      send.version = vals[0];
    } else if (w === 'hdr') {
      if (!TOKEN.test(vals[0])) return { error: `http-check send: "${vals[0]}" is not a header name` };
      send.headers.push({ name: vals[0], value: vals[1] });
    } else send.body = unescape(vals[0]);
  }
  return { value: send };
}

/** `http-check expect [!] status|rstatus|string|rstring <v>` or `… hdr name N [value [-m M] V]`. */
function parseExpect(args: string[], head: string): Parsed<HttpExpect> {
  let rest = args;
  let negate = false;
  if (rest[0] === '!') (negate = true), (rest = rest.slice(1));
  else if (rest[0]?.startsWith('!')) (negate = true), (rest = [rest[0].slice(1), ...rest.slice(1)]);
  const [kind, ...more] = rest;
  const kinds = ['status', 'rstatus', 'string', 'rstring', 'hdr'];
  if (!kinds.includes(kind ?? '')) return { error: `${head}: expected [!] status|rstatus|string|rstring|hdr, not "${kind ?? ''}"${kind ? didYouMean(kind, kinds) : ''}` };
  if (kind === 'hdr') return parseExpectHdr(more, negate, head);
  if (more.length !== 1) return { error: `${head} ${kind}: needs exactly one pattern (quote it if it has spaces)${more.length > 1 ? `, got "${more.join(' ')}"` : ''}` };
  const value = more[0];
  if (kind === 'status' && !STATUS_LIST.test(value)) return { error: `${head} status: "${value}" is not a status, range or list (200, 200-399, 200,301-302)` };
  const bad = kind === 'rstatus' || kind === 'rstring' ? regexError(`${head} ${kind}`, value) : undefined;
  if (bad) return { error: bad };
  return { value: { kind: kind as HttpExpect['kind'], negate, value } };
}

const HDR_METHODS = ['str', 'beg', 'end', 'sub', 'reg'] as const;

function parseExpectHdr(args: string[], negate: boolean, head: string): Parsed<HttpExpect> {
  const usage = `${head} hdr: expected name <header> [value [-m str|beg|end|sub|reg] <pattern>]`;
  if (args[0] !== 'name' || args.length < 2) return { error: usage };
  let i = 1;
  if (args[i] === '-m') {
    if (args[i + 1] !== 'str') return { error: `${head} hdr: only -m str is supported for the header name` };
    i += 2;
  }
  const header = args[i++];
  if (!header || !TOKEN.test(header)) return { error: `${head} hdr: "${header ?? ''}" is not a header name` };
  const expect: HttpExpect = { kind: 'hdr', negate, value: '', header };
  if (i === args.length) return { value: expect };
  if (args[i++] !== 'value') return { error: usage };
  let method: string | undefined;
  if (args[i] === '-m') (method = args[i + 1]), (i += 2);
  const pattern = args[i++];
  if (pattern === undefined) return { error: usage };
  if (method === undefined && args[i] === '-m') (method = args[i + 1]), (i += 2);
  if (i !== args.length) return { error: `${head} hdr: unexpected "${args.slice(i).join(' ')}"` };
  if (method !== undefined && !(HDR_METHODS as readonly string[]).includes(method)) return { error: `${head} hdr: -m must be one of ${HDR_METHODS.join(', ')}, not "${method}"` };
  expect.value = pattern;
  expect.headerMatch = (method ?? 'str') as HttpExpect['headerMatch'];
  if (method === 'reg') {
    const bad = regexError(`${head} hdr value`, pattern);
    if (bad) return { error: bad };
  }
  return { value: expect };
}

/** `tcp-check connect [port N] [ssl]`, `send <data>`, `send-binary <hex>`, `expect [min-recv N] [!] string|rstring|binary <v>`. */
function parseTcpStep(sub: string, args: string[]): Parsed<TcpCheckStep> {
  switch (sub) {
    case 'connect': {
      const step: Extract<TcpCheckStep, { step: 'connect' }> = { step: 'connect' };
      for (let i = 0; i < args.length; i++) {
        if (args[i] === 'ssl') step.ssl = true;
        else if (args[i] === 'port') {
          const port = args[++i];
          if (!/^\d+$/.test(port ?? '') || Number(port) < 1 || Number(port) > 65535) return { error: `tcp-check connect: port must be 1..65535, not "${port ?? ''}"` };
          step.port = Number(port);
        } else return { error: `tcp-check connect: unsupported keyword "${args[i]}" (port <n>, ssl)` };
      }
      return { value: step };
    }
    case 'send':
      if (args.length !== 1) return { error: 'tcp-check send: needs one string (quote it if it has spaces)' };
      return { value: { step: 'send', data: unescape(args[0]) } };
    case 'send-binary':
      if (args.length !== 1 || !/^([0-9A-Fa-f]{2})+$/.test(args[0])) return { error: `tcp-check send-binary: needs one even-length hex string, not "${args.join(' ')}"` };
      return { value: { step: 'send-binary', hex: args[0].toLowerCase() } };
    case 'expect': {
      let minRecv: number | undefined;
      const rest: string[] = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i] !== 'min-recv') {
          rest.push(args[i]);
          continue;
        }
        const n = args[++i];
        if (!/^\d+$/.test(n ?? '') || Number(n) > MAX_CHECK_RESPONSE) {
          return { error: `tcp-check expect: min-recv needs a byte count 0..${MAX_CHECK_RESPONSE} (what a check reads at most), not "${n ?? ''}"` };
        }
        minRecv = Number(n);
      }
      let negate = false;
      if (rest[0] === '!') (negate = true), rest.shift();
      else if (rest[0]?.startsWith('!')) (negate = true), (rest[0] = rest[0].slice(1));
      const [kind, value, ...extra] = rest;
      if (kind !== 'string' && kind !== 'rstring' && kind !== 'binary') {
        return { error: `tcp-check expect: expected [!] string|rstring|binary <pattern>, not "${kind ?? ''}"${kind ? didYouMean(kind, ['string', 'rstring', 'binary']) : ''}` };
      }
      if (value === undefined || extra.length) return { error: `tcp-check expect ${kind}: needs exactly one pattern (quote it if it has spaces)` };
      if (kind === 'binary' && !/^([0-9A-Fa-f]{2})+$/.test(value)) return { error: `tcp-check expect binary: "${value}" is not an even-length hex string` };
      const bad = kind === 'rstring' ? regexError('tcp-check expect rstring', value) : undefined;
      if (bad) return { error: bad };
      const step: TcpCheckStep = { step: 'expect', kind, negate, value: kind === 'binary' ? value.toLowerCase() : kind === 'string' ? unescape(value) : value };
      if (minRecv !== undefined) step.minRecv = minRecv;
      return { value: step };
    }
  }
  return { error: `tcp-check ${sub}: expected connect, send, send-binary or expect${didYouMean(sub, ['connect', 'send', 'send-binary', 'expect'])}` };
}

// ---------------------------------------------------------------- balance

/**
 * `balance` as written: `roundrobin`, `uri whole`, `url_param userid`, `hdr(host)`.
 * HAProxy's `hdr(<name>)` and `rdp-cookie(<name>)` carry their argument in parentheses.
 */
export function parseBalanceLine(text: string): { algorithm: string; args: string[] } {
  const words = splitWords(text);
  const first = words[0] ?? '';
  const m = /^([a-z_-]+)\((.*)\)$/.exec(first);
  if (m) return { algorithm: m[1], args: [m[2], ...words.slice(1)] };
  return { algorithm: first, args: words.slice(1) };
}

// ---------------------------------------------------------------- persistence

/**
 * `cookie <name> insert|rewrite|prefix [indirect] [nocache] [httponly] [secure]
 * [domain <d>] [maxidle <t>] [maxlife <t>]` (the words after `cookie`).
 */
export function parseCookieLine(text: string): Parsed<CookiePersistence> {
  const words = splitWords(text);
  const name = words[0];
  if (!name || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return { error: `cookie: "${name ?? ''}" is not a cookie name` };
  const c: CookiePersistence = { name, mode: 'insert', indirect: false, nocache: false, httpOnly: false, secure: false, maxIdle: 0, maxLife: 0 };
  let mode: CookiePersistence['mode'] | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    switch (w) {
      case 'insert':
      case 'rewrite':
      case 'prefix':
        if (mode && mode !== w) return { error: `cookie: ${mode} and ${w} exclude each other` };
        mode = w;
        break;
      case 'indirect':
        c.indirect = true;
        break;
      case 'nocache':
        c.nocache = true;
        break;
      case 'httponly':
        c.httpOnly = true;
        break;
      case 'secure':
        c.secure = true;
        break;
      case 'domain':
      case 'maxidle':
      case 'maxlife': {
        const arg = words[++i];
        if (arg === undefined) return { error: `cookie: ${w} needs an argument` };
        if (w === 'domain') c.domain = arg;
        else {
          const t = parseTime(arg);
          if (t.error !== undefined) return { error: `cookie ${w}: ${t.error}` };
          if (w === 'maxidle') c.maxIdle = t.value;
          else c.maxLife = t.value;
        }
        break;
      }
      default:
        return { error: `cookie: unknown or unsupported keyword "${w}"${didYouMean(w, ['insert', 'rewrite', 'prefix', 'indirect', 'nocache', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife'])}` };
    }
  }
  if (!mode) return { error: 'cookie: needs one of insert, rewrite or prefix' };
  c.mode = mode;
  if ((c.maxIdle || c.maxLife) && mode !== 'insert') return { error: 'cookie: maxidle/maxlife only apply to insert mode' };
  return { value: c };
}

/** `stick on <fetch>` pattern (the words after `stick on`): a fetch with optional `(args)`. */
export function parseStickOn(text: string): Parsed<{ fetch: string; args: string[] }> {
  const words = splitWords(text);
  if (words.length !== 1) return { error: `stick on: expected one sample fetch such as src or hdr(x-user), not "${text.trim()}" (table/if are not supported)` };
  const m = /^([a-z0-9_.]+)(?:\((.*)\))?$/.exec(words[0]);
  if (!m) return { error: `stick on: bad sample fetch "${words[0]}"` };
  return { value: { fetch: m[1], args: m[2] ? m[2].split(',').map((a) => a.trim()) : [] } };
}
