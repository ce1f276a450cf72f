/**
 * The primary's HTTP listeners (stats page, Prometheus). The same event loop runs the
 * health checks and supervises the workers, so what a flood of admin connections can
 * hold is bounded: a connection cap, and deadlines for a request's head and whole request.
 */
import * as http from 'node:http';
import type * as net from 'node:net';

/**
 * Dashboards and scrapers use a handful of connections (a live stats page holds one
 * WebSocket); a few hundred leave room for many of them while bounding a flood, which
 * held ~9 KiB of the primary per connection (4,000 slowloris connections: +36 MB).
 * Connections past the cap are closed as they are accepted.
 */
export const ADMIN_MAX_CONNECTIONS = 256;
/**
 * HAProxy's usual `timeout http-request` is 10 s, for clients on the Internet; browsers,
 * curl and Prometheus send an admin request's head at once, so half of that is still
 * generous and halves how long a slowloris holds one of the capped connections.
 */
export const ADMIN_HEAD_TIMEOUT = 5_000;
/** Head and body: the stats page's admin form is a few KiB. */
const ADMIN_REQUEST_TIMEOUT = 10_000;
/** How often node:http looks for connections past those deadlines (its default, 30 s, would let them live 6 times as long). */
const DEADLINE_CHECK_INTERVAL = 1_000;

export function createAdminHttpServer(handler: http.RequestListener): http.Server {
  const server = http.createServer(
    { headersTimeout: ADMIN_HEAD_TIMEOUT, requestTimeout: ADMIN_REQUEST_TIMEOUT, connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL },
    handler,
  );
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  return server;
}

/** Listens, rejecting with the bind error (EADDRINUSE…) instead of emitting it. */
export function listen(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
