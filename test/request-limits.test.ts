/**
 * Request filtering through a real tslb: `max_body_size` answers 413 for a larger
 * Content-Length before reading the body, and for a chunked body as soon as the chunk
 * that passes the limit is announced, while it streams; no complete request reaches
 * the server, and a body within the limit goes through. A method allowlist (405),
 * normalize-uri before a path rule, bad escapes and raw control bytes (400): each
 * gets its status and nothing reaches the server. The body limit and the header-count
 * limit (global max_headers) hold on HTTP/2 streams too (h2c, Node's client).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { exchange } from './helpers/rawhttp';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let backend: HttpBackend;
/** Request bodies the server received whole, by length. */
const bodies: number[] = [];
/** Request targets the server received. */
const urls: string[] = [];
let port: number;
let filterPort: number;
let presetPort: number;
let h2Port: number;
let lb: TslbProcess;

before(async () => {
  backend = await startHttpBackend('app', (req, res) => {
    urls.push(req.url!);
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => {
      bodies.push(n);
      res.end('ok');
    });
    return true;
  });
  cleanups.push(() => backend.close());
  port = await freePort();
  filterPort = await freePort();
  presetPort = await freePort();
  h2Port = await freePort();
  lb = await startTslb(`
global: { max_headers: 20 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}", { address: 127.0.0.1, port: ${h2Port}, h2c: true }]
    default_backend: app
    max_body_size: 1k
  - name: filter
    mode: http
    binds: ["127.0.0.1:${filterPort}"]
    default_backend: app
    options:
      - http-request deny deny_status 405 if !{ method GET HEAD POST }
      - http-request normalize-uri path-merge-slashes
      - http-request normalize-uri path-strip-dotdot full
      - http-request normalize-uri percent-decode-unreserved strict
      - http-request deny if { path_beg /admin }
      - http-request deny deny_status 414 if { url -m len gt 2048 }
  - name: public
    mode: http
    binds: ["127.0.0.1:${presetPort}"]
    default_backend: app
    protection: { preset: public, requests_per_10s: 5, connections_per_address: 2 }
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
`);
  cleanups.push(() => lb.stop());
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const chunk = (n: number) => `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;

test('max_body_size 1k: a Content-Length of 1025 gets 413 before the body is read; 1024 goes through', async () => {
  const big = await exchange(port, Buffer.from(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n`), { until: (r) => r.length > 0 });
  assert.equal(big.responses[0]?.status, 413);
  const fits = await exchange(port, Buffer.from(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n${'y'.repeat(1024)}`), { until: (r) => r.length > 0 });
  assert.equal(fits.responses[0]?.status, 200);
  assert.deepEqual(bodies, [1024], 'only the body within the limit reached the server');
});

test('max_body_size 1k, chunked: 413 when the chunk passing 1k is announced, while the body streams; the server never gets the whole request', async () => {
  bodies.length = 0;
  const head = 'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
  // 600 bytes go to the server first; the next 600-byte chunk, 300 ms later, passes the limit.
  const r = await exchange(port, Buffer.alloc(0), {
    pieces: [Buffer.from(head + chunk(600)), Buffer.from(chunk(600) + '0\r\n\r\n')],
    pauseMs: 300,
    until: (res) => res.length > 0,
    timeoutMs: 5000,
  });
  assert.equal(r.responses[0]?.status, 413);
  const fits = await exchange(port, Buffer.from(head + chunk(500) + chunk(524) + '0\r\n\r\n'), { until: (res) => res.length > 0 });
  assert.equal(fits.responses[0]?.status, 200);
  await sleep(100);
  assert.deepEqual(bodies, [1024], 'the cut body never ended at the server');
});

const status = async (p: number, raw: string) => (await exchange(p, Buffer.from(raw, 'latin1'), { until: (r) => r.length > 0 })).responses[0]?.status;

test('filters: a method outside the allowlist gets 405, a path normalised onto /admin 403, a bad escape or a raw NUL 400, a URL past 2048 bytes 414, and none reaches the server; a normalised path goes to the server', async () => {
  urls.length = 0;
  assert.equal(await status(filterPort, 'DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n'), 405);
  assert.equal(await status(filterPort, 'GET /public/..//%61dmin/x HTTP/1.1\r\nHost: h\r\n\r\n'), 403);
  assert.equal(await status(filterPort, 'GET /../../admin HTTP/1.1\r\nHost: h\r\n\r\n'), 403);
  assert.equal(await status(filterPort, 'GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  assert.equal(await status(filterPort, 'GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  assert.equal(await status(filterPort, 'GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  const long = await exchange(filterPort, Buffer.from(`GET /${'u'.repeat(2048)} HTTP/1.1\r\nHost: h\r\n\r\n`), { until: (r) => r.length > 0 });
  assert.equal(long.responses[0]?.startLine, 'HTTP/1.1 414 URI Too Long');
  assert.deepEqual(urls, [], 'nothing reached the server');
  assert.equal(await status(filterPort, 'GET //a///b/../c/%7Euser/%2F?q=%41 HTTP/1.1\r\nHost: h\r\n\r\n'), 200);
  assert.deepEqual(urls, ['/a/c/~user/%2F?q=A']);
});

test('protection: public (5 requests per 10 s and 2 connections per address given): the 6th request gets 429, paths are normalised, a body over 10m gets 413, a 3rd connection is closed', async () => {
  urls.length = 0;
  const statuses: number[] = [];
  // 50 ms apart: the workers see each other's counts within a few ms (test/stick-http.test.ts bounds it).
  for (let i = 0; i < 6; i++) {
    statuses.push((await status(presetPort, `GET //p/x/../${i} HTTP/1.1\r\nHost: h\r\n\r\n`))!);
    await sleep(50);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  assert.deepEqual(urls, ['/p/0', '/p/1', '/p/2', '/p/3', '/p/4']);
  const open = (): Promise<net.Socket> =>
    new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: presetPort, localAddress: '127.0.0.21' }, () => resolve(s));
      s.on('error', () => undefined);
    });
  const held = [await open(), await open()];
  await sleep(200);
  const third = await open();
  const closed = await new Promise<boolean>((resolve) => {
    third.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 3000);
  });
  for (const s of held) s.destroy();
  assert.ok(closed, 'the 3rd concurrent connection from one address is closed');
  const big = await exchange(presetPort, Buffer.from(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${10 * 1024 * 1024 + 1}\r\n\r\n`), { until: (r) => r.length > 0 });
  assert.equal(big.responses[0]?.status, 413);
});

/**
 * One HTTP/2 request on its own h2c connection: `pieces` of body sent `pauseMs` apart
 * (the stream ends after the last); resolves with the status, 0 if the stream was reset first.
 */
function h2Request(headers: http2.OutgoingHttpHeaders, pieces: Buffer[] = [], pauseMs = 0): Promise<number> {
  return new Promise((resolve) => {
    const client = http2.connect(`http://127.0.0.1:${h2Port}`);
    client.on('error', () => undefined);
    const req = client.request({ ':method': pieces.length ? 'POST' : 'GET', ':path': '/up', ...headers }, { endStream: pieces.length === 0 });
    let status = 0;
    const done = () => {
      client.close();
      resolve(status);
    };
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('error', () => undefined);
    req.on('close', done);
    req.resume();
    const send = (i: number) => {
      if (i >= pieces.length || req.closed) return;
      if (i === pieces.length - 1) req.end(pieces[i]);
      else req.write(pieces[i]);
      setTimeout(() => send(i + 1), pauseMs);
    };
    send(0);
  });
}

test('max_body_size 1k on HTTP/2: a content-length of 1025 gets 413 at once; DATA passing 1k without a content-length gets 413 while the body streams; 1024 bytes go through', async () => {
  bodies.length = 0;
  assert.equal(await h2Request({ 'content-length': '1025' }, [Buffer.alloc(1025, 'x')]), 413);
  // 600 bytes reach the server first; the next 600, 300 ms later, pass the limit.
  assert.equal(await h2Request({}, [Buffer.alloc(600, 'x'), Buffer.alloc(600, 'x')], 300), 413);
  assert.equal(await h2Request({ 'content-length': '1200' }, [Buffer.alloc(600, 'x'), Buffer.alloc(600, 'x')], 300), 413);
  assert.equal(await h2Request({}, [Buffer.alloc(500, 'y'), Buffer.alloc(524, 'y')], 100), 200);
  assert.equal(await h2Request({ 'content-length': '1024' }, [Buffer.alloc(1024, 'y')]), 200);
  await sleep(100);
  assert.deepEqual(bodies, [1024, 1024], 'only the bodies within the limit ended at the server');
});

test('max_headers 20 (HAProxy tune.http.maxhdr): 21 header lines get 431 on HTTP/1.1 and more than 20 fields on HTTP/2; 20 go through', async () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
  assert.equal(await status(port, `GET / HTTP/1.1\r\nHost: h\r\n${lines(19)}\r\n`), 200);
  assert.equal(await status(port, `GET / HTTP/1.1\r\nHost: h\r\n${lines(20)}\r\n`), 431);
  const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
  // :authority becomes the Host line: 19 fields make 20 lines.
  assert.equal(await h2Request(fields(19)), 200);
  assert.equal(await h2Request(fields(21)), 431);
});
