/**
 * Schema of a backend: balance, health check, servers and server templates (with their
 * DNS keywords), persistence and the backend's rules and features.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_WEIGHT } from './limits';
import { Conns, Mode, Name, Port, Retries, RiseFall, StrList, Time, TimeoutsSchema, lits, multi, obj, opt } from './schema-values';
import { HttpRuleSchema } from './schema-http-rules';
import { ErrorFiles, ErrorReplySchema } from './schema-error-pages';
import { CompressionSchema, ForwardForSchema } from './schema-http-features';
import { StickTableSchema } from './schema-protection';

export interface BalanceInput {
  algorithm: string;
  args?: string[];
  hash_type?: 'map-based' | 'consistent';
}
export const BalanceSchema = multi<string | BalanceInput>(
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
  connect?: string;
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
      connect: { type: 'string', description: 'http: an http-check connect line without "http-check connect": "proto h2", "default alpn h2,http/1.1"' },
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

export const BackendSchema = obj({
  name: Name,
  mode: opt(Mode),
  balance: opt(BalanceSchema),
  health_check: opt(HealthCheckSchema),
  servers: opt(Type.Array(ServerSchema)),
  server_templates: opt(Type.Array(ServerTemplateSchema)),
  retries: opt(Retries),
  redispatch: opt(Type.Boolean()),
  all_backups: opt(Type.Boolean()),
  buffer_request: opt(Type.Boolean({ description: 'buffer the request body (up to buf_size) before this backend\'s http_request rules (HAProxy option http-buffer-request)' })),
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

export type BackendInput = Static<typeof BackendSchema>;
export type ServerInput = Static<typeof ServerSchema>;
export type ServerTemplateInput = Static<typeof ServerTemplateSchema>;
