/**
 * The JSON Schema of a tslb config file (native format and the seed's `proxy:`
 * shape), written with TypeBox so the static types of the parsed file and the
 * published schema (config/tslb.schema.json) come from one definition.
 *
 * Fields that take one of several shapes (a bind as "addr:port" or a map) use a
 * multi-type node (`type: ['string', 'object']`) rather than `anyOf`, so ajv
 * reports one precise error per mistake instead of one per alternative.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_CONN, MAX_INT, MAX_RETRIES, MAX_RISE_FALL, MAX_SIZE, MAX_TIME_MS, MAX_WEIGHT, MAX_WORKERS } from './limits';

const opt = Type.Optional;

/** A schema node accepting several JSON types; `T` is its static type. */
function multi<T>(types: string[], schema: Record<string, unknown>, description: string) {
  return Type.Unsafe<T>({ type: types, ...schema, description });
}

/** A closed set of literals, reported by ajv as one `enum` error. */
function lits<const T extends readonly (string | number)[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ enum: [...values], ...(description ? { description } : {}) });
}

function obj<P extends Record<string, TSchema>>(props: P, description?: string) {
  return Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
}

const Time = multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_TIME_MS }, 'HAProxy time: 5s, 500ms, 2m, 1h, 1d; a bare number is milliseconds');
const Size = multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_SIZE }, 'bytes: 16384, 16k, 1m');
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Name = Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: 'a name (letters, digits, . _ - :)' });
const Mode = lits(['http', 'tcp']);
/** maxconn, maxqueue: 0 = unlimited. */
const Conns = Type.Integer({ minimum: 0, maximum: MAX_CONN });
const RiseFall = Type.Integer({ minimum: 1, maximum: MAX_RISE_FALL });
const Retries = Type.Integer({ minimum: 0, maximum: MAX_RETRIES });
const Workers = Type.Integer({ minimum: 1, maximum: MAX_WORKERS });
/** A VRRP field (keepalived priority, advert_int, virtual_router_id). */
const Vrrp = Type.Integer({ minimum: 1, maximum: 255 });
const TlsVersion = lits(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
const Condition = Type.String({ description: 'HAProxy ACL expression, e.g. "{ path_beg /api }" or "!{ ssl_fc }"' });
const StrList = Type.Array(Type.String());

export const TimeoutsSchema = obj(
  {
    connect: opt(Time),
    client: opt(Time),
    server: opt(Time),
    http_request: opt(Time),
    http_keep_alive: opt(Time),
    queue: opt(Time),
    tunnel: opt(Time),
    check: opt(Time),
    client_fin: opt(Time),
    server_fin: opt(Time),
    tarpit: opt(Time),
  },
  'timeouts (HAProxy `timeout …`)',
);

const LogSchema = obj({
  format: opt(Type.String({ description: 'json, httplog, tcplog, or a custom log-format string' })),
  dontlognull: opt(Type.Boolean()),
  log_health_checks: opt(Type.Boolean()),
  enabled: opt(Type.Boolean()),
});

const CheckDefaultsSchema = obj(
  { inter: opt(Time), fastinter: opt(Time), downinter: opt(Time), rise: opt(RiseFall), fall: opt(RiseFall) },
  'defaults for server checks (HAProxy `default-server inter … rise … fall …`)',
);

export interface ForwardForInput {
  header?: string;
  if_none?: boolean;
  except?: string[];
}
const ForwardForSchema = multi<boolean | ForwardForInput>(
  ['boolean', 'object'],
  {
    properties: { header: { type: 'string' }, if_none: { type: 'boolean' }, except: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  },
  'option forwardfor: true, or {header, if_none, except}',
);

const ErrorFiles = Type.Record(Type.String({ pattern: '^[1-5][0-9][0-9]$' }), Type.String(), {
  description: 'status → path of a raw HTTP response file (HAProxy errorfile)',
});

export interface BindInput {
  address?: string;
  port: number;
  ssl?: {
    certificates: string[];
    min_version?: string;
    max_version?: string;
    ciphers?: string;
    ciphersuites?: string;
    alpn?: string[];
    verify?: 'none' | 'optional' | 'required';
    ca_file?: string;
    crl_file?: string;
    curves?: string;
    ecdhe?: string;
  };
  accept_proxy?: boolean;
  h2c?: boolean;
}
const BindSslSchema = obj({
  certificates: Type.Array(Type.String({ description: 'combined PEM file: certificate chain + private key' }), { minItems: 1 }),
  min_version: opt(TlsVersion),
  max_version: opt(TlsVersion),
  ciphers: opt(Type.String()),
  ciphersuites: opt(Type.String()),
  alpn: opt(StrList),
  verify: opt(lits(['none', 'optional', 'required'], 'client certificates (HAProxy bind `verify`): none (default) asks for none, optional verifies one if given, required refuses a client without')),
  ca_file: opt(Type.String({ description: 'PEM CAs that client certificates must chain to (HAProxy `ca-file`)' })),
  crl_file: opt(Type.String({ description: 'PEM CRLs checked for every certificate of a client chain (HAProxy `crl-file`)' })),
  curves: opt(Type.String({ description: 'ECDHE groups offered, preference order (HAProxy `curves`): "X25519:P-256"' })),
  ecdhe: opt(Type.String({ description: 'one ECDHE curve (HAProxy `ecdhe`): "prime256v1"' })),
});
const BindSchema = multi<string | BindInput>(
  ['string', 'object'],
  {
    properties: { address: { type: 'string' }, port: Port, ssl: BindSslSchema, accept_proxy: { type: 'boolean' }, h2c: { type: 'boolean' } },
    required: ['port'],
    additionalProperties: false,
  },
  '"address:port" or {address, port, ssl, accept_proxy, h2c}',
);

const RedirectCode = lits([301, 302, 303, 307, 308]);
const RedirectSchema = obj({
  scheme: opt(Type.String()),
  location: opt(Type.String()),
  prefix: opt(Type.String()),
  code: opt(RedirectCode),
  drop_query: opt(Type.Boolean()),
  append_slash: opt(Type.Boolean()),
});
const HeaderSchema = obj({ name: Type.String({ minLength: 1 }), value: Type.String({ description: 'log-format: text and %[fetch,converter] samples' }) });
const ReplaceHeaderSchema = obj({ name: Type.String({ minLength: 1 }), regex: Type.String(), replace: Type.String({ description: 'log-format, with \\1… for the groups' }) });
const Status = Type.Integer({ minimum: 200, maximum: 599 });
const answerFields = {
  content_type: opt(Type.String()),
  string: opt(Type.String()),
  lf_string: opt(Type.String({ description: 'log-format body' })),
  file: opt(Type.String({ description: 'body file, sent as it is' })),
  lf_file: opt(Type.String({ description: 'a file whose text is a log-format body, evaluated per answer' })),
  errorfile: opt(Type.String({ description: 'a raw HTTP response file, sent as written (the connection closed after it)' })),
  default_errorfiles: opt(Type.Boolean({ description: 'the proxy’s page for the status' })),
  errorfiles: opt(Type.String({ description: 'an http_errors section: its page for the status' })),
  headers: opt(Type.Record(Type.String(), Type.String(), { description: 'header name: log-format value' })),
};
const AnswerSchema = obj({ status: opt(Status), ...answerFields });
const LogFormat = Type.String({ description: 'log-format: text and %[fetch,converter] samples' });
const ErrorReplySchema = obj(
  {
    status: opt(Status),
    content_type: opt(Type.String()),
    default_errorfiles: opt(Type.Boolean({ description: 'forget this proxy’s page for the status (the frontend’s or the built-in one then applies)' })),
    errorfile: opt(Type.String({ description: 'a raw HTTP response file' })),
    errorfiles: opt(Type.String({ description: 'an http_errors section: its page for the status (all of its pages when status is left out)' })),
    string: opt(Type.String()),
    lf_string: opt(Type.String({ description: 'log-format body' })),
    file: opt(Type.String({ description: 'body file' })),
    lf_file: opt(Type.String({ description: 'a file whose text is a log-format body, evaluated per answer' })),
    headers: opt(Type.Record(Type.String(), Type.String(), { description: 'header name: log-format value' })),
  },
  'HAProxy http-error: the page tslb answers a status with',
);
const HttpErrorsSchema = obj(
  {
    name: Name,
    errorfiles: multi<Record<string, string> | string[]>(
      ['object', 'array'],
      { patternProperties: { '^[1-5][0-9][0-9]$': { type: 'string' } }, additionalProperties: false, items: { type: 'string' } },
      'status → raw HTTP response file, or HAProxy lines "errorfile <code> <file>"',
    ),
  },
  'HAProxy http-errors section',
);
const UserlistSchema = obj({
  name: Name,
  users: Type.Array(
    multi<string | { name: string; password?: string; insecure_password?: string }>(
      ['string', 'object'],
      {
        properties: { name: { type: 'string', minLength: 1 }, password: { type: 'string', description: 'crypt(3) hash: bcrypt $2a$/$2b$/$2y$, SHA-crypt $5$/$6$, MD5-crypt $1$' }, insecure_password: { type: 'string' } },
        required: ['name'],
        additionalProperties: false,
      },
      'HAProxy line "user NAME password HASH|insecure-password PASS", or { name, password | insecure_password }',
    ),
  ),
});
export const HttpRuleSchema = obj(
  {
    redirect: opt(RedirectSchema),
    allow: opt(Type.Literal(true)),
    deny: opt(AnswerSchema),
    return: opt(AnswerSchema),
    set_header: opt(HeaderSchema),
    add_header: opt(HeaderSchema),
    del_header: opt(
      multi<string | { name: string; match?: 'str' | 'beg' | 'end' | 'sub' | 'reg' }>(
        ['string', 'object'],
        { properties: { name: { type: 'string', minLength: 1 }, match: { enum: ['str', 'beg', 'end', 'sub', 'reg'] } }, required: ['name'], additionalProperties: false },
        'a header name, or { name, match: str|beg|end|sub|reg }',
      ),
    ),
    replace_header: opt(ReplaceHeaderSchema),
    replace_value: opt(ReplaceHeaderSchema),
    set_method: opt(LogFormat),
    set_path: opt(LogFormat),
    set_query: opt(LogFormat),
    set_uri: opt(LogFormat),
    replace_path: opt(obj({ regex: Type.String(), replace: Type.String() })),
    set_var: opt(obj({ name: Type.String({ description: 'txn.x, req.x, res.x or sess.x' }), expr: Type.String({ description: 'sample expression, e.g. req.hdr(host),lower' }) })),
    unset_var: opt(Type.String()),
    auth: opt(obj({ realm: opt(Type.String()) })),
    capture: opt(obj({ sample: Type.String({ description: 'sample expression, e.g. req.hdr(user-agent)' }), len: Type.Integer({ minimum: 1, maximum: 65535 }) }, 'logged in %hr of httplog')),
    tarpit: opt(obj({ status: opt(Status) }, 'hold the request for timeouts.tarpit, then answer (500 by default)')),
    set_status: opt(obj({ status: Type.Integer({ minimum: 100, maximum: 599 }), reason: opt(Type.String()) })),
    cache_use: opt(Type.String({ description: 'http_request: answer from this cache (a caches: name) when it holds the object' })),
    cache_store: opt(Type.String({ description: 'http_response: store a cacheable response in this cache (a caches: name)' })),
    if: opt(Condition),
    unless: opt(Condition),
  },
  'one action (redirect, allow, deny, return, set_header, add_header, del_header, replace_header, replace_value, set_method, set_path, set_query, set_uri, replace_path, set_var, unset_var, set_status, auth, tarpit, capture, cache_use, cache_store) with an optional if/unless condition',
);

const HttpsRedirectSchema = multi<boolean | { code?: 301 | 302 | 303 | 307 | 308; port?: number }>(
  ['boolean', 'object'],
  { properties: { code: { enum: [301, 302, 303, 307, 308] }, port: Port }, additionalProperties: false },
  "redirect plain-HTTP requests to https: true, or {code (301), port (the frontend's first TLS bind's)}",
);
const HstsSchema = obj(
  {
    max_age: Type.Integer({ minimum: 0, maximum: MAX_INT, description: 'seconds' }),
    include_subdomains: opt(Type.Boolean()),
    preload: opt(Type.Boolean()),
  },
  'Strict-Transport-Security on every response over TLS',
);

/** HTTP response compression (HAProxy `compression …` lines; src/config/compression.ts). */
const CompressionSchema = obj(
  {
    algos: opt(Type.Array(lits(['gzip', 'deflate', 'raw-deflate', 'br', 'zstd']), { minItems: 1, description: 'content codings offered, in order of preference on equal q-values (HAProxy compression algo); zstd needs Node 22.15+' })),
    types: opt(Type.Array(Type.String({ pattern: '^\\S+$' }), { minItems: 1, description: 'Content-Type prefixes compressed, e.g. text/html (HAProxy compression type); absent: every type but multipart' })),
    min_size: opt(Size),
    level: opt(Type.Integer({ minimum: 1, maximum: 9, description: 'compression level 1..9 (HAProxy tune.comp.maxlevel, default 1)' })),
    offload: opt(Type.Boolean({ description: 'remove Accept-Encoding from requests to the server (HAProxy compression offload)' })),
  },
  'HTTP response compression: {algos, types, min_size, level, offload} (see config/README.md)',
);

export interface SecurityHeadersInput {
  preset: 'strict' | 'basic';
  x_content_type_options?: string | false;
  x_frame_options?: string | false;
  referrer_policy?: string | false;
  content_security_policy?: string | false;
  permissions_policy?: string | false;
  hsts?: boolean;
  remove?: string[];
}
const HeaderValueOrOff = { type: ['string', 'boolean'], not: { const: true } };
const SecurityHeadersSchema = multi<'strict' | 'basic' | SecurityHeadersInput>(
  ['string', 'object'],
  {
    pattern: '^(strict|basic)$',
    properties: {
      preset: { enum: ['strict', 'basic'] },
      x_content_type_options: HeaderValueOrOff,
      x_frame_options: HeaderValueOrOff,
      referrer_policy: HeaderValueOrOff,
      content_security_policy: HeaderValueOrOff,
      permissions_policy: HeaderValueOrOff,
      hsts: { type: 'boolean' },
      remove: { type: 'array', items: { type: 'string' } },
    },
    required: ['preset'],
    additionalProperties: false,
  },
  'security headers preset: strict or basic, or {preset, a value (or false) per header, hsts: false, remove: [headers]} (see config/README.md)',
);

const UseBackendSchema = obj({
  backend: Type.String({ minLength: 1, description: 'a backend name, or one built per request: "%[req.hdr(host),lower,map(hosts.map,www)]"' }),
  if: opt(Condition),
  unless: opt(Condition),
});

export interface StickTableInput {
  type?: 'ip' | 'ipv6' | 'integer' | 'string';
  len?: number;
  size: string | number;
  expire?: string | number;
  store?: string[];
  redis?: StickRedisInput;
  peers?: string;
}
export interface StickRedisInput {
  url: string;
  prefix?: string;
  flush_interval?: string | number;
  timeout?: string | number;
}
const StickRedisSchema = {
  type: 'object',
  description: 'fleet-wide counters: this table\'s counters and rates are also kept in Redis and shared by every tslb node pointing at it (src/stick/redis.ts)',
  properties: {
    url: { type: 'string', pattern: '^rediss?://', description: 'redis://[user:pass@]host:port[/db], or rediss:// for TLS' },
    prefix: { type: 'string', maxLength: 256, description: 'prefix of the Redis keys (default "tslb:")' },
    flush_interval: { ...Time, minimum: 1, maximum: 60_000, description: 'how often this node sends its increments and reads the fleet totals: 1ms..60s, at most half the shortest rate period (default 100ms)' },
    timeout: { ...Time, minimum: 1, maximum: 60_000, description: 'a flush not answered within this time counts as Redis down, with local counting until it answers again: 1ms..60s (default 1s)' },
  },
  required: ['url'],
  additionalProperties: false,
};
const StickTableSchema = multi<string | StickTableInput>(
  ['string', 'object'],
  {
    properties: {
      type: { enum: ['ip', 'ipv6', 'integer', 'string'] },
      len: { type: 'integer', minimum: 1 },
      size: { type: ['string', 'integer'] },
      expire: { type: ['string', 'integer'] },
      store: { type: 'array', items: { type: 'string' } },
      redis: StickRedisSchema,
      peers: { type: 'string', description: 'the peers section the table is replicated with' },
    },
    required: ['size'],
    additionalProperties: false,
  },
  'HAProxy stick-table line without "stick-table" ("type ip size 100k expire 30s store conn_rate(10s),conn_cur") or {type, len, size, expire, store: [conn_rate(10s), conn_cur], redis: {url, prefix, flush_interval, timeout}}',
);

export const TcpRequestSchema = obj(
  {
    connection: opt(Type.String({ description: 'an action run when a connection is accepted: "track-sc0 src", "reject", "silent-drop", "sc-inc-gpc0(0)", "sc-set-gpt0(0) 1"' })),
    session: opt(Type.String({ description: 'an action run once the PROXY header and TLS handshake are done' })),
    content: opt(Type.String({ description: 'an action run before the backend is chosen' })),
    if: opt(Condition),
    unless: opt(Condition),
  },
  'one tcp-request rule: connection, session or content with its action, and an optional if/unless condition',
);

const FrontendSchema = obj({
  name: Name,
  mode: opt(Mode),
  binds: Type.Array(BindSchema),
  acls: opt(
    Type.Record(
      Name,
      multi<string | string[]>(['string', 'array'], { items: { type: 'string' } }, 'ACL criterion(s), e.g. "path_beg /api/"; several are ORed'),
    ),
  ),
  use_backend: opt(Type.Array(UseBackendSchema)),
  default_backend: opt(Name),
  http_request: opt(Type.Array(HttpRuleSchema)),
  http_response: opt(Type.Array(HttpRuleSchema)),
  http_after_response: opt(Type.Array(HttpRuleSchema, { description: 'rules on every response, tslb’s own answers too' })),
  forwardfor: opt(ForwardForSchema),
  forwarded_proto: opt(Type.Boolean()),
  forwarded_host: opt(Type.Boolean()),
  host_routing: opt(Type.Boolean({ description: 'route by SNI/Host to backends by their host_names when no rule matches' })),
  log: opt(LogSchema),
  errorfiles: opt(ErrorFiles),
  http_error: opt(Type.Array(ErrorReplySchema)),
  maxconn: opt(Conns),
  inspect_delay: opt(Time),
  timeouts: opt(TimeoutsSchema),
  options: opt(Type.Array(Type.String({ description: 'HAProxy option line, e.g. "httplog"' }))),
  https_redirect: opt(HttpsRedirectSchema),
  hsts: opt(HstsSchema),
  security_headers: opt(SecurityHeadersSchema),
  compression: opt(CompressionSchema),
  monitor_uri: opt(Type.String({ pattern: '^\\S+$', description: 'HAProxy monitor-uri: the URI tslb answers itself (200, or 503 when a monitor_fail condition holds), e.g. /healthz' })),
  monitor_fail: opt(Type.Array(obj({ if: opt(Condition), unless: opt(Condition) }), { description: 'HAProxy monitor fail if|unless <condition>' })),
  stick_table: opt(StickTableSchema),
  tcp_request: opt(Type.Array(TcpRequestSchema)),
  rate_limit_sessions: opt(Type.Integer({ minimum: 0, maximum: MAX_SIZE, description: 'new sessions per second over all workers; the excess waits (HAProxy rate-limit sessions)' })),
  /** Largest request body: a larger Content-Length gets 413 at once, a chunked body when the chunk that passes it is announced (HTTP/1). */
  max_body_size: opt(Size),
  /** From a trusted proxy, the source address is the header's right-most untrusted address (HAProxy: http-request set-src hdr(x-forwarded-for) if { src … }). */
  source_from_header: opt(
    Type.Object(
      {
        header: opt(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'header naming the client (x-forwarded-for)' })),
        trusted: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'addresses or CIDR networks of the proxies whose header is believed' }),
      },
      { additionalProperties: false },
    ),
  ),
  /** Source address lists (addresses or CIDR, IPv4 and IPv6): connections from outside `allow` or inside `deny` are closed at accept. */
  access: opt(
    Type.Object(
      {
        allow: opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'addresses, CIDR networks, or pattern files ("-f FILE" or a path) of them' })),
        deny: opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'addresses, CIDR networks, or pattern files ("-f FILE" or a path) of them' })),
      },
      { additionalProperties: false },
    ),
  ),
  /** A one-line protection preset (src/config/protection.ts PUBLIC_PRESET); its numbers can be given. */
  protection: opt(
    Type.Union([
      Type.Literal('public'),
      Type.Object(
        {
          preset: Type.Literal('public'),
          requests_per_10s: opt(Type.Integer({ minimum: 1, maximum: MAX_SIZE, description: 'requests per address in 10 s before 429 (200)' })),
          connections_per_address: opt(Type.Integer({ minimum: 1, maximum: MAX_CONN, description: 'concurrent connections per address (50)' })),
        },
        { additionalProperties: false },
      ),
    ]),
  ),
});

export interface BalanceInput {
  algorithm: string;
  args?: string[];
  hash_type?: 'map-based' | 'consistent';
}
const BalanceSchema = multi<string | BalanceInput>(
  ['string', 'object'],
  {
    properties: {
      algorithm: { type: 'string' },
      args: { type: 'array', items: { type: 'string' } },
      hash_type: { enum: ['map-based', 'consistent'] },
    },
    required: ['algorithm'],
    additionalProperties: false,
  },
  'HAProxy balance line ("roundrobin", "uri whole") or {algorithm, args, hash_type}',
);

export interface HealthCheckInput {
  type: 'tcp' | 'http' | 'tcp-check' | 'mysql' | 'pgsql' | 'redis' | 'smtp' | 'ssl-hello' | 'ldap' | 'external';
  method?: string;
  uri?: string;
  version?: string;
  headers?: Record<string, string>;
  body?: string;
  expect_status?: string;
  expect?: string;
  steps?: string[];
  user?: string;
  post_41?: boolean;
  hello?: string;
  command?: string;
  path?: string;
}
const HealthCheckSchema = multi<string | HealthCheckInput>(
  ['string', 'object'],
  {
    properties: {
      type: { enum: ['tcp', 'http', 'tcp-check', 'mysql', 'pgsql', 'redis', 'smtp', 'ssl-hello', 'ldap', 'external'] },
      method: { type: 'string' },
      uri: { type: 'string' },
      version: { enum: ['HTTP/1.0', 'HTTP/1.1'] },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string' },
      expect_status: { type: 'string', pattern: '^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$', description: 'a status or a status range (200-399)' },
      expect: { type: 'string', description: 'http: an http-check expect line without "http-check expect": "status 200", "! string maintenance", "hdr name x-ok value -m beg yes"' },
      steps: {
        type: 'array',
        items: { type: 'string' },
        description: 'tcp-check: tcp-check lines without "tcp-check": ["connect port 6379", "send PING\\r\\n", "expect string +PONG"]',
      },
      user: { type: 'string' },
      post_41: { type: 'boolean' },
      hello: { type: 'string', description: 'smtp: "EHLO <domain>" or "HELO <domain>" (default "HELO localhost")' },
      command: { type: 'string', minLength: 1, description: 'external: the program run for each check (no shell)' },
      path: { type: 'string', description: 'external: PATH given to the program' },
    },
    required: ['type'],
    additionalProperties: false,
  },
  'HAProxy option line ("httpchk GET /health", "mysql-check user x") or {type, …} (see config/README.md: health checks)',
);

/** DNS keywords of servers and server templates, as YAML keys (the `options` words `resolvers`, `init-addr`… also work). */
const ServerDnsFields = {
  resolvers: opt(Name),
  init_addr: opt(Type.String({ description: 'HAProxy init-addr: comma-separated last, libc, none or an IP, tried in order' })),
  resolve_prefer: opt(lits(['ipv4', 'ipv6'])),
};

const ServerTemplateSchema = obj(
  {
    prefix: Name,
    count: multi<string | number>(['string', 'integer'], { minimum: 1, pattern: '^[0-9]+(-[0-9]+)?$' }, 'number of servers, or a range of their numbers: 3, "1-3"'),
    fqdn: Type.String({ minLength: 1, description: 'host name resolved for every slot, or an SRV label (_http._tcp.svc.example)' }),
    port: opt(Port),
    options: opt(Type.String({ description: 'HAProxy server keywords for every slot, e.g. "check resolvers mydns init-addr none"' })),
    ...ServerDnsFields,
  },
  'HAProxy server-template: servers <prefix>1..N filled from DNS records',
);

const ServerSchema = obj({
  name: Name,
  address: Type.String({ minLength: 1 }),
  port: Port,
  weight: opt(Type.Integer({ minimum: 0, maximum: MAX_WEIGHT })),
  backup: opt(Type.Boolean()),
  maxconn: opt(Conns),
  maxqueue: opt(Conns),
  check: opt(Type.Boolean()),
  fall: opt(RiseFall),
  rise: opt(RiseFall),
  inter: opt(Time),
  ssl: opt(Type.Boolean()),
  sni: opt(Type.String()),
  send_proxy: opt(multi<boolean | number>(['boolean', 'integer'], { minimum: 1, maximum: 2 }, 'true (v1), 1 or 2')),
  proto: opt(lits(['h2'], 'h2: HTTP/2 to the server (h2c prior knowledge when plain, h2 by ALPN with ssl); unset: HTTP/1.1, or what ALPN picks')),
  check_proto: opt(lits(['h1', 'h2'], "HAProxy's check-proto: the protocol HTTP health checks speak (default: the server's proto, or what ALPN picks)")),
  cookie: opt(Type.String()),
  slowstart: opt(Time),
  disabled: opt(Type.Boolean()),
  options: opt(Type.String({ description: 'HAProxy server keywords, e.g. "check fall 3 rise 2 weight 100"' })),
  ...ServerDnsFields,
});

const BackendSchema = obj({
  name: Name,
  mode: opt(Mode),
  balance: opt(BalanceSchema),
  health_check: opt(HealthCheckSchema),
  servers: opt(Type.Array(ServerSchema)),
  server_templates: opt(Type.Array(ServerTemplateSchema)),
  retries: opt(Retries),
  redispatch: opt(Type.Boolean()),
  all_backups: opt(Type.Boolean()),
  timeouts: opt(TimeoutsSchema),
  forwardfor: opt(ForwardForSchema),
  host_names: opt(StrList),
  http_request: opt(Type.Array(HttpRuleSchema)),
  http_response: opt(Type.Array(HttpRuleSchema)),
  http_after_response: opt(Type.Array(HttpRuleSchema, { description: 'rules on every response, tslb’s own answers too' })),
  errorfiles: opt(ErrorFiles),
  http_error: opt(Type.Array(ErrorReplySchema)),
  options: opt(Type.Array(Type.String())),
  cookie: opt(Type.String({ description: 'HAProxy cookie line without "cookie": "SRVID insert indirect nocache"' })),
  stick_on: opt(Type.String({ description: 'sample fetch: "src" or "hdr(x-user)"' })),
  stick_table: opt(StickTableSchema),
  hash_type: opt(lits(['map-based', 'consistent'])),
  compression: opt(CompressionSchema),
});

export interface NameserverInput {
  name: string;
  address: string;
  port?: number;
}
const NameserverSchema = multi<string | NameserverInput>(
  ['string', 'object'],
  {
    properties: { name: { type: 'string' }, address: { type: 'string' }, port: Port },
    required: ['name', 'address'],
    additionalProperties: false,
  },
  'HAProxy nameserver words "dns1 10.0.0.1:53", or {name, address, port (53)}',
);

const ResolversSchema = obj(
  {
    name: Name,
    nameservers: opt(Type.Array(NameserverSchema)),
    resolve_retries: opt(Type.Integer({ minimum: 1, maximum: MAX_RETRIES })),
    timeouts: opt(obj({ resolve: opt(Time), retry: opt(Time) })),
    hold: opt(obj({ valid: opt(Time), nx: opt(Time), timeout: opt(Time), refused: opt(Time), other: opt(Time), obsolete: opt(Time) })),
    accepted_payload_size: opt(Type.Integer({ minimum: 12, maximum: 65535 })),
    options: opt(Type.Array(Type.String({ description: 'HAProxy resolvers-section line: "nameserver dns1 10.0.0.1:53", "hold nx 30s", "timeout resolve 1s"' }))),
  },
  'HAProxy resolvers section: name servers that re-resolve servers at run time',
);

const CacheSchema = obj(
  {
    name: Name,
    total_max_size: opt(Type.Integer({ minimum: 1, maximum: 4095, description: 'MB of RAM for the cache, shared out among the workers (HAProxy total-max-size); required here or in options' })),
    max_object_size: opt(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'bytes: larger responses are not stored (default total_max_size/256; at most half of it)' })),
    max_age: opt(Type.Integer({ minimum: 0, maximum: 2147483647, description: 'seconds an object stays fresh at most (60)' })),
    process_vary: opt(Type.Boolean({ description: 'store responses that vary on accept-encoding, referer, origin per value (false: any Vary is not stored)' })),
    max_secondary_entries: opt(Type.Integer({ minimum: 1, maximum: 65535, description: 'variants kept per URL with process_vary (10)' })),
    options: opt(Type.Array(Type.String({ description: 'HAProxy cache-section line: "total-max-size 4", "max-object-size 10000", "max-age 240", "process-vary on", "max-secondary-entries 10"' }))),
  },
  'HAProxy cache section: an HTTP response cache used by http-request cache-use and http-response cache-store',
);

const AcmeSchema = obj(
  {
    directory: Type.String({ description: 'the CA\'s ACME directory URL (https://acme-v02.api.letsencrypt.org/directory)' }),
    email: opt(Type.String({ description: 'account contact' })),
    names: Type.Array(Type.String({ description: 'a DNS name of the certificate' }), { minItems: 1 }),
    state_dir: opt(Type.String({ description: 'account key and certificates (mode 600); default global.state_dir (seed proxy_lib), else /var/lib/tslb' })),
    certificate: opt(Type.String({ description: 'the bundle written and served (list it in a TLS bind\'s certificates); default <state_dir>/<first name>.pem' })),
    renew_before_days: opt(Type.Integer({ minimum: 0, maximum: 3650, description: 'days before notAfter (30)' })),
    challenge: opt(lits(['http-01', 'tls-alpn-01'])),
    ca_file: opt(Type.String({ description: 'CAs trusted for the directory\'s HTTPS (a test CA); default the system\'s' })),
  },
  'ACME (RFC 8555): a certificate obtained and renewed by the primary, HTTP-01 answered on the plain binds',
);

const GlobalSchema = obj({
  workers: opt(multi<string | number>(['string', 'integer'], { minimum: 1, maximum: MAX_WORKERS, pattern: '^auto$' }, 'auto (one per core) or a number')),
  user: opt(Type.String()),
  group: opt(Type.String()),
  pidfile: opt(Type.String()),
  state_dir: opt(Type.String()),
  maxconn: opt(Conns),
  grace_period: opt(Time),
  accept_mode: opt(lits(['auto', 'reuseport', 'rr', 'shared'])),
  buf_size: opt(Size),
  max_rewrite: opt(Size),
  max_headers: opt(Type.Integer({ minimum: 1, maximum: 32767, description: "header lines in one request or response head, HTTP/1 and HTTP/2 (HAProxy's tune.http.maxhdr); more: 431 (default 128)" })),
  log_level: opt(lits(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])),
  access_log: opt(Type.String()),
  h2: opt(
    obj({
      max_concurrent_streams: opt(Type.Integer({ minimum: 1, maximum: 10000, description: "HAProxy's tune.h2.max-concurrent-streams (default 100)" })),
      initial_window_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: 2147483647 }, "HAProxy's tune.h2.initial-window-size: bytes, at least 65535 (default 65535)")),
      header_table_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: 65536 }, "HAProxy's tune.h2.header-table-size: the HPACK table clients may fill, 4096..65536 bytes (default 4096)")),
      max_header_list_size: opt(multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_SIZE }, 'SETTINGS_MAX_HEADER_LIST_SIZE, checked after HPACK decoding (default 64k)')),
    }),
  ),
  max_comp_rate: opt(Type.Integer({ minimum: 0, maximum: 2097151, description: "HAProxy's maxcomprate: kB/s of response bytes into the compressors of this node (0: no limit); above it, new responses are not compressed and gzip/deflate ones lower their level down to 0 (bytes counted in comp_byp)" })),
  max_comp_cpu_usage: opt(Type.Integer({ minimum: 0, maximum: 100, description: "HAProxy's maxcompcpuusage: a worker busier than this percentage of its time stops compressing new responses and lowers the level of gzip/deflate ones (100: no limit)" })),
  options: opt(Type.Array(Type.String({ description: 'HAProxy global-section line: tune.h2.header-table-size, tune.h2.initial-window-size, tune.h2.max-concurrent-streams, tune.http.maxhdr, maxcomprate, maxcompcpuusage' }))),
  cert_watch: opt(Time),
  cert_expiry_warning_days: opt(Type.Integer({ minimum: 0, maximum: 3650, description: 'days' })),
  acme: opt(AcmeSchema),
  localpeer: opt(Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: "this node's name in peers sections (HAProxy's localpeer; default the host name)" })),
  ssl_default_dh_param: opt(Type.Integer({ minimum: 1024, maximum: 8192, description: 'bits of the DHE group (HAProxy tune.ssl.default-dh-param): 1024, 1536, 2048, 3072, 4096, 6144 or 8192' })),
});

const DefaultsSchema = obj({
  mode: opt(Mode),
  errorfiles: opt(ErrorFiles),
  http_error: opt(Type.Array(ErrorReplySchema)),
  timeouts: opt(TimeoutsSchema),
  options: opt(Type.Array(Type.String())),
  log: opt(LogSchema),
  check: opt(CheckDefaultsSchema),
  retries: opt(Retries),
  maxconn: opt(Conns),
  balance: opt(BalanceSchema),
});

const Listen = Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]*|[0-9a-fA-F:]+):[0-9]+$', description: 'an address:port' });

const PeersSchema = obj(
  {
    name: Name,
    local: opt(Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: "this node's peer name (default global.localpeer, else the host name), as HAProxy's localpeer / -L" })),
    secret: opt(Type.String({ minLength: 16, description: 'shared secret (16+ characters) each connection proves with an HMAC challenge-response; never sent' })),
    members: opt(Type.Array(obj({ name: Name, address: Type.String({ description: 'IP address (or [IPv6]) the peer listens on' }), port: Port }))),
    bind: opt(Listen),
    disabled: opt(Type.Boolean()),
    tls: opt(
      obj(
        {
          certificate: Type.String({ description: "PEM with this node's certificate and key (HAProxy bind … ssl crt)" }),
          ca_file: opt(Type.String({ description: "CAs a peer's certificate must chain to (default-server ca-file); default the system's" })),
          verify: opt(lits(['required', 'none'], 'check the peer certificate chain (required)')),
        },
        'TLS on every peer link: the listener serves certificate, the dialler checks the peer against ca_file',
      ),
    ),
    sync_all_tables: opt(Type.Boolean({ description: 'every stick table without its own "peers" word is replicated with this section (the seed\'s session_synchronization)' })),
    options: opt(Type.Array(Type.String({ description: 'HAProxy peers-section line: "peer lb1 10.0.0.1:10000", "bind :10000", "disabled"; tslb adds "secret <text>"' }))),
  },
  'HAProxy peers section: stick tables naming it (`peers <name>`) are replicated between its members',
);
/** Addresses or CIDR networks (IPv4, IPv6) allowed to reach an admin listener; others are refused before any handler. */
const AdminAllow = Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'source addresses or networks allowed (e.g. 127.0.0.1/8, ::1); others get 403 (HTTP) or are closed' });

const RuntimeApiSchema = obj({
  socket: opt(Type.String()),
  mode: opt(multi<string | number>(['string', 'integer'], { pattern: '^0?[0-7]{3}$' }, 'unix socket mode, octal: "660"')),
  level: opt(lits(['user', 'operator', 'admin'])),
  tcp: opt(Listen),
  /** Who may connect to the tcp listener (the unix socket is guarded by its mode). */
  allow: opt(AdminAllow),
});

const StatsSchema = obj({
  bind: Listen,
  uri: opt(Type.String()),
  username: opt(Type.String({ minLength: 1, description: 'stats page login, with password (both or neither)' })),
  password: opt(Type.String({ minLength: 1 })),
  refresh: opt(Time),
  admin: opt(Type.Boolean()),
  allow: opt(AdminAllow),
  /** HAProxy lines: `stats http-request deny unless { src … }` (or `http-request deny if !{ src … }`), an allow list. */
  options: opt(Type.Array(Type.String())),
});

const PrometheusSchema = obj({
  bind: Listen,
  uri: opt(Type.String()),
  prefix: opt(lits(['tslb', 'haproxy'])),
  allow: opt(AdminAllow),
  options: opt(Type.Array(Type.String())),
});

const MailersSchema = obj(
  {
    host: opt(Type.String({ minLength: 1, description: 'SMTP server (default 127.0.0.1)' })),
    port: opt(Port),
    secure: opt(Type.Boolean({ description: 'TLS from the start (SMTPS, usually port 465); otherwise STARTTLS when offered' })),
    from: opt(Type.String({ minLength: 1 })),
    to: opt(multi<string | string[]>(['string', 'array'], { items: { type: 'string' }, minLength: 1 }, 'recipient(s): "a@x, b@y" or a list')),
    level: opt(lits(['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'], 'send messages this severe or more (default alert)')),
    user: opt(Type.String()),
    pass: opt(Type.String()),
  },
  'e-mail alerts on server state changes (HAProxy mailers + email-alert)',
);

// ---------------------------------------------------------------- the seed's Proxy shape

const SeedBackendSchema = obj({
  name: Name,
  ssl_sni: opt(Type.String()),
  mode: opt(Mode),
  balance: opt(Type.String()),
  option: opt(Type.String()),
  server_name: Name,
  server_host_ip: Type.String({ minLength: 1 }),
  server_port: Port,
  server_ops: opt(Type.String()),
});

const SeedSchema = obj(
  {
    proxy_version: opt(Type.String()),
    proxy_lib: opt(Type.String()),
    proxy_cfg_file: opt(Type.String()),
    run_user: opt(Type.String()),
    run_group: opt(Type.String()),
    run_user_home: opt(Type.String()),
    https_in_binds: opt(
      Type.Array(obj({ ip: Type.String({ minLength: 1 }), port: Port, ssl: opt(Type.Boolean()), accept_proxy: opt(Type.Boolean()) })),
    ),
    https_options: opt(StrList),
    https_log_format: opt(Type.String()),
    backends: opt(Type.Array(SeedBackendSchema)),
    routing_rules: opt(Type.Array(obj({ condition: Condition, backend: Name }))),
    tcp_services: opt(Type.Array(obj({ bind_port: Port, backend: Name }))),
    ssl: opt(
      obj({
        enabled: opt(Type.Boolean()),
        certificate_path: opt(Type.String()),
        certificate_file: opt(Type.String()),
        protocols: opt(Type.String({ description: 'space-separated TLS versions, e.g. "TLSv1.2 TLSv1.3"' })),
        ciphers: opt(Type.String()),
        redirect_http_to_https: opt(Type.Boolean()),
        redirect_code: opt(RedirectCode),
        hsts_enabled: opt(Type.Boolean()),
        hsts_max_age: opt(Type.Integer({ minimum: 0, maximum: MAX_INT, description: 'seconds' })),
        hsts_include_subdomains: opt(Type.Boolean()),
        hsts_preload: opt(Type.Boolean()),
      }),
    ),
    performance: opt(
      obj({
        maxconn: opt(Conns),
        nbproc: opt(Workers),
        cpu_map: opt(Type.String()),
        tune_ssl_default_dh_param: opt(Type.Integer({ minimum: 1024, maximum: 16384, description: 'bits' })),
        tune_bufsize: opt(Type.Integer({ minimum: 1, maximum: MAX_SIZE })),
        tune_maxrewrite: opt(Type.Integer({ minimum: 0, maximum: MAX_SIZE })),
      }),
    ),
    ha_config: opt(
      obj({
        keepalived: opt(
          obj({
            enabled: opt(Type.Boolean()),
            virtual_ip: opt(Type.String()),
            interface: opt(Type.String()),
            priority: opt(Vrrp),
            advert_int: opt(Vrrp),
            auth_pass: opt(Type.String()),
            virtual_router_id: opt(Vrrp),
          }),
        ),
        peers: opt(Type.Array(obj({ name: Name, ip: Type.String(), port: opt(Port) }))),
        peers_secret: opt(Type.String({ minLength: 16, description: 'tslb addition: the shared secret of the peers connections' })),
        stick_tables: opt(multi<boolean | Record<string, unknown>>(['boolean', 'object'], {}, 'true, or stick-table settings')),
        session_synchronization: opt(Type.Boolean()),
      }),
    ),
    monitoring: opt(
      obj({
        stats: opt(
          obj({
            enabled: opt(Type.Boolean()),
            bind_ip: opt(Type.String()),
            bind_port: opt(Port),
            uri: opt(Type.String()),
            username: opt(Type.String({ minLength: 1, description: 'stats page login, with password (both or neither)' })),
            password: opt(Type.String({ minLength: 1 })),
            refresh: opt(Time),
            admin: opt(Type.Boolean()),
          }),
        ),
        prometheus: opt(obj({ enabled: opt(Type.Boolean()), bind_ip: opt(Type.String()), bind_port: opt(Port), uri: opt(Type.String()) })),
        health_checks: opt(
          obj({
            enabled: opt(Type.Boolean()),
            log_health_checks: opt(Type.Boolean()),
            email_alerts: opt(Type.String()),
            interval: opt(Time),
            rise: opt(RiseFall),
            fall: opt(RiseFall),
            timeout: opt(Time),
          }),
        ),
      }),
    ),
    timeouts: opt(TimeoutsSchema),
  },
  "the seed document's Proxy shape",
);

export const ConfigFileSchema = Type.Object(
  {
    global: opt(GlobalSchema),
    defaults: opt(DefaultsSchema),
    frontends: opt(Type.Array(FrontendSchema)),
    backends: opt(Type.Array(BackendSchema)),
    runtime_api: opt(RuntimeApiSchema),
    stats: opt(StatsSchema),
    prometheus: opt(PrometheusSchema),
    mailers: opt(MailersSchema),
    resolvers: opt(Type.Array(ResolversSchema)),
    peers: opt(Type.Array(PeersSchema)),
    userlists: opt(Type.Array(UserlistSchema)),
    caches: opt(Type.Array(CacheSchema)),
    http_errors: opt(Type.Array(HttpErrorsSchema)),
    proxy: opt(SeedSchema),
  },
  { additionalProperties: false, title: 'tslb configuration', $id: 'https://github.com/tslb/tslb/config/tslb.schema.json' },
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
/** The native part of a file (everything but `proxy:`), which the seed adapter also produces. */
export type NativeConfig = Omit<ConfigFile, 'proxy'>;
export type SeedProxy = Static<typeof SeedSchema>;
export type FrontendInput = Static<typeof FrontendSchema>;
export type BackendInput = Static<typeof BackendSchema>;
export type ServerInput = Static<typeof ServerSchema>;
export type HttpRuleInput = Static<typeof HttpRuleSchema>;
export type AnswerInput = Static<typeof AnswerSchema>;
export type UserlistInput = Static<typeof UserlistSchema>;
export type CacheInput = Static<typeof CacheSchema>;
export type HttpErrorsInput = Static<typeof HttpErrorsSchema>;
export type ErrorReplyInput = Static<typeof ErrorReplySchema>;
export type TcpRequestInput = Static<typeof TcpRequestSchema>;
export type TimeoutsInput = Static<typeof TimeoutsSchema>;
export type DefaultsInput = Static<typeof DefaultsSchema>;
export type GlobalInput = Static<typeof GlobalSchema>;
export type MailersInput = Static<typeof MailersSchema>;
export type ResolversInput = Static<typeof ResolversSchema>;
export type PeersInput = Static<typeof PeersSchema>;
export type ServerTemplateInput = Static<typeof ServerTemplateSchema>;
