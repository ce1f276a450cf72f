/**
 * Schema of a frontend: its binds (with TLS), routing, rules, logging and the
 * per-frontend features, put together from the pieces in the other schema-*.ts files.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_SIZE } from './limits';
import { Condition, Conns, Mode, Name, Port, Size, StrList, Time, TimeoutsSchema, TlsVersion, lits, multi, obj, opt } from './schema-values';
import { HttpRuleSchema, UseBackendSchema } from './schema-http-rules';
import { ErrorFiles, ErrorReplySchema } from './schema-error-pages';
import { CompressionSchema, ForwardForSchema, HstsSchema, HttpsRedirectSchema, SecurityHeadersSchema } from './schema-http-features';
import { AccessSchema, ProtectionSchema, StickTableSchema, TcpRequestSchema } from './schema-protection';

export const LogSchema = obj({
  format: opt(Type.String({ description: 'json, httplog, tcplog, or a custom log-format string' })),
  dontlognull: opt(Type.Boolean()),
  log_health_checks: opt(Type.Boolean()),
  enabled: opt(Type.Boolean()),
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

export const FrontendSchema = obj({
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
  buffer_request: opt(Type.Boolean({ description: 'buffer the request body (up to buf_size) before the http_request rules, for req.body fetches (HAProxy option http-buffer-request)' })),
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
  access: opt(AccessSchema),
  /** A one-line protection preset (src/config/protection.ts PUBLIC_PRESET); its numbers can be given. */
  protection: opt(ProtectionSchema),
});

export type FrontendInput = Static<typeof FrontendSchema>;
