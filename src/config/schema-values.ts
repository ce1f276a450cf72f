/**
 * The building blocks of the config schema (./schema.ts): the TypeBox helpers each
 * section's schema is written with, the scalar value nodes the sections share (times,
 * sizes, ports, names, counts…) and the timeouts block that defaults, proxies and the
 * seed all carry. Apart so that every section file draws on one small vocabulary.
 *
 * Fields that take one of several shapes (a bind as "addr:port" or a map) use a
 * multi-type node (`type: ['string', 'object']`) rather than `anyOf`, so ajv
 * reports one precise error per mistake instead of one per alternative.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_CONN, MAX_RETRIES, MAX_RISE_FALL, MAX_SIZE, MAX_TIME_MS, MAX_WORKERS } from './limits';

export const opt = Type.Optional;

/** A schema node accepting several JSON types; `T` is its static type. */
export function multi<T>(types: string[], schema: Record<string, unknown>, description: string) {
  return Type.Unsafe<T>({ type: types, ...schema, description });
}

/** A closed set of literals, reported by ajv as one `enum` error. */
export function lits<const T extends readonly (string | number)[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ enum: [...values], ...(description ? { description } : {}) });
}

export function obj<P extends Record<string, TSchema>>(props: P, description?: string) {
  return Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
}

export const Time = multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_TIME_MS }, 'HAProxy time: 5s, 500ms, 2m, 1h, 1d; a bare number is milliseconds');
export const Size = multi<string | number>(['string', 'integer'], { minimum: 0, maximum: MAX_SIZE }, 'bytes: 16384, 16k, 1m');
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });
export const Name = Type.String({ pattern: '^[A-Za-z0-9_.:-]+$', description: 'a name (letters, digits, . _ - :)' });
export const Mode = lits(['http', 'tcp']);
/** maxconn, maxqueue: 0 = unlimited. */
export const Conns = Type.Integer({ minimum: 0, maximum: MAX_CONN });
export const RiseFall = Type.Integer({ minimum: 1, maximum: MAX_RISE_FALL });
export const Retries = Type.Integer({ minimum: 0, maximum: MAX_RETRIES });
export const Workers = Type.Integer({ minimum: 1, maximum: MAX_WORKERS });
/** A VRRP field (keepalived priority, advert_int, virtual_router_id). */
export const Vrrp = Type.Integer({ minimum: 1, maximum: 255 });
export const TlsVersion = lits(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
export const Condition = Type.String({ description: 'HAProxy ACL expression, e.g. "{ path_beg /api }" or "!{ ssl_fc }"' });
export const StrList = Type.Array(Type.String());
export const Listen = Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]*|[0-9a-fA-F:]+):[0-9]+$', description: 'an address:port' });

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

export type TimeoutsInput = Static<typeof TimeoutsSchema>;
