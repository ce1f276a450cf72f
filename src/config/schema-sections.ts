/**
 * Schema of the named top-level sections that proxies refer to by name: userlists,
 * resolvers, caches and peers (HAProxy's sections of the same names).
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_RETRIES } from './limits';
import { Listen, Name, Port, Time, lits, multi, obj, opt } from './schema-values';

export const UserlistSchema = obj({
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

export const ResolversSchema = obj(
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

export const CacheSchema = obj(
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

export const PeersSchema = obj(
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

export type UserlistInput = Static<typeof UserlistSchema>;
export type CacheInput = Static<typeof CacheSchema>;
export type ResolversInput = Static<typeof ResolversSchema>;
export type PeersInput = Static<typeof PeersSchema>;
