/**
 * The primary's HTTP listeners (stats page, Prometheus). The same event loop runs the
 * health checks and supervises the workers, so what a flood of admin connections can
 * hold is bounded: a connection cap, and deadlines for a request's head and whole request.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { closingResponse, defaultErrorResponse } from '../http1/errors';
import { buildLookup } from '../rules/pattern-index';

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

type UpgradeListener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * An admin HTTP server. With `allow` (the settings' allowlist) a request from another
 * source gets HAProxy's 403 page and the connection closes: neither the handler nor the
 * upgrade listener (the stats page's WebSocket) sees it.
 */
export function createAdminHttpServer(handler: http.RequestListener, allow?: readonly string[], upgrade?: UpgradeListener): http.Server {
  const allowed = sourceFilter(allow);
  const server = http.createServer(
    { headersTimeout: ADMIN_HEAD_TIMEOUT, requestTimeout: ADMIN_REQUEST_TIMEOUT, connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL },
    allowed ? (req, res) => (allowed(req.socket.remoteAddress) ? handler(req, res) : forbid(res)) : handler,
  );
  if (upgrade) server.on('upgrade', allowed ? (req, socket, head) => (allowed(req.socket.remoteAddress) ? upgrade(req, socket, head) : socket.end(FORBIDDEN)) : upgrade);
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  return server;
}

/** Whether a peer may use an admin listener; undefined when every source may (no list). */
export function sourceFilter(allow: readonly string[] | undefined): ((address: string | undefined) => boolean) | undefined {
  if (!allow) return undefined;
  const lookup = buildLookup('ip', allow, false);
  return (address) => address !== undefined && lookup(address) >= 0;
}

/** HAProxy's 403 page, saying the connection closes. */
const FORBIDDEN = closingResponse(defaultErrorResponse(403));

/** The answer is the whole exchange: the connection ends after it, so the request's ServerResponse is never used. */
function forbid(res: http.ServerResponse): void {
  res.socket?.end(FORBIDDEN);
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
