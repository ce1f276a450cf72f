/**
 * The health-check syntaxes of a backend: the check options (`option httpchk …`,
 * `mysql-check`, `smtpchk`…) and the check directives (`http-check connect|send|expect`,
 * `tcp-check <step>`, `external-check command|path`). Apart from the other option
 * lines because checks have their own small languages; src/config/health-checks.ts
 * applies what these return.
 */
import type { HealthCheck, HttpCheckConnect, HttpCheckSpec, TcpCheckStep } from './model';
import { MAX_CHECK_RESPONSE } from './limits';
import { didYouMean } from './suggest';
import { splitWords, unescape, type Parsed } from './haproxy-syntax';
import { parseAlpnList } from './server-syntax';

/** The `option` names that choose a backend's health check. */
export const CHECK_OPTIONS = ['httpchk', 'tcp-check', 'mysql-check', 'pgsql-check', 'redis-check', 'smtpchk', 'ssl-hello-chk', 'ldap-check', 'external-check'];

/** The health check an `option <check> …` line chooses (`text` is the line, kept for show servers). */
export function parseCheckOption(name: string, args: string[], text: string): Parsed<HealthCheck> {
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

/** A backend's check directive: `http-check connect|send|expect`, `tcp-check <step>`, `external-check command|path`. */
export type CheckLine =
  | { kind: 'http-connect'; connect: HttpCheckConnect }
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
    if (sub === 'connect') return parseHttpConnect(args);
    if (sub === 'expect') {
      const e = parseExpect(args, head);
      return e.error !== undefined ? e : { value: { kind: 'http-expect', expect: e.value } };
    }
    return { error: `http-check ${sub ?? ''}: expected connect, send or expect${sub ? didYouMean(sub, ['connect', 'send', 'expect']) : ''}` };
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

/** `http-check connect [default] [proto h1|h2] [alpn <list>]`; the connection's other settings are the server's check ones. */
function parseHttpConnect(args: string[]): Parsed<CheckLine> {
  const connect: HttpCheckConnect = { useDefault: false };
  for (let i = 0; i < args.length; i++) {
    const w = args[i];
    if (w === 'default') connect.useDefault = true;
    else if (w === 'proto') {
      const p = args[++i];
      if (p !== 'h1' && p !== 'h2') return { error: `http-check connect: proto must be h1 or h2, not "${p ?? ''}"` };
      connect.proto = p;
    } else if (w === 'alpn') {
      const list = parseAlpnList(args[++i] ?? '');
      if (list.error !== undefined) return { error: `http-check connect: alpn ${list.error}` };
      connect.alpn = list.value;
    } else {
      return { error: `http-check connect: unsupported keyword "${w}"${didYouMean(w, ['default', 'proto', 'alpn'])} (default, proto, alpn; the address, port, ssl and sni are the server's check ones)` };
    }
  }
  return { value: { kind: 'http-connect', connect } };
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
