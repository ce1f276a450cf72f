/**
 * The normalised, typed configuration model.
 *
 * Produced by the config loader (src/config/load.ts) from either the native YAML
 * format or the seed's `proxy:` shape, and sent as-is (JSON over IPC) to every
 * worker. It therefore holds only plain data: no Maps, RegExps or functions.
 * Workers compile it into runtime objects; they never see config text.
 *
 * All durations are milliseconds, all sizes bytes.
 */

export * from './model-http-rules';
import type { ErrorPage, HttpRule } from './model-http-rules';

export * from './model-conditions';
import type { Condition, ParsedSample, PatternFile } from './model-conditions';

export * from './model-tls';
import type { TlsBindOptions, ServerTlsOptions } from './model-tls';

export * from './model-stick';
import type { StickRule, StickTableDef, SourceFromHeader, TcpRequestRule } from './model-stick';

export type Mode = 'http' | 'tcp';

/** Where a config value came from, for messages that point back at the file. */
export interface SourceRef {
  file: string;
  line: number;
  column: number;
  /** Key path inside the file, e.g. `backends[2].servers[0].port`. */
  path: string;
}

/**
 * Timeouts in ms, with HAProxy's fallbacks already resolved by the loader (an unset
 * http_request is the client timeout, an unset queue the connect timeout…). 0 means no
 * timeout, as in HAProxy: the worker arms no deadline or timer for it
 * (src/worker/deadline.ts), it never expires at once. At most 2^31-1 (Node's timer limit).
 */
export interface Timeouts {
  connect: number;
  client: number;
  server: number;
  httpRequest: number;
  httpKeepAlive: number;
  queue: number;
  /** 0 = unset: the client and server timeouts apply to tunnels. */
  tunnel: number;
  /** 0 = unset: inter bounds the whole check (with it set, the connect gets min(connect, inter)). */
  check: number;
  /** Inactivity after the client (server) shut its side of a tcp connection. */
  clientFin: number;
  serverFin: number;
  /** How long `http-request tarpit` holds a request before its 500 (unset: connect, as HAProxy). */
  tarpit: number;
}

// ---------------------------------------------------------------- frontends
export interface Bind {
  address: string;
  port: number;
  /** Present when TLS is terminated on this bind. */
  tls?: TlsBindOptions;
  /** `accept-proxy`: a PROXY protocol v1/v2 header precedes the stream. */
  acceptProxy: boolean;
  /** Plain bind speaking HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1 (HAProxy's `proto h2`). */
  h2c: boolean;
  source?: SourceRef;
}

export interface UseBackendRule {
  /** The backend name, or the template as written when `backendName` is set. */
  backend: string;
  /**
   * A dynamic name (`%[req.hdr(host),lower,map(hosts.map,www)]`): literal parts and
   * samples, joined per request. A name naming no backend of the frontend's mode
   * sends the request to the default backend, as HAProxy does.
   */
  backendName?: (string | ParsedSample)[];
  condition: Condition;
  /** The condition as written, e.g. `hdr(host) -i api.company.com`. */
  text: string;
  source?: SourceRef;
}

export interface ForwardFor {
  header: string;
  /** Only add the header when the request has none. */
  ifNone: boolean;
  /** Sources (CIDR or address) for which no header is added. */
  except: string[];
}

export interface LogSettings {
  /** `json` (pino object per request), HAProxy `httplog`/`tcplog`, or a custom `log-format`. */
  format: 'json' | 'httplog' | 'tcplog' | 'custom';
  /** The log-format template when format is `custom` (HAProxy variables). */
  template?: string;
  dontLogNull: boolean;
  logHealthChecks: boolean;
  enabled: boolean;
}

export interface Frontend {
  name: string;
  mode: Mode;
  binds: Bind[];
  defaultBackend?: string;
  useBackend: UseBackendRule[];
  /** For TLS-terminated http frontends: SNI/Host → backend, from backends' ssl_sni. */
  hostBackends: { host: string; backend: string }[];
  httpRules: HttpRule[];
  /** Some backend's http-request rules track stick counters: this frontend's pipeline counts their requests and ends them. */
  backendsTrack?: boolean;
  /** Request capture slots of `http-request capture` rules (%hr shows one value per slot). */
  captureSlots?: number;
  timeouts: Timeouts;
  /** Per-frontend connection limit (0 = only the global limit). */
  maxconn: number;
  /**
   * HAProxy `tcp-request inspect-delay` (ms): how long a tcp frontend whose routing
   * reads the ClientHello (req_ssl_sni…) waits for it. Unset: 5 s.
   */
  inspectDelay?: number;
  forwardFor?: ForwardFor;
  /** Add X-Forwarded-Proto / X-Forwarded-Host (on by default for http). */
  forwardedProto: boolean;
  forwardedHost: boolean;
  log: LogSettings;
  /** The pages tslb answers a status with (errorfile, http-error…: src/config/error-pages.ts), by status. */
  errorFiles: Record<string, ErrorPage>;
  /** Largest request head accepted before 431 (HAProxy's tune.bufsize - tune.maxrewrite). */
  maxHeaderBytes: number;
  /** Every `option` word as written, for features that read them. */
  options: string[];
  /** Plain-HTTP requests are redirected to https (the seed's redirect_http_to_https). */
  httpsRedirect?: HttpsRedirect;
  /** Strict-Transport-Security on every response over TLS, tslb's own answers included. */
  hsts?: Hsts;
  /** HAProxy `monitor-uri`: tslb answers this URI itself, 200, or 503 when a `monitor fail` condition holds. */
  monitor?: Monitor;
  /** The security-headers preset, resolved: what it adds and removes (its HSTS is `hsts`). */
  securityHeaders?: SecurityHeaders;
  /** HTTP response compression; a backend's replaces its frontend's. */
  compression?: Compression;
  stickTable?: StickTableDef;
  tcpRequest?: TcpRequestRule[];
  /** `rate-limit sessions N`: new sessions per second over all workers (0 or absent: none); the excess waits. */
  rateLimitSessions?: number;
  /** Largest request body in bytes (`max_body_size`), enforced by the HTTP/1 body framer while streaming. */
  maxBodySize?: number;
  /** `option http-buffer-request` (`buffer_request`): the request body is buffered before the http-request rules (src/http/modules/buffer-request.ts). */
  bufferRequest?: boolean;
  /** `source_from_header`: from a trusted peer, the header's right-most untrusted address is the source (src/http/modules/source-from-header.ts). */
  sourceFromHeader?: SourceFromHeader;
  source?: SourceRef;
}

export interface HttpsRedirect {
  code: 301 | 302 | 303 | 307 | 308;
  /** The port a Host naming the request's own port (or none) gets instead; 443 is left out. */
  port: number;
}

export interface SecurityHeaders {
  /** Header lines added to responses that lack them (a server's own header is kept). */
  add: { name: string; value: string }[];
  /** Header names removed from servers' responses (lower case). */
  remove: string[];
}

export interface Monitor {
  uri: string;
  /** `monitor fail` conditions (`unless` ones negated): any that holds makes the answer 503. */
  fail: Condition[];
}

export interface Hsts {
  maxAge: number;
  includeSubDomains: boolean;
  preload: boolean;
}

// ---------------------------------------------------------------- backends
export interface Balance {
  /** roundrobin, static-rr, leastconn, source, uri, url_param, hdr, random, first. */
  algorithm: string;
  /** Algorithm arguments (`whole`, `len 4`, a url_param name, a header name…). */
  args: string[];
  hashType: 'map-based' | 'consistent';
}

export interface ServerCheck {
  enabled: boolean;
  inter: number;
  fastinter: number;
  downinter: number;
  rise: number;
  fall: number;
  port?: number;
  addr?: string;
  /** Check over TLS (`check-ssl`). */
  ssl: boolean;
  sni?: string;
  /**
   * What HTTP checks speak: `h2` (`check-proto h2`, or a `proto h2` server: h2c prior
   * knowledge, or h2 offered alone by ALPN over TLS), `alpn` (a TLS check offering the
   * server's `alpn` list speaks the server's pick). Absent: HTTP/1.x.
   */
  proto?: 'h2' | 'alpn';
  /** `check-alpn`: the ALPN list of an `alpn` check instead of the server's. */
  alpn?: string[];
  /** `agent-check` with `agent-port`/`agent-addr`/`agent-inter`/`agent-send`. */
  agent?: AgentCheck;
  /** `observe layer4|layer7` with `error-limit` and `on-error`: errors seen on live traffic count (needs `check`). */
  observe?: PassiveCheck;
  /** `on-marked-down shutdown-sessions`: sessions on the server are cut when it goes DOWN. */
  onMarkedDown?: 'shutdown-sessions';
  /** `on-marked-up shutdown-backup-sessions`: sessions on the backend's backup servers are cut when this one comes UP. */
  onMarkedUp?: 'shutdown-backup-sessions';
}

/** HAProxy's passive health: what live traffic counts as an error, and what `error-limit` of them in a row does. */
export interface PassiveCheck {
  /** layer4: connection errors and timeouts; layer7: also invalid responses, read errors/timeouts and 5xx (not 501/505). */
  layer: 'layer4' | 'layer7';
  /** Consecutive errors that trigger `onError` (HAProxy's default 10). */
  errorLimit: number;
  /** fastinter: next checks at fastinter; fail-check (default): one failed check; sudden-death: one failure left; mark-down: DOWN now. */
  onError: 'fastinter' | 'fail-check' | 'sudden-death' | 'mark-down';
}

export interface AgentCheck {
  port: number;
  addr?: string;
  inter: number;
  /** String sent to the agent after connecting. */
  send?: string;
}

export interface Server {
  name: string;
  /** Numeric id inside its backend (HAProxy `sid`), from 1. */
  id: number;
  address: string;
  port: number;
  weight: number;
  backup: boolean;
  /** 0 = unlimited. */
  maxconn: number;
  /** 0 = unlimited. */
  maxqueue: number;
  disabled: boolean;
  slowstart: number;
  cookie?: string;
  check: ServerCheck;
  tls: ServerTlsOptions;
  /** PROXY protocol version sent to the server: 0 = none. */
  sendProxy: 0 | 1 | 2;
  /**
   * HTTP/2 to the server (src/http2/upstream-pool.ts): `always` (`proto h2`: h2c prior
   * knowledge, or h2 over TLS), `alpn` (TLS `alpn` offering h2: whatever the server picks).
   * Absent: HTTP/1.1.
   */
  h2?: 'always' | 'alpn';
  /** `non-stick`: requests it serves are not stored in stick tables. */
  nonStick?: boolean;
  /** The `server` options as written, for features that read them later. */
  options: string;
  /**
   * Where the address comes from when it is a name (`resolvers`, `init-addr`, `server-template`).
   * Once the primary has applied `init-addr` (src/primary/init-addr.ts), `address` holds an IP,
   * or '' for none yet: the server is then in maintenance until DNS gives it one.
   */
  dns?: ServerDns;
  source?: SourceRef;
}

/** A server's name resolution, HAProxy's `resolvers`, `init-addr`, `resolve-prefer`, `resolve-opts`. */
export interface ServerDns {
  /** The host name, or the SRV label (`_http._tcp.svc.example`: address, port and weight from SRV records). */
  fqdn: string;
  /** The resolvers section that keeps resolving it at run time; absent: resolved once at start. */
  resolvers?: string;
  /** How the address is found at start, in order: `last`, `libc`, `none` or an IP. */
  initAddr: string[];
  /** The family queried first and chosen when both answer (HAProxy's default: ipv6). */
  prefer: 'ipv4' | 'ipv6';
  /** `resolve-opts allow-dup-ip`: may take an address another server resolving the same name already has. */
  allowDupIp: boolean;
  /** `resolve-opts ignore-weight`: SRV records do not set the server's weight. */
  ignoreWeight: boolean;
  /** Made by this `server-template` (its prefix), for `show servers state` and messages. */
  template?: string;
}

/** A `resolvers` section: HAProxy's nameservers and timers (configuration.txt 5.3.2). */
export interface Resolvers {
  name: string;
  nameservers: { name: string; address: string; port: number }[];
  /** Queries sent for one resolution before it fails (`resolve_retries`, 3). */
  resolveRetries: number;
  /** `timeout resolve` (1s): how often names are resolved; `timeout retry` (1s): wait for an answer before asking again. */
  timeoutResolve: number;
  timeoutRetry: number;
  /** `hold <status>` in ms: how long a failure is ignored after the last valid answer (nx, timeout, refused, other: 30s); obsolete: SRV records kept after they vanish (0); valid: 10s. */
  hold: { valid: number; nx: number; timeout: number; refused: number; other: number; obsolete: number };
  /** `accepted_payload_size` (512). */
  acceptedPayloadSize: number;
  source?: SourceRef;
}

/** `http-check connect [default] [proto h1|h2] [alpn <list>]`: the check's protocol (../checks/http.ts). */
export interface HttpCheckConnect {
  /** `default`: the server's check-proto / check-alpn / proto apply where the line gives none (without it they do not, as in HAProxy). */
  useDefault: boolean;
  proto?: 'h1' | 'h2';
  alpn?: string[];
}

export interface HttpCheckSpec {
  method: string;
  uri: string;
  version: string;
  headers: { name: string; value: string }[];
  body?: string;
  /** `http-check connect`; absent: the server's check protocol. */
  connect?: HttpCheckConnect;
  /** `http-check expect`; default: status 200-399. */
  expect?: {
    kind: 'status' | 'rstatus' | 'string' | 'rstring' | 'hdr';
    negate: boolean;
    /** Status list/range, pattern, or (hdr) the header value; empty hdr value = header present. */
    value: string;
    /** `expect hdr name <header>`. */
    header?: string;
    /** `expect hdr ... value -m <method>` (default str). */
    headerMatch?: 'str' | 'beg' | 'end' | 'sub' | 'reg';
  };
}

export type TcpCheckStep =
  | { step: 'connect'; port?: number; ssl?: boolean }
  | { step: 'send'; data: string }
  | { step: 'send-binary'; hex: string }
  | { step: 'expect'; kind: 'string' | 'rstring' | 'binary'; negate: boolean; value: string; minRecv?: number };

export interface HealthCheck {
  kind: 'tcp' | 'http' | 'tcp-check' | 'mysql' | 'pgsql' | 'redis' | 'smtp' | 'ssl-hello' | 'ldap' | 'external';
  http?: HttpCheckSpec;
  tcpSteps?: TcpCheckStep[];
  /** mysql-check / pgsql-check user. */
  user?: string;
  mysqlPost41?: boolean;
  /** `option smtpchk HELO|EHLO <domain>`; default `HELO localhost`. */
  smtpHello?: string;
  /** `option external-check` + `external-check command <cmd>` / `external-check path <PATH>`. */
  external?: { command: string; path?: string };
  /** The option text as written. */
  text: string;
}

export interface Backend {
  name: string;
  /** Proxy id (HAProxy `iid`), numbered from 1 in config order together with frontends. */
  id: number;
  mode: Mode;
  balance: Balance;
  servers: Server[];
  healthCheck: HealthCheck;
  timeouts: Timeouts;
  /** Connection attempts after the first failed one. */
  retries: number;
  /** Allow a retry to go to another server. */
  redispatch: boolean;
  /** `option allbackups`. */
  allBackups: boolean;
  forwardFor?: ForwardFor;
  httpRules: HttpRule[];
  /** Host names this backend serves (seed `ssl_sni`). */
  hostNames: string[];
  errorFiles: Record<string, ErrorPage>;
  options: string[];
  /** `cookie NAME insert|rewrite|prefix ...`: cookie-based persistence (http). */
  cookie?: CookiePersistence;
  /** `stick on <fetch>`: stored in this backend's `stickTable`. */
  stick?: StickRule;
  stickTable?: StickTableDef;
  /** HTTP response compression, used instead of the frontend's for the requests routed here. */
  compression?: Compression;
  /** `option http-buffer-request`: the request body is buffered before this backend's http-request rules. */
  bufferRequest?: boolean;
  source?: SourceRef;
}

export type CompressionAlgo = 'gzip' | 'deflate' | 'raw-deflate' | 'br' | 'zstd';

/** HTTP response compression (HAProxy `compression algo|type|offload|minsize-res`), src/http/modules/compression.ts. */
export interface Compression {
  /** Codings offered, in order (the first wins between equal q-values). */
  algos: CompressionAlgo[];
  /** Content-Type prefixes compressed, lower case; empty: any type but multipart. */
  types: string[];
  /** A response whose Content-Length is below this goes out as it is. */
  minSize: number;
  /** 1..9: zlib's level; brotli's quality and zstd's level take it as is. */
  level: number;
  /** Remove Accept-Encoding from the request to the server when tslb compresses. */
  offload: boolean;
}

export interface CookiePersistence {
  name: string;
  mode: 'insert' | 'rewrite' | 'prefix';
  /** Remove the cookie before the server sees it (insert), and insert only when it is missing or wrong. */
  indirect: boolean;
  /** Add `Cache-Control: private` to responses that get the cookie. */
  nocache: boolean;
  httpOnly: boolean;
  secure: boolean;
  domain?: string;
  /** ms; 0 = no limit. Inserted cookies then carry a date and expire after this idle time / age. */
  maxIdle: number;
  maxLife: number;
}

// ---------------------------------------------------------------- global / services
export interface RuntimeApiSettings {
  /** Unix socket path (seed: `<proxy_lib>/stats`). */
  socketPath?: string;
  mode: number;
  level: 'user' | 'operator' | 'admin';
  /** Optional TCP listener on loopback. */
  tcp?: { address: string; port: number };
  /** Sources allowed on the tcp listener (addresses, CIDR); absent: all. */
  allow?: string[];
}

export interface StatsPageSettings {
  address: string;
  port: number;
  uri: string;
  username?: string;
  password?: string;
  refresh: number;
  admin: boolean;
  /** Sources allowed (addresses, CIDR); others get 403. Absent: all. */
  allow?: string[];
}

export interface PrometheusSettings {
  address: string;
  port: number;
  uri: string;
  prefix: 'tslb' | 'haproxy';
  /** Sources allowed (addresses, CIDR); others get 403. Absent: all. */
  allow?: string[];
}

export interface Global {
  /** Number of event-loop workers. */
  workers: number;
  user?: string;
  group?: string;
  pidfile?: string;
  /** State directory (seed `proxy_lib`). */
  stateDir?: string;
  /** Global connection limit per process tree (0 = unlimited). */
  maxconn: number;
  /** How long in-flight work may take on stop/reload before it is cut. */
  gracePeriod: number;
  /** How connections reach workers: SO_REUSEPORT, cluster round robin, or a shared accept socket. */
  acceptMode: 'auto' | 'reuseport' | 'rr' | 'shared';
  /** HAProxy tune.bufsize: with max_rewrite it bounds request heads (Frontend.maxHeaderBytes). */
  bufSize: number;
  /** Header lines in one head (HAProxy tune.http.maxhdr): a request with more gets 431, a response with more 502. */
  maxHeaders: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Access-log destination: `stdout`, a file path. */
  accessLog: string;
  /** How often (ms) the primary looks for replaced certificate files to serve; 0 = never. */
  certWatch: number;
  /** A served certificate that expires within this many days is a warning at start, reload and replacement. */
  certExpiryWarningDays: number;
  acme?: AcmeSettings;
  /** HTTP/2 frontend settings (HAProxy's tune.h2.*). */
  h2: H2Settings;
  /** HAProxy's maxcomprate: kB/s into the node's compressors; 0 or absent = no limit (src/http/compression-limits.ts). */
  maxCompRate?: number;
  /** HAProxy's maxcompcpuusage: percent of a worker's time; 100 or absent = no limit. */
  maxCompCpuUsage?: number;
}

/** ACME (RFC 8555): one certificate for `names`, obtained and renewed by the primary (src/primary/acme.ts). */
export interface AcmeSettings {
  directory: string;
  email?: string;
  names: string[];
  /** Absolute: the account key and the certificate live here, mode 600. */
  stateDir: string;
  /** Absolute path of the bundle written and served (a TLS bind lists it in its certificates). */
  certificate: string;
  renewBeforeDays: number;
  challenge: 'http-01';
  /** PEM of the CAs trusted for the directory's HTTPS; undefined: the system's. */
  ca?: string;
}

export interface H2Settings {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams past it are refused. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's request-body window. */
  initialWindowSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, enforced after HPACK decoding (431). */
  maxHeaderListSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK decoder's table (tune.h2.header-table-size). */
  headerTableSize: number;
}

/** A field accepted and carried, but whose feature belongs to a later issue. */
export interface PendingFeature {
  area: string;
  path: string;
  message: string;
  value: unknown;
}

/** A `peers` section (HAProxy configuration.txt 11.2): the nodes that replicate the stick tables naming it. */
export interface PeersSection {
  name: string;
  /** This node's peer name (section `local`, global `localpeer`, else the host name). */
  local: string;
  /** Where this node listens for its peers: its own `peer` line's address, or `bind` (port 0 in a section disabled for want of one). */
  listen: { address: string; port: number };
  /** The other members, which this node connects to. */
  remotes: { name: string; address: string; port: number }[];
  /** Shared secret each connection proves (HMAC challenge-response); absent: connections are not authenticated, as HAProxy's. */
  secret?: string;
  /** TLS on every link of the section (`bind … ssl crt`, `default-server ssl`): this node's certificate and what it trusts. */
  tls?: PeersTls;
  disabled: boolean;
  source?: SourceRef;
}

export interface PeersTls {
  /** PEM of this node's certificate (with its chain) and key, served to the peers that dial it. */
  cert: string;
  key: string;
  /** PEM of the CAs a dialled peer's certificate must chain to (absent: the system's). */
  ca?: string;
  /** Check the dialled peer's certificate chain (`verify required`, the default); its name is not checked (peers are addressed by IP). */
  verify: boolean;
}

/** A `userlist` section: users checked by `http_auth(name)` and the `auth` action. */
export interface Userlist {
  name: string;
  /** `password` is a crypt(3) hash; `insecurePassword` the password itself. */
  users: { name: string; password?: string; insecurePassword?: string }[];
}

/** A `cache` section (HAProxy's configuration.txt 6.2.1): each worker holds its share (src/http/cache/store.ts). */
export interface CacheSettings {
  name: string;
  /** `total-max-size` in bytes (given in MB), over all workers. */
  totalMaxSize: number;
  /** `max-object-size` in bytes: larger responses are not stored. */
  maxObjectSize: number;
  /** `max-age` in seconds: the longest an object stays fresh, whatever the response says. */
  maxAge: number;
  /** `process-vary on`: responses that vary on accept-encoding, referer or origin are stored per value. */
  processVary: boolean;
  /** `max-secondary-entries`: variants kept per URL with process-vary. */
  maxSecondaryEntries: number;
}

export interface Model {
  global: Global;
  /** `cache` sections, by name in config order. */
  caches?: CacheSettings[];
  /** `userlist` sections. */
  userlists?: Userlist[];
  frontends: Frontend[];
  backends: Backend[];
  runtimeApi?: RuntimeApiSettings;
  stats?: StatsPageSettings;
  prometheus?: PrometheusSettings;
  /** `resolvers` sections, by name in config order. */
  resolvers?: Resolvers[];
  /** `peers` sections (absent: none). */
  peers?: PeersSection[];
  /** Fields carried from the seed's ha_config/monitoring that later issues implement. */
  extras: Record<string, unknown>;
  pending: PendingFeature[];
  /** Files the model was loaded from. */
  files: string[];
  /** ACL pattern files and map files used by the rules (absent: none). */
  patternFiles?: PatternFile[];
}
