'use strict';
/**
 * The benchmark workloads, shared by bench/run.js (interleaved rounds against HAProxy) and
 * bench/ab-simultaneous.js (two tslb builds at once): what load, on which frontend (`port`
 * names a key of the config spec's `ports`), with which headers.
 */
const configs = require('./configs');

/**
 * target kinds: haproxy, tslb, http-proxy; `refs` says which run besides the two main ones.
 * `needs` is a tslb config feature; without it tslb is skipped for that workload.
 */
const WORKLOADS = [
  { name: 'l7-small-c50', title: 'L7 keep-alive, 96 B, c=50', tool: 'wrk', port: 'http', path: '/', conns: 50, refs: ['http-proxy'] },
  { name: 'l7-small-c256', title: 'L7 keep-alive, 96 B, c=256', tool: 'wrk', port: 'http', path: '/', conns: 256, refs: ['http-proxy'] },
  { name: 'l7-64k', title: 'L7 keep-alive, 64 KiB, c=50', tool: 'wrk', port: 'http', path: '/64k.bin', conns: 50, refs: ['http-proxy'] },
  { name: 'l7-close', title: 'L7 one request per connection, c=50', tool: 'wrk', port: 'http', path: '/', conns: 50, headers: ['Connection: close'], refs: ['http-proxy'] },
  {
    name: 'l7-rules', title: 'L7 10 header rules + 1,000-host ACL table, c=50', tool: 'wrk', port: 'rules', path: '/', conns: 50,
    headers: [`Host: ${configs.RULES_HOST}`, 'X-Bench-Drop: 1'], needs: 'rules',
  },
  {
    name: 'cache-hit', title: 'L7 keep-alive, 96 B served from the HTTP cache (cache-use/cache-store), c=50', tool: 'wrk', port: 'cache', path: '/cached',
    conns: 50, needs: 'cache',
  },
  {
    name: 'l7-comp-64k', title: 'L7 keep-alive, 64 KiB text gzip-compressed (level 1), c=50', tool: 'wrk', port: 'comp', path: '/64k.txt', conns: 50,
    headers: ['Accept-Encoding: gzip'], needs: 'comp',
  },
  {
    name: 'l7-ratelimit', title: 'L7 keep-alive, 96 B, c=50, track-sc0 src + sc_http_req_rate(0) deny ACL (never denies)', tool: 'wrk', port: 'ratelimit', path: '/',
    conns: 50, needs: 'rules',
  },
  { name: 'l4-small', title: 'L4 (tcp), 96 B, c=50', tool: 'wrk', port: 'tcp', path: '/', conns: 50 },
  { name: 'l4-64k', title: 'L4 (tcp), 64 KiB, c=50', tool: 'wrk', port: 'tcp', path: '/64k.bin', conns: 50 },
  { name: 'tls-ka', title: 'TLS keep-alive, 96 B, c=50', tool: 'wrk', port: 'tls', scheme: 'https', path: '/', conns: 50, needs: 'tls', refs: ['http-proxy'] },
  { name: 'h2-small', title: 'HTTP/2 over TLS (ALPN h2), 96 B, h2load c=20 × m=10', tool: 'h2load', port: 'tls', scheme: 'https', path: '/', conns: 20, streams: 10, needs: 'tls' },
  { name: 'h2-64k', title: 'HTTP/2 over TLS (ALPN h2), 64 KiB, h2load c=20 × m=10', tool: 'h2load', port: 'tls', scheme: 'https', path: '/64k.bin', conns: 20, streams: 10, needs: 'tls' },
  { name: 'tls-full', title: 'TLS full handshakes/s (openssl s_time -new ×4)', tool: 'stime', port: 'tls', procs: 4, needs: 'tls', unit: 'hs/s' },
  {
    name: 'tls-resumed', title: 'TLS resumed handshakes/s (wrk, Connection: close, session tickets), c=50', tool: 'wrk', port: 'tls', scheme: 'https', path: '/',
    conns: 50, headers: ['Connection: close'], needs: 'tls', unit: 'hs/s',
  },
  { name: 'ws-echo', title: 'WebSocket echo, 64 B, 50 connections', tool: 'ws', port: 'ws', conns: 50, size: 64, unit: 'msg/s', refs: ['http-proxy'] },
  { name: 'latency', title: 'latency at ½ of HAProxy max rate (l7-small-c50)', tool: 'paced', port: 'http', path: '/' },
  { name: 'idle-rss', title: 'memory per idle keep-alive connection (fresh processes)', tool: 'idle', port: 'http', phase: 'idle' },
  { name: 'scaling', title: 'scaling 1..N workers, L7 96 B, c=256', tool: 'wrk', port: 'http', path: '/', conns: 256, phase: 'scaling' },
  { name: 'accept-modes', title: 'tslb accept modes (reuseport / rr / shared), all workers, one request per connection', tool: 'wrk', port: 'http', path: '/', conns: 50, headers: ['Connection: close'], phase: 'accept' },
];

/** The URL of workload `w` on a proxy whose frontends listen on `ports` (the config spec's). */
function urlFor(ports, w) {
  return `${w.scheme ?? 'http'}://127.0.0.1:${ports[w.port]}${w.path ?? '/'}`;
}

module.exports = { WORKLOADS, urlFor };
