/**
 * HTTP response compression through a real tslb (src/http/modules/compression.ts), over
 * HTTP/1.1 (raw sockets: the exact framing is checked) and HTTP/2 (node:http2 on an h2c
 * bind), against a real node:http server: each coding round-trips byte-exact, bodies
 * stream (2 MiB, chunked from the server, a slow reader), the Accept-Encoding q-values
 * choose, and every case HAProxy leaves alone is left alone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { exchange, header, type RawResponse } from './helpers/rawhttp';
import { unixCommand } from './helpers/runtime-api';
import { freePort, rss, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const hasZstd = typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function';
const ALGOS = hasZstd ? ['gzip', 'deflate', 'br', 'zstd'] : ['gzip', 'deflate', 'br'];

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const dir = tempDir('tslb-comp-');
const sock = path.join(dir, 'admin.sock');
let lb: TslbProcess;
let app: HttpBackend;
const ports = { web: 0, h2c: 0, hap: 0, off: 0, metrics: 0 };
/** The Accept-Encoding lines the server received, by request path. */
const seenAcceptEncoding = new Map<string, string | undefined>();

/** Compressible text: words from a small list in a reproducible order. */
function text(n: number): Buffer {
  const words = ['load', 'balancer', 'frontend', 'backend', 'server', 'check', 'stick', 'table', 'acl', 'rule', 'gzip', 'brotli'];
  const out = Buffer.alloc(n);
  let x = n || 1;
  let at = 0;
  while (at < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    at += out.write(words[x % words.length] + (x % 9 === 0 ? '\n' : ' '), at, 'latin1');
  }
  return out;
}

/**
 * The server: /t?n=<size> answers that much text; `chunked=1` without Content-Length
 * (in 16 KiB writes), `status`, `ct` (content type), `ce`, `cc`, `etag`, `vary`,
 * `trailer=1` set the rest.
 */
function appHandler(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  seenAcceptEncoding.set(url.pathname + url.search, req.headers['accept-encoding']);
  const q = url.searchParams;
  const body = text(Number(q.get('n') ?? 0));
  const headers: Record<string, string> = { 'content-type': q.get('ct') ?? 'text/plain; charset=utf-8' };
  for (const [k, name] of [['ce', 'content-encoding'], ['cc', 'cache-control'], ['etag', 'etag'], ['vary', 'vary']]) {
    if (q.has(k)) headers[name] = q.get(k)!;
  }
  const status = Number(q.get('status') ?? 200);
  if (q.get('chunked')) {
    if (q.get('trailer')) headers.trailer = 'x-sum';
    res.writeHead(status, headers);
    let at = 0;
    const pump = (): void => {
      while (at < body.length) {
        const piece = body.subarray(at, at + 16384);
        at += piece.length;
        if (!res.write(piece)) return void res.once('drain', pump);
      }
      if (q.get('trailer')) res.addTrailers({ 'x-sum': String(body.length) });
      res.end();
    };
    pump();
  } else {
    res.writeHead(status, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
  return true;
}

before(async () => {
  app = await startHttpBackend('app', appHandler);
  cleanups.push(() => app.close());
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  lb = await startTslb(`
global: { workers: 1 }
runtime_api: { socket: ${sock} }
prometheus: { bind: "127.0.0.1:${ports.metrics}" }
frontends:
  - name: web
    binds:
      - { address: 127.0.0.1, port: ${ports.web} }
      - { address: 127.0.0.1, port: ${ports.h2c}, h2c: true }
    compression: { algos: [${ALGOS.join(', ')}], types: [text/plain, application/json], min_size: 1k, level: 6 }
    use_backend:
      - { backend: brotli_only, if: "path_beg /be/" }
      - { backend: raw_deflate, if: "path_beg /raw/" }
    default_backend: app
  - name: hap
    binds: [{ address: 127.0.0.1, port: ${ports.hap} }]
    options:
      - compression algo gzip deflate
      - compression type text/html text/plain
      - compression offload
      - compression minsize-res 100
      - compression direction response
    default_backend: app
  - name: off
    binds: [{ address: 127.0.0.1, port: ${ports.off} }]
    default_backend: app
backends:
  - name: app
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
  - name: brotli_only
    options: [compression algo br]
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
  - name: raw_deflate
    compression: { algos: [raw-deflate], level: 9 }
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
`);
  cleanups.push(() => lb.stop());
});

/** One HTTP/1.x request on a fresh raw connection; the response as read off the wire. */
async function h1(port: number, target: string, headers: Record<string, string> = {}, opts: { method?: string; version?: string } = {}): Promise<RawResponse> {
  const method = opts.method ?? 'GET';
  const lines = Object.entries({ Host: 'lb', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  const r = await exchange(port, Buffer.from(`${method} ${target} HTTP/${opts.version ?? '1.1'}\r\n${lines.join('')}\r\n`), {
    methods: [method],
    until: (rs) => rs.length >= 1,
    timeoutMs: 15000,
  });
  assert.ok(r.responses[0]?.complete, `no complete response to ${target}: ${r.received.toString('latin1', 0, 300)}`);
  return r.responses[0];
}

function decode(coding: string | undefined, body: Buffer): Buffer {
  switch (coding) {
    case 'gzip':
      return zlib.gunzipSync(body);
    case 'deflate':
      return zlib.inflateSync(body);
    case 'br':
      return zlib.brotliDecompressSync(body);
    case 'zstd':
      return (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(body);
    default:
      throw new Error(`unexpected coding ${coding}`);
  }
}

function one(r: RawResponse, name: string): string | undefined {
  const v = header(r, name);
  assert.ok(v.length <= 1, `${name} appears ${v.length} times`);
  return v[0];
}

/** A compressed HTTP/1.1 response: chunked, no length, the coding and Vary, and the body decodes to `expected`. */
function assertCompressedH1(r: RawResponse, coding: string, expected: Buffer): void {
  assert.equal(r.status, 200);
  assert.equal(one(r, 'content-encoding'), coding);
  assert.equal(one(r, 'transfer-encoding'), 'chunked');
  assert.equal(one(r, 'content-length'), undefined);
  assert.equal(r.framing, 'chunked');
  assert.equal(one(r, 'vary'), 'Accept-Encoding');
  assert.ok(r.body.length < expected.length, `compressed ${r.body.length} >= ${expected.length}`);
  assert.ok(decode(coding, r.body).equals(expected), `${coding} body does not round-trip`);
}

/** The response went out as the server sent it: no coding, its Content-Length, the body itself. */
function assertUntouched(r: RawResponse, expected: Buffer | null, status = 200): void {
  assert.equal(r.status, status);
  assert.equal(one(r, 'content-encoding'), undefined);
  assert.equal(one(r, 'vary'), undefined);
  if (expected) {
    assert.equal(one(r, 'content-length'), String(expected.length));
    assert.ok(r.body.equals(expected));
  }
}

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

function h2get(session: http2.ClientHttp2Session, target: string, headers: http2.OutgoingHttpHeaders = {}, method = 'GET'): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': target, ':method': method, ...headers });
    const parts: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(parts) }));
    stream.on('error', reject);
    stream.setTimeout(15000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  });
}

function h2session(): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${ports.h2c}`);
  s.on('error', () => undefined);
  return s;
}

test('each coding round-trips byte-exact over HTTP/1.1, with a length or chunked from the server', async () => {
  const body = text(65536);
  for (const coding of ALGOS) {
    assertCompressedH1(await h1(ports.web, '/t?n=65536', { 'Accept-Encoding': coding }), coding, body);
    assertCompressedH1(await h1(ports.web, '/t?n=65536&chunked=1', { 'Accept-Encoding': coding }), coding, body);
  }
});

test('each coding round-trips byte-exact over HTTP/2 (DATA frames, no content-length)', async () => {
  const session = h2session();
  try {
    const body = text(65536);
    for (const coding of ALGOS) {
      for (const target of ['/t?n=65536', '/t?n=65536&chunked=1']) {
        const r = await h2get(session, target, { 'accept-encoding': coding });
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-encoding'], coding);
        assert.equal(r.headers['content-length'], undefined);
        assert.equal(r.headers.vary, 'Accept-Encoding');
        assert.ok(decode(coding, r.body).equals(body), `${coding} ${target}`);
      }
    }
    // Skipped cases over HTTP/2 as well: below the minimum size, and HEAD.
    const small = await h2get(session, '/t?n=100', { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers['content-length'], '100');
    assert.ok(small.body.equals(text(100)));
    const head = await h2get(session, '/t?n=65536', { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.body.length, 0);
  } finally {
    session.close();
  }
});

test('a 2 MiB body streams through the compressor, chunked from the server, over both protocols', async () => {
  const body = text(2 * 1024 * 1024);
  assertCompressedH1(await h1(ports.web, '/t?n=2097152&chunked=1', { 'Accept-Encoding': 'gzip' }), 'gzip', body);
  assertCompressedH1(await h1(ports.web, '/t?n=2097152', { 'Accept-Encoding': 'br' }), 'br', body);
  const session = h2session();
  try {
    const r = await h2get(session, '/t?n=2097152&chunked=1', { 'accept-encoding': 'deflate' });
    assert.equal(r.headers['content-encoding'], 'deflate');
    assert.ok(decode('deflate', r.body).equals(body));
  } finally {
    session.close();
  }
});

test('a client that reads slowly gets the whole compressed body (backpressure, no loss)', async () => {
  const body = text(2 * 1024 * 1024);
  // Random text compresses less: enough output to fill the socket buffers while the client sleeps.
  const received = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    const s = net.connect(ports.web, '127.0.0.1', () => {
      s.write('GET /t?n=2097152&chunked=1 HTTP/1.1\r\nHost: lb\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
      s.pause();
      setTimeout(() => s.resume(), 1500);
    });
    s.setTimeout(20000, () => s.destroy(new Error('timeout')));
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  assert.ok(zlib.gunzipSync(chunkedBody(received, 'gzip')).equals(body));
});

/** The body of one chunked HTTP/1.1 response with this Content-Encoding in `received`, de-chunked. */
function chunkedBody(received: Buffer, coding: string): Buffer {
  const headEnd = received.indexOf('\r\n\r\n');
  assert.match(received.toString('latin1', 0, headEnd), new RegExp(`content-encoding: ${coding}\r\n`, 'i'));
  const chunks: Buffer[] = [];
  let at = headEnd + 4;
  for (;;) {
    const eol = received.indexOf('\r\n', at);
    const size = parseInt(received.toString('latin1', at, eol), 16);
    if (size === 0) return Buffer.concat(chunks);
    chunks.push(received.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

test('a stalled client holds the server back: the worker stays bounded, then every byte arrives (gzip and br)', async () => {
  // Incompressible text/plain: the compressed output is as large as the body and fills every buffer on the way.
  const TOTAL = 24 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  let written = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TOTAL });
    const more = (): void => {
      while (written < TOTAL) {
        written += block.length;
        if (!res.write(block)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = await freePort();
  const big = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    binds: ["127.0.0.1:${port}"]
    compression: { algos: [gzip, br] }
    default_backend: app
backends:
  - name: app
    servers: [{ name: s1, address: 127.0.0.1, port: ${(server.address() as net.AddressInfo).port} }]
`);
  cleanups.push(() => big.stop());
  const worker = ((await big.waitForLog((e) => e.event === 'ready')).workers as number[])[0];
  for (const coding of ['gzip', 'br']) {
    written = 0;
    const before = rss(worker);
    const client = net.connect(port, '127.0.0.1');
    client.write(`GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: ${coding}\r\nConnection: close\r\n\r\n`);
    client.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const grown = rss(worker) - before;
    assert.ok(written < TOTAL, `${coding}: the server wrote all ${written} bytes to a stalled client`);
    assert.ok(grown < 48 * 1024 * 1024, `${coding}: worker RSS grew by ${(grown / 1048576).toFixed(1)} MiB while the client stalled`);
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('data', (d: Buffer) => parts.push(d));
      client.on('end', resolve);
      client.on('error', reject);
      client.resume();
    });
    const body = decode(coding, chunkedBody(Buffer.concat(parts), coding));
    assert.equal(body.length, TOTAL);
    for (let at = 0; at < TOTAL; at += block.length) assert.ok(body.subarray(at, at + block.length).equals(block), `${coding}: block at ${at}`);
  }
});

test('Accept-Encoding q-values choose the coding; q=0 refuses it', async () => {
  const cases: [string, string | undefined][] = [
    ['gzip;q=0, br', 'br'],
    ['*;q=0, gzip;q=0.75, deflate;q=0.5', 'gzip'],
    ['*;q=0, gzip;q=0.5, deflate;q=0.75', 'deflate'],
    ['br;q=0.9, gzip', 'gzip'],
    ['deflate, gzip', 'deflate'],
    ['*', 'gzip'],
    ['gzip;q=0', undefined],
    ['identity', undefined],
    ['compress, x-unknown', undefined],
  ];
  for (const [ae, want] of cases) {
    const r = await h1(ports.web, '/t?n=4096', { 'Accept-Encoding': ae });
    assert.equal(one(r, 'content-encoding'), want, ae);
    if (want) assert.ok(decode(want, r.body).equals(text(4096)), ae);
    else assert.ok(r.body.equals(text(4096)), ae);
  }
  // No Accept-Encoding at all.
  assertUntouched(await h1(ports.web, '/t?n=4096'), text(4096));
});

test('never compressed: HEAD, 204, 304, non-2xx, HTTP/1.0, already encoded, no-transform, small, unlisted or multipart type', async () => {
  const ae = { 'Accept-Encoding': 'gzip' };
  const b = text(4096);
  const head = await h1(ports.web, '/t?n=4096', ae, { method: 'HEAD' });
  assertUntouched(head, null);
  assert.equal(one(head, 'content-length'), '4096');
  assert.equal(head.body.length, 0);
  assertUntouched(await h1(ports.web, '/t?n=0&status=204', ae), null, 204);
  assertUntouched(await h1(ports.web, '/t?n=0&status=304', ae), null, 304);
  assertUntouched(await h1(ports.web, '/t?n=4096&status=404', ae), b, 404);
  assertUntouched(await h1(ports.web, '/t?n=4096&status=500', ae), b, 500);
  const v10 = await h1(ports.web, '/t?n=4096', ae, { version: '1.0' });
  assert.equal(one(v10, 'content-encoding'), undefined);
  assert.ok(v10.body.equals(b));
  const encoded = await h1(ports.web, '/t?n=4096&ce=identity', ae);
  assert.equal(one(encoded, 'content-encoding'), 'identity');
  assert.ok(encoded.body.equals(b));
  assertUntouched(await h1(ports.web, `/t?n=4096&cc=${encodeURIComponent('public, no-transform')}`, ae), b);
  assertUntouched(await h1(ports.web, '/t?n=1023', ae), text(1023));
  assertUntouched(await h1(ports.web, '/t?n=4096&ct=image/png', ae), b);
  assertUntouched(await h1(ports.web, `/t?n=4096&ct=${encodeURIComponent('multipart/mixed; boundary=x')}`, ae), b);
  // Exactly the minimum size is compressed.
  assertCompressedH1(await h1(ports.web, '/t?n=1024', ae), 'gzip', text(1024));
});

test('a compressed response gets Vary once and a weak ETag; a weak or malformed ETag is handled as HAProxy does', async () => {
  const ae = { 'Accept-Encoding': 'gzip' };
  const strong = await h1(ports.web, `/t?n=4096&etag=${encodeURIComponent('"v1"')}&vary=Origin`, ae);
  assert.equal(one(strong, 'content-encoding'), 'gzip');
  assert.equal(one(strong, 'etag'), 'W/"v1"');
  assert.deepEqual(header(strong, 'vary').sort(), ['Accept-Encoding', 'Origin']);
  const weak = await h1(ports.web, `/t?n=4096&etag=${encodeURIComponent('W/"v2"')}&vary=${encodeURIComponent('origin, accept-encoding')}`, ae);
  assert.equal(one(weak, 'content-encoding'), 'gzip');
  assert.equal(one(weak, 'etag'), 'W/"v2"');
  assert.equal(one(weak, 'vary'), 'origin, accept-encoding');
  // A malformed ETag: not compressed (HAProxy).
  assertUntouched(await h1(ports.web, '/t?n=4096&etag=v3', ae), text(4096));
});

test('the server trailers follow the compressed body; keep-alive serves the next request after it', async () => {
  const r = await exchange(
    ports.web,
    Buffer.from(
      'GET /t?n=50000&chunked=1&trailer=1 HTTP/1.1\r\nHost: lb\r\nAccept-Encoding: br\r\n\r\n' +
        'GET /t?n=3000 HTTP/1.1\r\nHost: lb\r\nAccept-Encoding: gzip\r\n\r\n',
    ),
    { until: (rs) => rs.length >= 2, timeoutMs: 15000 },
  );
  assert.equal(r.responses.length, 2);
  assertCompressedH1(r.responses[0], 'br', text(50000));
  assert.deepEqual(r.responses[0].trailers, [['x-sum', '50000']]);
  assertCompressedH1(r.responses[1], 'gzip', text(3000));
});

test('HAProxy lines: compression algo/type/offload/minsize-res; offload removes Accept-Encoding towards the server', async () => {
  const r = await h1(ports.hap, '/t?n=8000&offload=1', { 'Accept-Encoding': 'br, deflate;q=0.8' });
  assertCompressedH1(r, 'deflate', text(8000));
  assert.equal(seenAcceptEncoding.get('/t?n=8000&offload=1'), undefined);
  // Below `compression minsize-res 100`.
  assertUntouched(await h1(ports.hap, '/t?n=99', { 'Accept-Encoding': 'gzip' }), text(99));
  // Not listed in `compression type`.
  assertUntouched(await h1(ports.hap, '/t?n=8000&ct=application/json', { 'Accept-Encoding': 'gzip' }), text(8000));
  // Without offload the server sees the header; without an acceptable coding nothing is removed either.
  await h1(ports.web, '/t?n=8000&kept=1', { 'Accept-Encoding': 'gzip' });
  assert.equal(seenAcceptEncoding.get('/t?n=8000&kept=1'), 'gzip');
  await h1(ports.hap, '/t?n=8000&none=1', { 'Accept-Encoding': 'br' });
  assert.equal(seenAcceptEncoding.get('/t?n=8000&none=1'), 'br');
});

test("a backend's compression settings replace its frontend's", async () => {
  assertCompressedH1(await h1(ports.web, '/be/t?n=8000', { 'Accept-Encoding': 'gzip, br' }), 'br', text(8000));
  assertUntouched(await h1(ports.web, '/be/t?n=8000', { 'Accept-Encoding': 'gzip' }), text(8000));
  // The backend has no type list: any type but multipart.
  assertCompressedH1(await h1(ports.web, '/be/t?n=8000&ct=image/svg%2Bxml', { 'Accept-Encoding': 'br' }), 'br', text(8000));
});

test('raw-deflate is announced as deflate and is a bare deflate stream (HAProxy raw-deflate); level 9 works', async () => {
  const body = text(300000);
  for (const target of ['/raw/t?n=300000', '/raw/t?n=300000&chunked=1']) {
    const r = await h1(ports.web, target, { 'Accept-Encoding': 'deflate' });
    assert.equal(one(r, 'content-encoding'), 'deflate');
    assert.ok(zlib.inflateRawSync(r.body).equals(body), target);
  }
});

test('compression off: the response is relayed as the server sent it', async () => {
  const r = await h1(ports.off, '/t?n=65536', { 'Accept-Encoding': 'gzip, br' });
  assertUntouched(r, text(65536));
  assert.equal(seenAcceptEncoding.get('/t?n=65536'), 'gzip, br');
});

test('show stat and Prometheus: comp_in, comp_out and comp_rsp count what was compressed', async () => {
  for (let i = 0; i < 12; i++) await h1(ports.web, '/t?n=4096', { 'Accept-Encoding': 'gzip' });
  let row: Record<string, string> = {};
  const deadline = Date.now() + 10000;
  for (;;) {
    const out = await unixCommand(sock, 'show stat\n');
    const [hdr, ...rows] = out.trim().split('\n');
    const cols = hdr.replace(/^# /, '').split(',');
    const line = rows.map((l) => l.split(',')).find((c) => c[0] === 'web' && c[1] === 'FRONTEND');
    row = Object.fromEntries(cols.map((c, i) => [c, line?.[i] ?? '']));
    if (Number(row.comp_rsp) > 10 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(Number(row.comp_rsp) > 10, `comp_rsp ${row.comp_rsp}`);
  assert.ok(Number(row.comp_in) > Number(row.comp_out), `comp_in ${row.comp_in} comp_out ${row.comp_out}`);
  assert.ok(Number(row.comp_out) > 0);
  const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^\\w+_frontend_${name}\\{proxy="web"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? -1);
  assert.ok(value('http_comp_responses_total') > 10, `frontend comp responses in Prometheus:\n${metrics.split('\n').filter((l) => l.includes('comp')).join('\n')}`);
  assert.ok(value('http_comp_bytes_in_total') > value('http_comp_bytes_out_total'));
  assert.ok(value('http_comp_bytes_out_total') > 0);
});

test('tslb -c: compression errors name file and path; zstd is refused where Node lacks it', async () => {
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `frontends:
  - name: web
    binds: ["127.0.0.1:8080"]
    options:
      - compression type text/html
      - compression algo lzma
    default_backend: app
backends:
  - name: app
    compression: { algos: [${hasZstd ? 'gzip' : 'zstd'}] }
    servers: [{ name: s1, address: 127.0.0.1, port: 8081 }]
  - name: tcp
    mode: tcp
    options: [compression algo gzip]
    servers: [{ name: s1, address: 127.0.0.1, port: 8082 }]
`,
  );
  const r = await runCli(['-c', '-f', file]);
  const out = r.stdout + r.stderr;
  assert.notEqual(r.code, 0);
  assert.match(out, /bad\.yaml:6:.*"lzma" is not a supported algorithm/);
  assert.match(out, /bad\.yaml:14:.*compression needs mode http/);
  if (!hasZstd) assert.match(out, /bad\.yaml:10:.*zstd needs Node 22\.15/);
  writeFileSync(file, `frontends:\n  - name: web\n    binds: ["127.0.0.1:8080"]\n    compression: { algos: [gzip], level: 12 }\n    default_backend: app\nbackends:\n  - name: app\n    servers: [{ name: s1, address: 127.0.0.1, port: 8081 }]\n`);
  const level = await runCli(['-c', '-f', file]);
  assert.notEqual(level.code, 0);
  assert.match(level.stdout + level.stderr, /bad\.yaml:4:.*frontends\[0\]\.compression\.level: must be 1\.\.9/);
});
