/**
 * Access-log records and HAProxy `log-format` rendering.
 *
 * A template is compiled once per frontend into a list of nodes; rendering walks
 * the nodes and concatenates strings, nothing else. Separators follow HAProxy's
 * log-format engine: a run of spaces is one separator, written only when the
 * previous output was not already a separator, so a variable that renders nothing
 * (`%hr` without captures) takes no room (`0/0 "GET / HTTP/1.1"`). Request and
 * response data (request line, URI parts, captures, fetched samples) are written
 * `#XX`-encoded as HAProxy does (src/log/encode.ts); JSON lines carry them as JSON strings.
 */
import { hostname } from 'node:os';
import fastJson from 'fast-json-stringify';
import { parseSampleExpr, sampleText } from '../rules/sample-expr';
import type { SampleContext, Stage } from '../rules/context';
import { encodeLogText, ESCAPED_SAMPLE_MAP, HEADER_MAP, URL_MAP } from './encode';

/** One logged transaction (an HTTP request, or a TCP connection). Timers are ms, −1 when not reached. */
export interface AccessLogEntry {
  /** Client address and port (%ci %cp; after the PROXY protocol). */
  clientIp: string;
  clientPort: number;
  /** Local address and port the client connected to (%fi %fp). */
  frontendIp: string;
  frontendPort: number;
  /** Accept date, epoch ms (%t %T %Tl %Ts %ms): the connection's accept, or for later keep-alive requests the end of the previous one, as HAProxy. */
  acceptDate: number;
  /** Date of the request's first byte, epoch ms (%tr %trg %trl); the accept date when no byte came. */
  requestDate: number;
  /** Frontend name (%f); %ft adds `~` when TLS was terminated (`ssl`). */
  frontend: string;
  ssl: boolean;
  /** Backend name (%b); the frontend's name when no backend was chosen, as HAProxy. */
  backend: string;
  /** Server name (%s), `<NOSRV>` when none was assigned; its address and port (%si %sp, empty/0 when none). */
  server: string;
  serverIp: string;
  serverPort: number;
  /** Handshake (%Th), idle before the request (%Ti), request head (%TR). */
  th: number;
  ti: number;
  tR: number;
  /** Queue (%Tw), server connect (%Tc), server response head (%Tr). */
  tw: number;
  tc: number;
  tr: number;
  /** Active time from the first request byte to the end (%Ta), total since accept (%Tt). */
  ta: number;
  tt: number;
  /** HTTP status sent to the client (%ST), −1 when none. */
  status: number;
  /** Bytes read from the client (%U), bytes sent to the client (%B). */
  bytesRead: number;
  bytesSent: number;
  /**
   * Termination state, 2 chars (%ts; %tsc appends the cookie chars `--`). First: `C` client
   * abort, `S` server abort/refused, `P` proxy (deny, invalid request), `R` resource, `I`
   * internal, `c` client timeout, `s` server timeout, `L` handled locally (redirect), `-`
   * normal. Second: the stage — `R` request, `Q` queue, `C` connect, `H` response headers,
   * `D` data, `L` last, `T` tarpit, `-` normal.
   */
  termination: string;
  /** Connections at log time in this worker: process (%ac), frontend (%fc), backend (%bc), server (%sc). */
  actconn: number;
  feconn: number;
  beconn: number;
  srvconn: number;
  /** Connection retries (%rc); printed with a `+` prefix when the session was redispatched. */
  retries: number;
  redispatched: boolean;
  /** Requests ahead in the server queue and the backend queue when this one was queued (%sq %bq). */
  srvQueue: number;
  backendQueue: number;
  /** The request: false for `<BADREQ>` (no complete head) and for TCP. */
  hasRequest: boolean;
  /** Method (%HM), target as received (%HU), path without query (%HP, absolute form kept), origin path (%HPO), query with `?` (%HQ), `HTTP/1.x` (%HV). */
  method: string;
  uri: string;
  path: string;
  pathOnly: string;
  query: string;
  version: string;
  /** Captured request and response header values (%hr %hs, rendered `{a|b}`); empty without captures. */
  requestHeaders: readonly string[];
  responseHeaders: readonly string[];
  /** The transaction's sample context, for `%[fetch]`; undefined when none. */
  sample: SampleContext | undefined;
  /** Logged at error level (`option log-separate-errors`). */
  error: boolean;
}

export function emptyEntry(): AccessLogEntry {
  return {
    clientIp: '',
    clientPort: 0,
    frontendIp: '',
    frontendPort: 0,
    acceptDate: 0,
    requestDate: 0,
    frontend: '',
    ssl: false,
    backend: '',
    server: NOSRV,
    serverIp: '',
    serverPort: 0,
    th: 0,
    ti: 0,
    tR: -1,
    tw: -1,
    tc: -1,
    tr: -1,
    ta: 0,
    tt: 0,
    status: -1,
    bytesRead: 0,
    bytesSent: 0,
    termination: '--',
    actconn: 0,
    feconn: 0,
    beconn: 0,
    srvconn: 0,
    retries: 0,
    redispatched: false,
    srvQueue: 0,
    backendQueue: 0,
    hasRequest: false,
    method: '',
    uri: '',
    path: '',
    pathOnly: '',
    query: '',
    version: '',
    requestHeaders: NONE,
    responseHeaders: NONE,
    sample: undefined,
    error: false,
  };
}

export const NOSRV = '<NOSRV>';
const NONE: readonly string[] = [];

/** HAProxy's `option httplog` and `option tcplog` layouts. */
export const HTTPLOG_FORMAT =
  '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r';
export const TCPLOG_FORMAT = '%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq';

const HOSTNAME = hostname();
const PID = String(process.pid);

// ---------------------------------------------------------------- dates
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}
function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : String(n);
}

/** `26/Nov/2026:00:52:48`, cached per second (local and GMT). */
class SecondCache {
  private sec = -1;
  private text = '';
  constructor(private readonly utc: boolean) {}
  format(ms: number): string {
    const sec = Math.floor(ms / 1000);
    if (sec !== this.sec) {
      const d = new Date(sec * 1000);
      this.sec = sec;
      this.text = this.utc
        ? `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
        : `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    }
    return this.text;
  }
}
const localSeconds = new SecondCache(false);
const gmtSeconds = new SecondCache(true);

/** `+0100`: the local offset at that date. */
function tzOffset(ms: number): string {
  const off = -new Date(ms).getTimezoneOffset();
  const a = Math.abs(off);
  return (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + pad2(a % 60);
}

/** HAProxy's %t: local time with milliseconds, `26/Nov/2026:00:52:48.379`. */
export function formatLogDate(ms: number): string {
  return localSeconds.format(ms) + '.' + pad3(ms % 1000);
}

// ---------------------------------------------------------------- variables
type Getter = (e: AccessLogEntry) => string;

function timer(v: number): string {
  return String(v);
}

function requestLine(e: AccessLogEntry): string {
  return e.hasRequest ? `${e.method} ${e.uri} ${e.version}` : '<BADREQ>';
}

/** `{a|b}` (%hr %hs) or `a b` (%hrl %hsl), each value encoded. */
function captures(list: readonly string[], open: string, sep: string, close: string): string {
  if (list.length === 0) return '';
  let out = open + encodeLogText(list[0], HEADER_MAP);
  for (let i = 1; i < list.length; i++) out += sep + encodeLogText(list[i], HEADER_MAP);
  return out + close;
}

/** A part of the request line, encoded; `-` without a request. */
function httpField(e: AccessLogEntry, v: string): string {
  return e.hasRequest ? encodeLogText(v, URL_MAP) : '-';
}

const VARIABLES: Record<string, Getter> = {
  ci: (e) => e.clientIp,
  cp: (e) => String(e.clientPort),
  fi: (e) => e.frontendIp,
  fp: (e) => String(e.frontendPort),
  t: (e) => formatLogDate(e.acceptDate),
  T: (e) => gmtSeconds.format(e.acceptDate) + ' +0000',
  Tl: (e) => localSeconds.format(e.acceptDate) + ' ' + tzOffset(e.acceptDate),
  Ts: (e) => String(Math.floor(e.acceptDate / 1000)),
  ms: (e) => pad3(e.acceptDate % 1000),
  tr: (e) => formatLogDate(e.requestDate),
  trg: (e) => gmtSeconds.format(e.requestDate) + ' +0000',
  trl: (e) => localSeconds.format(e.requestDate) + ' ' + tzOffset(e.requestDate),
  f: (e) => e.frontend,
  ft: (e) => (e.ssl ? e.frontend + '~' : e.frontend),
  b: (e) => e.backend,
  s: (e) => e.server,
  si: (e) => e.serverIp || '-',
  sp: (e) => (e.serverIp ? String(e.serverPort) : '-'),
  Th: (e) => timer(e.th),
  Ti: (e) => timer(e.ti),
  TR: (e) => timer(e.tR),
  Tq: (e) => timer(e.tR < 0 ? -1 : e.th + e.ti + e.tR),
  Tw: (e) => timer(e.tw),
  Tc: (e) => timer(e.tc),
  Tr: (e) => timer(e.tr),
  Ta: (e) => timer(e.ta),
  Tt: (e) => timer(e.tt),
  Td: (e) => timer(e.tr < 0 ? -1 : e.tt - (e.th + e.ti + e.tR + e.tw + e.tc + e.tr)),
  ST: (e) => String(e.status),
  B: (e) => String(e.bytesSent),
  U: (e) => String(e.bytesRead),
  // Captured request/response cookies: no `capture cookie` exists in the model, so `-` as HAProxy without one.
  CC: () => '-',
  CS: () => '-',
  ts: (e) => e.termination,
  tsc: (e) => e.termination + '--',
  ac: (e) => String(e.actconn),
  fc: (e) => String(e.feconn),
  bc: (e) => String(e.beconn),
  sc: (e) => String(e.srvconn),
  rc: (e) => (e.redispatched ? '+' : '') + e.retries,
  sq: (e) => String(e.srvQueue),
  bq: (e) => String(e.backendQueue),
  hr: (e) => captures(e.requestHeaders, '{', '|', '}'),
  hs: (e) => captures(e.responseHeaders, '{', '|', '}'),
  hrl: (e) => captures(e.requestHeaders, '', ' ', ''),
  hsl: (e) => captures(e.responseHeaders, '', ' ', ''),
  r: (e) => encodeLogText(requestLine(e), URL_MAP),
  HM: (e) => httpField(e, e.method),
  HU: (e) => httpField(e, e.uri),
  HP: (e) => httpField(e, e.path),
  HPO: (e) => httpField(e, e.pathOnly),
  HQ: (e) => (e.hasRequest ? encodeLogText(e.query, URL_MAP) : ''),
  HV: (e) => httpField(e, e.version),
  ID: () => '-',
  pid: () => PID,
  H: () => HOSTNAME,
};

/** Variables that render nothing when empty (HAProxy skips them and their separator). */
const MAY_BE_EMPTY = new Set(['hr', 'hs', 'hrl', 'hsl', 'HQ']);

// ---------------------------------------------------------------- compiler
const N_TEXT = 0;
const N_SEP = 1;
const N_VAR = 2;

interface LogNode {
  kind: number;
  text: string;
  get: Getter | undefined;
  quote: boolean;
  escape: boolean;
  /** Renders nothing at times: then it must not count as output. */
  mayBeEmpty: boolean;
}

export interface CompiledLogFormat {
  render: (e: AccessLogEntry) => string;
  /** Unknown variables and malformed expressions, for the config check. */
  errors: string[];
}

/**
 * `%[src]`, `%[hdr(host),lower]`: a fetch from the fetch table and converters. Its
 * text is encoded with `map`: HAProxy writes samples raw, but a header or an SNI
 * is the client's bytes, so they get the request line's encoding.
 */
function compileFetch(expr: string, errors: string[], map: Uint8Array): Getter | undefined {
  const parsed = parseSampleExpr(expr, errors);
  if (!parsed) return undefined;
  // Logs read the request whatever the stage (HAProxy fetches them in the request direction): a request fetch has its sample after the response too.
  const stages: Stage[] = parsed.stages.includes('request') ? [...parsed.stages, 'response'] : parsed.stages;
  return (e) => {
    const ctx = e.sample;
    if (!ctx || !stages.includes(ctx.stage)) return '-';
    ctx.logging = true;
    try {
      return encodeLogText(sampleText(parsed.evaluate(ctx)), map);
    } finally {
      ctx.logging = false;
    }
  };
}

/** HAProxy's `+E`: backslash before `"`, `\` and `]`. */
function escapeValue(v: string): string {
  return /["\\\]]/.test(v) ? v.replace(/["\\\]]/g, '\\$&') : v;
}

/**
 * Compile a HAProxy log-format string. Unknown variables are reported in `errors`
 * and rendered as written, so a typo shows in the log instead of vanishing.
 */
export function compileLogFormat(template: string): CompiledLogFormat {
  const nodes: LogNode[] = [];
  const errors: string[] = [];
  let text = '';
  const flush = () => {
    if (text) nodes.push({ kind: N_TEXT, text, get: undefined, quote: false, escape: false, mayBeEmpty: false });
    text = '';
  };
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === ' ') {
      flush();
      while (template[i] === ' ') i++;
      nodes.push({ kind: N_SEP, text: ' ', get: undefined, quote: false, escape: false, mayBeEmpty: false });
      continue;
    }
    if (c === '\\' && i + 1 < template.length) {
      text += template[i + 1];
      i += 2;
      continue;
    }
    if (c !== '%') {
      text += c;
      i++;
      continue;
    }
    if (template[i + 1] === '%') {
      text += '%';
      i += 2;
      continue;
    }
    const start = i;
    i++;
    let quote = false;
    let escape = false;
    if (template[i] === '{') {
      const close = template.indexOf('}', i);
      if (close < 0) {
        errors.push(`unterminated '{' at ${start}`);
        text += template.slice(start);
        break;
      }
      for (const opt of template.slice(i + 1, close).split(',')) {
        const on = opt[0] !== '-';
        const name = opt.replace(/^[+-]/, '');
        if (name === 'Q') quote = on;
        else if (name === 'E') escape = on;
        else if (name !== 'X' && name !== '') errors.push(`unknown log-format option '${opt}'`);
      }
      i = close + 1;
    }
    let get: Getter | undefined;
    let mayBeEmpty = false;
    if (template[i] === '[') {
      const close = template.indexOf(']', i);
      if (close < 0) {
        errors.push(`unterminated '%[' at ${start}`);
        text += template.slice(start);
        break;
      }
      get = compileFetch(template.slice(i + 1, close), errors, escape ? ESCAPED_SAMPLE_MAP : URL_MAP);
      i = close + 1;
    } else {
      let j = i;
      while (j < template.length && /[A-Za-z0-9_]/.test(template[j])) j++;
      const name = template.slice(i, j);
      get = Object.prototype.hasOwnProperty.call(VARIABLES, name) ? VARIABLES[name] : undefined;
      if (!get) errors.push(`unknown log-format variable '%${name}'`);
      mayBeEmpty = MAY_BE_EMPTY.has(name);
      i = j;
    }
    if (!get) {
      text += template.slice(start, i);
      continue;
    }
    flush();
    nodes.push({ kind: N_VAR, text: '', get, quote, escape, mayBeEmpty });
  }
  flush();
  return { render: (e) => renderNodes(nodes, e), errors };
}

function renderNodes(nodes: LogNode[], e: AccessLogEntry): string {
  let out = '';
  // Leading separators are dropped, as HAProxy starts with "last was a space".
  let lastSep = true;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (n.kind === N_SEP) {
      if (!lastSep) {
        out += ' ';
        lastSep = true;
      }
    } else if (n.kind === N_TEXT) {
      out += n.text;
      lastSep = false;
    } else {
      let v = n.get!(e);
      if (v === '' && n.mayBeEmpty) continue;
      if (n.escape) v = escapeValue(v);
      out += n.quote ? '"' + v + '"' : v;
      lastSep = false;
    }
  }
  return out;
}

// ---------------------------------------------------------------- JSON
const jsonStringify = fastJson({
  type: 'object',
  properties: {
    level: { type: 'string' },
    time: { type: 'string' },
    pid: { type: 'integer' },
    hostname: { type: 'string' },
    msg: { type: 'string' },
    client_ip: { type: 'string' },
    client_port: { type: 'integer' },
    frontend_ip: { type: 'string' },
    frontend_port: { type: 'integer' },
    accept_date: { type: 'string' },
    frontend_name: { type: 'string' },
    ssl: { type: 'boolean' },
    backend_name: { type: 'string' },
    server_name: { type: 'string' },
    time_handshake: { type: 'integer' },
    time_idle: { type: 'integer' },
    time_request: { type: 'integer' },
    time_queue: { type: 'integer' },
    time_connect: { type: 'integer' },
    time_response: { type: 'integer' },
    time_active: { type: 'integer' },
    time_total: { type: 'integer' },
    status_code: { type: 'integer' },
    bytes_read: { type: 'integer' },
    bytes_uploaded: { type: 'integer' },
    termination_state: { type: 'string' },
    actconn: { type: 'integer' },
    feconn: { type: 'integer' },
    beconn: { type: 'integer' },
    srv_conn: { type: 'integer' },
    retries: { type: 'integer' },
    redispatched: { type: 'boolean' },
    srv_queue: { type: 'integer' },
    backend_queue: { type: 'integer' },
    http_method: { type: 'string' },
    http_uri: { type: 'string' },
    http_version: { type: 'string' },
    request_line: { type: 'string' },
  },
});

/**
 * One pino-style JSON object (`level`, `time`, `pid`, `msg: "access"`) with HAProxy's
 * field names; the request fields only for HTTP. Bytes follow HAProxy's JSON names:
 * `bytes_read` is what the client received (%B), `bytes_uploaded` what it sent (%U).
 */
export function renderJson(e: AccessLogEntry, http: boolean): string {
  return jsonStringify({
    level: e.error ? 'error' : 'info',
    time: new Date().toISOString(),
    pid: process.pid,
    hostname: HOSTNAME,
    msg: 'access',
    client_ip: e.clientIp,
    client_port: e.clientPort,
    frontend_ip: e.frontendIp,
    frontend_port: e.frontendPort,
    accept_date: new Date(e.acceptDate).toISOString(),
    frontend_name: e.frontend,
    ssl: e.ssl,
    backend_name: e.backend,
    server_name: e.server,
    time_handshake: e.th,
    time_idle: e.ti,
    time_request: e.tR,
    time_queue: e.tw,
    time_connect: e.tc,
    time_response: e.tr,
    time_active: e.ta,
    time_total: e.tt,
    status_code: http ? e.status : undefined,
    bytes_read: e.bytesSent,
    bytes_uploaded: e.bytesRead,
    termination_state: e.termination,
    actconn: e.actconn,
    feconn: e.feconn,
    beconn: e.beconn,
    srv_conn: e.srvconn,
    retries: e.retries,
    redispatched: e.redispatched,
    srv_queue: e.srvQueue,
    backend_queue: e.backendQueue,
    http_method: http && e.hasRequest ? e.method : undefined,
    http_uri: http && e.hasRequest ? e.uri : undefined,
    http_version: http && e.hasRequest ? e.version : undefined,
    request_line: http ? requestLine(e) : undefined,
  });
}
