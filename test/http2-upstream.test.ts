/**
 * HTTP/2 to servers through a real tslb: node:http2 backends (h2c with `proto h2`, TLS
 * with `alpn`), reached by HTTP/1.1 (undici) and HTTP/2 (node:http2) clients. Bodies both
 * ways (small and 2 MiB), a gRPC-like exchange's trailers, multiplexing on few
 * connections within the server's SETTINGS_MAX_CONCURRENT_STREAMS, RST_STREAM on client
 * abort, GOAWAY mid-load, ALPN falling back to HTTP/1.1, and `-c`'s refusals.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { issueCert } from './helpers/certs';
import { h2request } from './helpers/h2client';
import { tcpCommand } from './helpers/runtime-api';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const MiB2 = 2 * 1024 * 1024;

interface Backend {
  port: number;
  /** Sessions opened by tslb. */
  sessions: Set<http2.ServerHttp2Session>;
  /** Streams open per session now, and the most seen at once. */
  active: Map<http2.ServerHttp2Session, number>;
  maxActive: number;
  /** Query `i` of each request answered, with its session. */
  served: { i: string; session: http2.ServerHttp2Session }[];
  /** RST_STREAM codes of /slow streams, as they closed. */
  slowClosed: number[];
  slowSeen: number;
  /** Bytes /stream wrote so far. */
  streamSent: number;
  /** Streams refused after a GOAWAY. */
  refused: number;
  /** GOAWAY(NO_ERROR) after the stream with this query `i` arrives (the stream itself is served). */
  goawayAt?: string;
}

/** A node:http2 server, h2c or TLS (ALPN h2 only), with the routes the tests use. */
async function startBackend(kind: 'h2c' | 'tls', settings: http2.Settings = {}): Promise<Backend> {
  const cert = issueCert(['backend.test']);
  const server = kind === 'tls' ? http2.createSecureServer({ key: cert.key, cert: cert.cert, settings }) : http2.createServer({ settings });
  const b: Backend = { port: 0, sessions: new Set(), active: new Map(), maxActive: 0, served: [], slowClosed: [], slowSeen: 0, refused: 0, streamSent: 0 };
  /** Per session: the last stream id a GOAWAY said is processed. */
  const goneAway = new Map<http2.ServerHttp2Session, number>();
  server.on('session', (s) => {
    b.sessions.add(s);
    b.active.set(s, 0);
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, h) => {
    const session = stream.session as http2.ServerHttp2Session;
    stream.on('error', () => undefined);
    const last = goneAway.get(session);
    // A stream above the GOAWAY's last-stream-id is not processed (RFC 9113 §6.8).
    if (last !== undefined && stream.id! > last) {
      b.refused++;
      return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    }
    const n = b.active.get(session)! + 1;
    b.active.set(session, n);
    b.maxActive = Math.max(b.maxActive, n);
    stream.on('close', () => b.active.set(session, b.active.get(session)! - 1));
    const url = new URL(String(h[':path']), 'http://x');
    const i = url.searchParams.get('i') ?? '';
    const hop = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'].filter((k) => h[k] !== undefined).join(',');
    const about = { 'x-http': stream.session!.alpnProtocol ?? 'h2c', 'x-authority': String(h[':authority']), 'x-te': String(h.te ?? ''), 'x-hop': hop, 'x-custom': String(h['x-custom'] ?? '') };
    // The tests route by a first path segment (/tls/, /narrow/, /goaway/).
    const route = url.pathname.replace(/^\/(tls|narrow|goaway)\//, '/');
    switch (route) {
      case '/echo': {
        // The body streamed back as it comes, with backpressure both ways.
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', ...about });
        stream.pipe(stream);
        return;
      }
      case '/bytes': {
        const total = Number(url.searchParams.get('n'));
        stream.respond({ ':status': 200, 'content-length': String(total), ...about });
        stream.end(pattern(total));
        return;
      }
      case '/stream': {
        // n bytes of pattern() in 64 KiB writes with backpressure; `streamSent` counts what the stream took.
        const total = Number(url.searchParams.get('n'));
        const body = pattern(total);
        b.streamSent = 0;
        stream.respond({ ':status': 200, 'content-length': String(total) });
        const pump = (): void => {
          while (b.streamSent < total) {
            const piece = body.subarray(b.streamSent, b.streamSent + 65536);
            b.streamSent += piece.length;
            if (!stream.write(piece)) return void stream.once('drain', pump);
          }
          stream.end();
        };
        pump();
        return;
      }
      case '/grpc': {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...about }, { waitForTrailers: true });
        // The request's trailers, if any, come back among the response's.
        let reqTrailers: http2.IncomingHttpHeaders = {};
        stream.on('trailers', (t) => (reqTrailers = t));
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'done', 'x-request-trailer': String(reqTrailers['x-client-trailer'] ?? '') }));
        stream.pipe(stream);
        return;
      }
      case '/slow':
        b.slowSeen++;
        stream.on('close', () => b.slowClosed.push(stream.rstCode));
        return;
      case '/delay': {
        if (b.goawayAt === i) {
          goneAway.set(session, stream.id!);
          session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!);
        }
        stream.resume();
        setTimeout(() => {
          if (stream.destroyed) return;
          b.served.push({ i, session });
          stream.respond({ ':status': 200, ...about });
          stream.end(`served ${i}`);
        }, 30);
        return;
      }
      default:
        stream.resume();
        stream.respond({ ':status': 200, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], ...about });
        stream.end(`hello ${h[':method']} ${route}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  b.port = (server.address() as AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of b.sessions) s.destroy();
        server.close(() => resolve());
      }),
  );
  return b;
}

function pattern(n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 7 + (i >> 10)) & 255;
  return buf;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let lb: TslbProcess;
const ports = { h1: 0, h2c: 0, api: 0 };
let plain: Backend;
let secure: Backend;
let narrow: Backend;
let goaway: Backend;
let h1Port = 0;

before(async () => {
  plain = await startBackend('h2c');
  secure = await startBackend('tls');
  narrow = await startBackend('h2c', { maxConcurrentStreams: 5 });
  goaway = await startBackend('h2c');
  // An HTTPS server without h2: `alpn h2,http/1.1` must speak HTTP/1.1 to it.
  const cert = issueCert(['backend.test']);
  const h1 = https.createServer({ key: cert.key, cert: cert.cert, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    req.resume();
    res.setHeader('x-http', req.httpVersion);
    res.end('http/1.1 backend');
  });
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  h1Port = (h1.address() as AddressInfo).port;
  cleanups.push(() => new Promise<void>((resolve) => (h1.closeAllConnections(), h1.close(() => resolve()))));
  ports.h1 = await freePort();
  ports.h2c = await freePort();
  ports.api = await freePort();
  lb = await startTslb(`
global: { workers: 1 }
runtime_api: { tcp: "127.0.0.1:${ports.api}", level: admin }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${ports.h1}", { address: 127.0.0.1, port: ${ports.h2c}, h2c: true }]
    use_backend:
      - { backend: secure, if: "path_beg /tls/" }
      - { backend: narrow, if: "path_beg /narrow/" }
      - { backend: goaway, if: "path_beg /goaway/" }
      - { backend: fallback, if: "path_beg /fallback/" }
    default_backend: plain
    log: { enabled: false }
backends:
  - name: plain
    mode: http
    timeouts: { server: 10s }
    servers: [{ name: s1, address: 127.0.0.1, port: ${plain.port}, proto: h2, check: true, inter: 200ms }]
  - name: secure
    mode: http
    timeouts: { server: 1s }
    servers: [{ name: s1, address: 127.0.0.1, port: ${secure.port}, options: "ssl verify none alpn h2,http/1.1" }]
  - name: narrow
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${narrow.port}, options: "proto h2" }]
  - name: goaway
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${goaway.port}, options: "proto h2" }]
  - name: fallback
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${h1Port}, options: "ssl verify none alpn h2,http/1.1" }]
`);
  cleanups.push(() => lb.stop());
});

function h2client(): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${ports.h2c}`);
  s.on('error', () => undefined);
  cleanups.push(async () => s.destroy());
  return s;
}

/** `req` sent as is on a new connection (it asks to close); everything received until the close. */
function rawRequest(req: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(ports.h1, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
    sock.setTimeout(5000, () => sock.destroy(new Error('raw request timed out')));
    sock.write(req);
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('HTTP/1.1 and HTTP/2 clients get status, headers and bodies from an h2c server; connection-specific fields are not sent, te: trailers is', async () => {
  // Raw, so that connection-specific fields undici refuses to send can be sent.
  const raw = await rawRequest('GET /hello HTTP/1.1\r\nHost: example.test\r\nConnection: close, x-custom\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Custom: v1\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(raw, /\r\nx-http: h2c\r\n/);
  assert.match(raw, /\r\nx-authority: example\.test\r\n/);
  assert.match(raw, /\r\nx-hop: \r\n/);
  assert.match(raw, /\r\nx-te: trailers\r\n/);
  // A field the Connection header named is connection-specific too.
  assert.match(raw, /\r\nx-custom: \r\n/);
  assert.match(raw, /\r\n\r\n10\r\nhello GET \/hello\r\n0\r\n\r\n$/);
  const r1 = await request(`http://127.0.0.1:${ports.h1}/hello`);
  assert.equal(await r1.body.text(), 'hello GET /hello');
  // HTTP/1.0 without Host: the server's address as :authority, a body that ends with the connection (no chunked).
  const old = await rawRequest('GET /hello HTTP/1.0\r\n\r\n');
  assert.match(old, new RegExp(`\\r\\nx-authority: 127\\.0\\.0\\.1:${plain.port}\\r\\n`));
  assert.doesNotMatch(old, /transfer-encoding/i);
  assert.match(old, /\r\n\r\nhello GET \/hello$/);
  assert.deepEqual(r1.headers['set-cookie'], ['a=1', 'b=2']);

  const s = h2client();
  const r2 = await h2request(s, { ':path': '/hello', ':authority': 'example.test', 'x-custom': 'v2' });
  assert.equal(r2.status, 200);
  assert.equal(r2.body.toString(), 'hello GET /hello');
  assert.equal(r2.headers['x-authority'], 'example.test');
  assert.equal(r2.headers['x-custom'], 'v2');
  assert.equal(r2.headers['x-hop'], '');
});

test('2 MiB bodies streamed both ways, from an HTTP/1.1 and an HTTP/2 client', async () => {
  const body = pattern(MiB2);
  const r1 = await request(`http://127.0.0.1:${ports.h1}/echo`, { method: 'POST', body });
  assert.equal(r1.statusCode, 200);
  assert.equal(sha(Buffer.from(await r1.body.arrayBuffer())), sha(body));
  // A chunked request body from an HTTP/1.1 client.
  const r1c = await request(`http://127.0.0.1:${ports.h1}/echo`, { method: 'POST', body: Readable.from([0, 1, 2, 3].map((i) => body.subarray(i * (MiB2 / 4), (i + 1) * (MiB2 / 4)))) });
  assert.equal(r1c.statusCode, 200);
  assert.equal(sha(Buffer.from(await r1c.body.arrayBuffer())), sha(body));
  const big = await request(`http://127.0.0.1:${ports.h1}/bytes?n=${MiB2}`);
  assert.equal(big.headers['content-length'], String(MiB2));
  assert.equal(sha(Buffer.from(await big.body.arrayBuffer())), sha(pattern(MiB2)));

  const s = h2client();
  const r2 = await h2request(s, { ':method': 'POST', ':path': '/echo' }, body);
  assert.equal(r2.status, 200);
  assert.equal(sha(r2.body), sha(body));
  const big2 = await h2request(s, { ':path': `/bytes?n=${MiB2}` });
  assert.equal(big2.body.length, MiB2);
  assert.equal(sha(big2.body), sha(pattern(MiB2)));
});

test('a client that does not read holds the server back (flow control), then gets every byte', async () => {
  const total = 32 * 1024 * 1024;
  const sock = net.connect(ports.h1, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.pause();
  sock.write('GET /stream?n=' + total + ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await until('the response to start', () => plain.streamSent > 0);
  await new Promise((r) => setTimeout(r, 1000));
  // The stream window (1 MiB) plus socket buffers, far from all of it.
  assert.ok(plain.streamSent < total / 2, `sent ${plain.streamSent} of ${total} to a client that reads nothing`);
  const hash = createHash('sha256');
  let bodyBytes = -1;
  let head = '';
  await new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      if (bodyBytes < 0) {
        head += d.toString('latin1');
        const at = head.indexOf('\r\n\r\n');
        if (at < 0) return;
        const rest = Buffer.from(head.slice(at + 4), 'latin1');
        head = head.slice(0, at);
        bodyBytes = rest.length;
        hash.update(rest);
        return;
      }
      bodyBytes += d.length;
      hash.update(d);
    });
    sock.on('end', resolve);
    sock.on('error', reject);
    sock.resume();
  });
  assert.match(head, new RegExp(`content-length: ${total}`));
  assert.equal(bodyBytes, total);
  assert.equal(hash.digest('hex'), sha(pattern(total)));
});

test('a gRPC-like exchange: grpc-status trailers reach an HTTP/2 client, and an HTTP/1.1 client as chunked trailers', async () => {
  const frame = Buffer.from([0, 0, 0, 0, 3, 8, 150, 1]);
  const s = h2client();
  const r = await h2request(s, { ':method': 'POST', ':path': '/grpc', 'content-type': 'application/grpc', te: 'trailers' }, frame);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/grpc');
  assert.equal(r.headers['x-te'], 'trailers');
  assert.deepEqual(r.body, frame);
  assert.equal(r.trailers['grpc-status'], '0');
  assert.equal(r.trailers['grpc-message'], 'done');

  // Request trailers from an HTTP/2 client reach the server.
  const withTrailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    const st = s.request({ ':method': 'POST', ':path': '/grpc', 'content-type': 'application/grpc', te: 'trailers' }, { waitForTrailers: true });
    st.on('wantTrailers', () => st.sendTrailers({ 'x-client-trailer': 'from-client' }));
    st.on('trailers', resolve);
    st.on('error', reject);
    st.resume();
    st.end(frame);
  });
  assert.equal(withTrailers['grpc-status'], '0');
  assert.equal(withTrailers['x-request-trailer'], 'from-client');

  const r1 = await request(`http://127.0.0.1:${ports.h1}/grpc`, { method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' }, body: frame });
  assert.equal(r1.headers['transfer-encoding'], 'chunked');
  assert.deepEqual(Buffer.from(await r1.body.arrayBuffer()), frame);
  assert.equal(r1.trailers['grpc-status'], '0');
});

test('TLS server with alpn h2,http/1.1: h2 when the server offers it, HTTP/1.1 when it does not', async () => {
  const r = await request(`http://127.0.0.1:${ports.h1}/tls/hello`);
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['x-http'], 'h2');
  assert.equal(await r.body.text(), 'hello GET /hello');
  const s = h2client();
  const r2 = await h2request(s, { ':method': 'POST', ':path': '/tls/echo' }, pattern(100000));
  assert.equal(sha(r2.body), sha(pattern(100000)));
  for (let i = 0; i < 3; i++) {
    const f = await request(`http://127.0.0.1:${ports.h1}/fallback/x`);
    assert.equal(f.statusCode, 200);
    assert.equal(f.headers['x-http'], '1.1');
    assert.equal(await f.body.text(), 'http/1.1 backend');
  }
});

test('concurrent requests multiplex on one connection; a server taking 5 streams gets more connections, never more than 5 streams each', async () => {
  const before = plain.served.length;
  const results = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const r = await request(`http://127.0.0.1:${ports.h1}/delay?i=m${i}`);
      return { status: r.statusCode, body: await r.body.text() };
    }),
  );
  for (const [i, r] of results.entries()) assert.deepEqual(r, { status: 200, body: `served m${i}` });
  const used = new Set(plain.served.slice(before).map((x) => x.session));
  assert.ok(used.size <= 2, `60 concurrent requests used ${used.size} connections`);

  const narrowResults = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const r = await request(`http://127.0.0.1:${ports.h1}/narrow/delay?i=n${i}`);
      return { status: r.statusCode, body: await r.body.text() };
    }),
  );
  for (const [i, r] of narrowResults.entries()) assert.deepEqual(r, { status: 200, body: `served n${i}` });
  assert.ok(narrow.maxActive <= 5, `max streams at once on one connection: ${narrow.maxActive}`);
  assert.ok(narrow.sessions.size >= 2 && narrow.sessions.size <= 4, `connections: ${narrow.sessions.size}`);
  // Stats count each stream as a session of the server; the tcp check keeps the h2c server UP.
  const field = (csv: string, px: string, col: string): string => {
    const lines = csv.split('\n');
    const names = lines[0].replace(/^# /, '').split(',');
    const row = lines.find((l) => l.startsWith(`${px},s1,`))!.split(',');
    return row[names.indexOf(col)];
  };
  let csv = '';
  await until('stats', async () => {
    csv = await tcpCommand(ports.api, 'show stat\n');
    return Number(field(csv, 'narrow', 'stot')) >= 30;
  });
  assert.equal(field(csv, 'plain', 'status'), 'UP');
  assert.ok(Number(field(csv, 'plain', 'stot')) >= 60);
});

test('a client abort resets the server stream (HTTP/2 and HTTP/1.1 clients)', async () => {
  const s = h2client();
  const stream = s.request({ ':path': '/slow' });
  stream.on('error', () => undefined);
  await until('the backend stream', () => plain.slowSeen === 1);
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await until('the reset', () => plain.slowClosed.length === 1);
  assert.equal(plain.slowClosed[0], http2.constants.NGHTTP2_CANCEL);

  const sock = net.connect(ports.h1, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the backend stream', () => plain.slowSeen === 2);
  // A reset connection (a FIN alone is a half-close, after which the response is still awaited, as HAProxy without abortonclose).
  sock.resetAndDestroy();
  await until('the reset', () => plain.slowClosed.length === 2);
  assert.equal(plain.slowClosed[1], http2.constants.NGHTTP2_CANCEL);
});

test('timeout server: 504, and the server stream is reset', async () => {
  const r = await request(`http://127.0.0.1:${ports.h1}/tls/slow`);
  assert.equal(r.statusCode, 504);
  await r.body.text();
  await until('the reset', () => secure.slowClosed.length === 1);
  assert.equal(secure.slowClosed[0], http2.constants.NGHTTP2_CANCEL);
});

test('a GOAWAY mid-load: streams the server did not process are sent again, none is lost or served twice', async () => {
  goaway.goawayAt = 'g10';
  const s = h2client();
  const results = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      // Half over HTTP/1.1, half over HTTP/2.
      if (i % 2) {
        const r = await request(`http://127.0.0.1:${ports.h1}/goaway/delay?i=g${i}`);
        return { status: r.statusCode, body: await r.body.text() };
      }
      const r = await h2request(s, { ':path': `/goaway/delay?i=g${i}` });
      return { status: r.status, body: r.body.toString() };
    }),
  );
  for (const [i, r] of results.entries()) assert.deepEqual(r, { status: 200, body: `served g${i}` });
  const served = goaway.served.map((x) => x.i).sort();
  assert.deepEqual(served, Array.from({ length: 40 }, (_, i) => `g${i}`).sort());
  assert.ok(goaway.sessions.size >= 2, 'a new connection after the GOAWAY');
  // Streams above the last-stream-id the server ignored (those it refused, and those it never saw) went again.
  assert.ok(goaway.served.length === 40 && (goaway.refused > 0 || goaway.served.filter((x) => x.session !== goaway.served[0].session).length > 0));
});

test('set server addr: new streams go to the new address, the old connection closes', async () => {
  const r0 = await request(`http://127.0.0.1:${ports.h1}/goaway/hello`);
  await r0.body.text();
  const old = [...goaway.sessions].filter((x) => !x.closed && !x.destroyed);
  assert.ok(old.length >= 1);
  assert.match(await tcpCommand(ports.api, `set server goaway/s1 addr 127.0.0.1 port ${narrow.port}\n`), /port changed from/);
  const servedBefore = narrow.sessions.size;
  await until('the move', async () => {
    const r = await request(`http://127.0.0.1:${ports.h1}/goaway/hello`);
    await r.body.text();
    return narrow.sessions.size > servedBefore;
  });
  await until('the old connection closed', () => old.every((x) => x.closed || x.destroyed));
});

test('set server addr while an h2 connection is being made: that connection takes no stream, every request goes to the new address', async () => {
  let oldStreams = 0;
  const h2Named = (name: string) =>
    http2.createServer((_req, res) => {
      if (name === 'old') oldStreams++;
      res.end(name);
    });
  // The old server's connections wait (no SETTINGS) until the test relays them to its HTTP/2 server.
  const oldH2 = h2Named('old');
  const held: net.Socket[] = [];
  const front = net.createServer({ pauseOnConnect: true }, (socket) => held.push(socket));
  const moved = h2Named('moved');
  await Promise.all([front, moved, oldH2].map((srv) => new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))));
  cleanups.push(
    () => new Promise<void>((resolve) => (held.forEach((h) => h.destroy()), front.close(() => resolve()))),
    () => new Promise<void>((resolve) => moved.close(() => resolve())),
    () => new Promise<void>((resolve) => oldH2.close(() => resolve())),
  );
  const port = await freePort();
  const api = await freePort();
  const own = await startTslb(`
global: { workers: 1 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    servers: [{ name: s1, address: 127.0.0.1, port: ${(front.address() as AddressInfo).port}, options: "proto h2" }]
runtime_api: { tcp: "127.0.0.1:${api}", level: admin }
`);
  cleanups.push(() => own.stop());
  const get = async () => (await request(`http://127.0.0.1:${port}/`)).body.text();
  const first = get();
  await until('the connection to the old address', () => held.length === 1);
  assert.match(await tcpCommand(api, `set server app/s1 addr 127.0.0.1 port ${(moved.address() as AddressInfo).port}\n`), /port changed from/);
  // The move reaches the worker over IPC (a new request would only wait for the connection being made).
  await new Promise((r) => setTimeout(r, 500));
  const relay = net.connect((oldH2.address() as AddressInfo).port, '127.0.0.1');
  held[0].pipe(relay).pipe(held[0]);
  assert.equal(await first, 'moved');
  const next: string[] = [];
  for (let i = 0; i < 4; i++) next.push(await get());
  assert.deepEqual(next, ['moved', 'moved', 'moved', 'moved']);
  assert.equal(oldStreams, 0, 'no stream on the connection made to the old address');
});

test('-c: proto h2 in a tcp backend, an unknown proto, httpchk on an h2 server, send-proxy with h2; alpn h2 is accepted', async () => {
  const dir = tempDir('tslb-h2up-check-');
  const file = path.join(dir, 'lb.yaml');
  writeFileSync(
    file,
    `frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:8080"], default_backend: app }
  - { name: raw, mode: tcp, binds: ["127.0.0.1:8081"], default_backend: tcpapp }
backends:
  - name: app
    mode: http
    health_check: "httpchk GET /"
    servers:
      - { name: s1, address: 127.0.0.1, port: 9001, options: "ssl alpn h2,http/1.1" }
      - { name: s2, address: 127.0.0.1, port: 9002, options: "proto h3" }
      - { name: s3, address: 127.0.0.1, port: 9003, proto: h2, check: true }
      - { name: s4, address: 127.0.0.1, port: 9004, options: "proto h2 send-proxy" }
      - { name: s5, address: 127.0.0.1, port: 9005, options: "ssl alpn http/1.1 proto h2" }
  - name: tcpapp
    mode: tcp
    servers: [{ name: t1, address: 127.0.0.1, port: 9010, options: "proto h2" }]
`,
  );
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /backends\[0\]\.servers\[0\]/);
  assert.match(r.stderr, /servers\[1\]\.options: proto: tslb speaks h2 or HTTP\/1\.1 to servers: proto h2 is the only value \(not "h3"\)/);
  assert.doesNotMatch(r.stderr, /server "s3"|servers\[2\]/, 'a proto h2 server with option httpchk is checked over h2 (test/check-h2.test.ts)');
  assert.match(r.stderr, /servers\[3\]\.options: proto h2 with send-proxy/);
  assert.match(r.stderr, /servers\[4\]\.options: proto h2 with alpn http\/1\.1: the server is not offered h2/);
  assert.match(r.stderr, /backends\[1\]\.servers\[0\]\.options: proto h2 needs mode http/);
});
