/**
 * Schema of the primary's own services: the runtime API, the stats page, the
 * Prometheus endpoint (each with its admin allow list) and e-mail alerts
 * (src/config/services.ts builds them).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Listen, Port, Time, lits, multi, obj, opt } from './schema-values';

/** Addresses or CIDR networks (IPv4, IPv6) allowed to reach an admin listener; others are refused before any handler. */
const AdminAllow = Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'source addresses or networks allowed (e.g. 127.0.0.1/8, ::1); others get 403 (HTTP) or are closed' });

export const RuntimeApiSchema = obj({
  socket: opt(Type.String()),
  mode: opt(multi<string | number>(['string', 'integer'], { pattern: '^0?[0-7]{3}$' }, 'unix socket mode, octal: "660"')),
  level: opt(lits(['user', 'operator', 'admin'])),
  tcp: opt(Listen),
  /** Who may connect to the tcp listener (the unix socket is guarded by its mode). */
  allow: opt(AdminAllow),
});

export const StatsSchema = obj({
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

export const PrometheusSchema = obj({
  bind: Listen,
  uri: opt(Type.String()),
  prefix: opt(lits(['tslb', 'haproxy'])),
  allow: opt(AdminAllow),
  options: opt(Type.Array(Type.String())),
});

export const MailersSchema = obj(
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

export type MailersInput = Static<typeof MailersSchema>;
