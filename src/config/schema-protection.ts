/**
 * Schema of a proxy's protection: its stick table (with Redis and peers sharing),
 * tcp-request rules, source access lists and the one-line protection preset
 * (src/config/protection.ts, stick-syntax.ts build them). Apart because frontends and
 * backends both hold stick tables, and this is where abuse limits are read from.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_CONN, MAX_SIZE } from './limits';
import { Condition, Time, multi, obj, opt } from './schema-values';

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
export const StickTableSchema = multi<string | StickTableInput>(
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

/** Source address lists: connections from outside `allow` or inside `deny` are closed at accept. */
export const AccessSchema = Type.Object(
  {
    allow: opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'addresses, CIDR networks, or pattern files ("-f FILE" or a path) of them' })),
    deny: opt(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'addresses, CIDR networks, or pattern files ("-f FILE" or a path) of them' })),
  },
  { additionalProperties: false },
);

/** The one-line protection preset, "public" or with its numbers given. */
export const ProtectionSchema = Type.Union([
  Type.Literal('public'),
  Type.Object(
    {
      preset: Type.Literal('public'),
      requests_per_10s: opt(Type.Integer({ minimum: 1, maximum: MAX_SIZE, description: 'requests per address in 10 s before 429 (200)' })),
      connections_per_address: opt(Type.Integer({ minimum: 1, maximum: MAX_CONN, description: 'concurrent connections per address (50)' })),
    },
    { additionalProperties: false },
  ),
]);

export type TcpRequestInput = Static<typeof TcpRequestSchema>;
