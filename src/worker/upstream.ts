/**
 * Opening connections to servers, shared by the L4 and L7 paths: plain or TLS
 * (re-encryption), with the PROXY protocol header when the server asks for it,
 * bounded by `timeout connect` (which covers the TLS handshake too).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ServerTlsOptions } from '../config/model';
import { encodeProxyHeader } from '../proxyproto';
import { serverContextOptions } from '../tls/client';
import type { ServerRuntime } from './runtime';
import type { ConnectionInfo } from './connection';
import { timerAfter } from './deadline';
import { connectH2 } from '../http2/upstream-pool';


/**
 * One client context per server, made on its first connection: given options instead,
 * tls.connect builds a context per connection (parsing the CA file and the client key each time).
 */
const clientContexts = new WeakMap<ServerTlsOptions, tls.SecureContext>();

function clientContext(options: ServerTlsOptions): tls.SecureContext {
  let ctx = clientContexts.get(options);
  if (!ctx) {
    ctx = tls.createSecureContext(serverContextOptions(options));
    clientContexts.set(options, ctx);
  }
  return ctx;
}

/** A session waiting for its server connection (a method, so a connection costs no closure). */
export interface UpstreamWaiter {
  upstreamConnected(err: Error | null, socket?: net.Socket): void;
}

/**
 * Connects to `server`; `waiter` gets a socket ready for payload bytes: TCP
 * connected, PROXY header written (send-proxy, sent in clear before any TLS, as
 * HAProxy does), TLS handshake done when the server uses `ssl`. An HTTP/2 server
 * gives a stream of a shared connection instead (../http2/upstream-pool.ts).
 */
export function connectUpstream(server: ServerRuntime, info: ConnectionInfo, timeoutMs: number, waiter: UpstreamWaiter): void {
  if (server.config.h2 !== undefined) connectH2(server, info, timeoutMs, waiter);
  else connectSocket(server, info, timeoutMs, waiter);
}

/** A new connection to `server`, as connectUpstream describes. */
export function connectSocket(server: ServerRuntime, info: ConnectionInfo, timeoutMs: number, waiter: UpstreamWaiter): void {
  const cfg = server.config;
  const raw = net.connect({ host: server.address, port: server.port, noDelay: true });
  let socket: net.Socket = raw;
  let done = false;
  const timer = timerAfter(timeoutMs, () => finish(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
  function finish(err: Error | null): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.removeListener('error', finish);
    if (err) {
      socket.destroy();
      raw.destroy();
      waiter.upstreamConnected(err);
    } else waiter.upstreamConnected(null, socket);
  }
  function onConnect(): void {
    if (cfg.sendProxy) {
      raw.write(encodeProxyHeader(cfg.sendProxy, { src: info.src, srcPort: info.srcPort, dst: info.dst, dstPort: info.dstPort }));
    }
    if (!cfg.tls.enabled) return finish(null);
    raw.removeListener('error', finish);
    const opts: tls.ConnectionOptions = {
      socket: raw,
      host: server.address,
      rejectUnauthorized: cfg.tls.verify === 'required',
      secureContext: clientContext(cfg.tls),
    };
    if (cfg.tls.alpn) opts.ALPNProtocols = cfg.tls.alpn;
    const sni = cfg.tls.sni;
    // SNI carries host names only (RFC 6066 §3).
    if (sni && net.isIP(sni) === 0) opts.servername = sni;
    socket = tls.connect(opts, onSecure);
    socket.once('error', finish);
  }
  function onSecure(): void {
    finish(null);
  }
  raw.once('connect', onConnect);
  raw.once('error', finish);
}
