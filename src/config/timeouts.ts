/**
 * Timeouts resolved as HAProxy does: a section's over the defaults', where 0 is
 * "unset". connect, client and server of 0 mean no timeout (unset, tslb's defaults
 * apply); the others fall back to the timeout HAProxy uses in their place.
 */
import type { Mode, Timeouts } from './model';
import type { TimeoutsInput } from './schema-values';

/** Timeouts as a section (or `defaults`) gives them, in ms; absent keys are unset. */
export type GivenTimeouts = Partial<Record<keyof TimeoutsInput, number>>;

/** tslb's values for timeouts a config leaves unset (HAProxy has none and warns). */
const DEFAULT_TIMEOUTS = { connect: 5000, client: 50_000, server: 50_000, httpRequest: 10_000 };

/**
 * An unset or 0 http_request, queue, client_fin, server_fin falls back to client, connect,
 * client, server (queue: the section's own connect); http_keep_alive to http_request.
 * tunnel and check stay 0 when unset (see model.ts Timeouts).
 */
export function resolveTimeouts(defaults: GivenTimeouts, own: GivenTimeouts): Timeouts {
  const t = { ...defaults, ...own };
  const connect = t.connect ?? DEFAULT_TIMEOUTS.connect;
  const client = t.client ?? DEFAULT_TIMEOUTS.client;
  const server = t.server ?? DEFAULT_TIMEOUTS.server;
  const httpRequest = (t.http_request ?? DEFAULT_TIMEOUTS.httpRequest) || client;
  return {
    connect,
    client,
    server,
    httpRequest,
    httpKeepAlive: t.http_keep_alive || httpRequest,
    queue: t.queue || connect,
    tunnel: t.tunnel ?? 0,
    check: t.check ?? 0,
    clientFin: t.client_fin || client,
    serverFin: t.server_fin || server,
    tarpit: t.tarpit || connect,
  };
}

type Essential = 'connect' | 'client' | 'server';

/** What no timeout lets happen, for HAProxy's "missing timeouts" warning. */
export const NO_TIMEOUT_EFFECT: Record<Essential, string> = {
  connect: 'a connection to an unreachable server waits for the system to give up',
  client: 'a client that stalls keeps its connection forever',
  server: 'a server that never answers holds its request forever',
};

/**
 * HAProxy's "missing timeouts": a frontend without client timeout, a backend with servers
 * without connect or server timeout (a tcp backend's `timeout tunnel` stands for server).
 */
export function missingTimeouts(kind: 'frontend' | 'backend', mode: Mode, t: Timeouts): Essential[] {
  if (kind === 'frontend') return t.client === 0 ? ['client'] : [];
  const missing: Essential[] = [];
  if (t.connect === 0) missing.push('connect');
  if (t.server === 0 && (mode === 'http' || t.tunnel === 0)) missing.push('server');
  return missing;
}
