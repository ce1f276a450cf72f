/**
 * HAProxy's HTTP cache through a real tslb: `caches:` (native keys and the cache
 * section's lines), `http-request cache-use` and `http-response cache-store` (YAML rule
 * keys and the HAProxy lines). A counting backend shows which requests reached it: the
 * second identical GET is answered from the cache with an `Age`, over HTTP/1.1 and
 * HTTP/2; a conditional request gets 304; what RFC 9111 and HAProxy do not store is not
 * stored; entries expire; the store evicts the least recently used entry past
 * total-max-size; `show cache`, `show stat` and Prometheus report the cache.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatIssue, loadConfig } from '../src/config/load';
import { tcpCommand } from './helpers/runtime-api';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Requests the backend received, by target. */
const seen = new Map<string, number>();
const count = (target: string) => seen.get(target) ?? 0;
const LAST_MODIFIED = 'Wed, 21 Oct 2026 07:28:00 GMT';

/**
 * The counting backend: the query says how to answer (`cc` Cache-Control, `size` body
 * bytes, `varied` a body of varied bytes sent in two writes 50 ms apart, `chunked`, `status`,
 * `cookie`, `vary`, `expires` seconds from now, `age`).
 */
function backendHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const target = req.url!;
  seen.set(target, count(target) + 1);
  const q = new URL(target, 'http://x').searchParams;
  const body = Buffer.alloc(Number(q.get('size') ?? 0) || 0, 'x');
  const text = body.length ? body : Buffer.from(`${req.method} ${target} #${count(target)} ae=${req.headers['accept-encoding'] ?? ''}`);
  res.statusCode = Number(q.get('status') ?? 200);
  res.setHeader('Cache-Control', q.get('cc') ?? 'max-age=60');
  res.setHeader('ETag', '"v1"');
  res.setHeader('Last-Modified', LAST_MODIFIED);
  if (q.get('cookie')) res.setHeader('Set-Cookie', 'sid=1');
  if (q.get('vary')) res.setHeader('Vary', q.get('vary')!);
  if (q.get('age')) res.setHeader('Age', q.get('age')!);
  if (q.get('expires')) {
    res.removeHeader('Cache-Control');
    res.setHeader('Expires', new Date(Date.now() + Number(q.get('expires')) * 1000).toUTCString());
  }
  if (!q.get('chunked')) res.setHeader('Content-Length', text.length);
  if (q.get('varied') && req.method !== 'HEAD') {
    for (let i = 0; i < text.length; i++) text[i] = (i * 7 + (i >> 8)) & 255;
    res.write(text.subarray(0, text.length >> 1));
    setTimeout(() => res.end(text.subarray(text.length >> 1)), 50);
    return;
  }
  res.end(req.method === 'HEAD' ? undefined : text);
}

let lb: TslbProcess;
let accessLog: string;
const ports = { native: 0, lines: 0, h2c: 0, api: 0, metrics: 0, app: 0 };

before(async () => {
  const app = http.createServer(backendHandler);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => app.close(r)));
  ports.app = (app.address() as { port: number }).port;
  for (const k of ['native', 'lines', 'h2c', 'api', 'metrics'] as const) ports[k] = await freePort();
  accessLog = path.join(tempDir(), 'access.log');
  lb = await startTslb(`
global: { workers: 1, access_log: ${accessLog} }
caches:
  - { name: web, total_max_size: 1, max_object_size: 400000, max_age: 240, process_vary: true, max_secondary_entries: 2 }
  - name: lines
    options: ["total-max-size 4", "max-age 120", "process-vary off"]
frontends:
  - name: native
    mode: http
    binds:
      - "127.0.0.1:${ports.native}"
      - { address: 127.0.0.1, port: ${ports.h2c}, h2c: true }
    log: { format: httplog }
    http_request:
      - { cache_use: web }
    http_response:
      - { cache_store: web }
    default_backend: app
  - name: lines
    mode: http
    binds: ["127.0.0.1:${ports.lines}"]
    default_backend: cached
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: ${ports.app} }]
  - name: cached
    options:
      - "http-request cache-use lines if { path_beg /c/ }"
      - "http-response cache-store lines"
    servers: [{ name: a1, address: 127.0.0.1, port: ${ports.app} }]
runtime_api: { tcp: "127.0.0.1:${ports.api}", level: admin }
prometheus: { bind: "127.0.0.1:${ports.metrics}" }
`);
  cleanups.push(() => lb.stop());
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request on a fresh connection. */
function get(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, headers: { host: 'lb.test', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The body of one HTTP/1.1 GET, as bytes. */
function getBytes(port: number, target: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: target, headers: { host: 'lb.test' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

const native = (target: string, headers?: Record<string, string>, method?: string) => get(ports.native, target, headers, method);

test('the second identical GET is served from the cache with an Age, without reaching the backend', async () => {
  const first = await native('/hit');
  assert.equal(first.status, 200);
  assert.equal(first.headers.age, undefined);
  const second = await native('/hit');
  assert.equal(second.status, 200);
  assert.equal(second.body, first.body);
  assert.match(String(second.headers.age), /^\d+$/);
  assert.equal(second.headers.etag, '"v1"');
  assert.equal(second.headers['content-length'], String(first.body.length));
  assert.equal(count('/hit'), 1);
  // HAProxy's log names the cache as the server.
  let log = '';
  for (let i = 0; i < 50 && !/ native native\/<CACHE> .* 200 .*"GET \/hit HTTP\/1\.1"/.test(log); i++) {
    await new Promise((r) => setTimeout(r, 100));
    log = readFileSync(accessLog, 'utf8');
  }
  assert.match(log, / native app\/a1 .*"GET \/hit HTTP\/1\.1"/);
  assert.match(log, / native native\/<CACHE> \S+ 200 .* ---- .*"GET \/hit HTTP\/1\.1"/);
  // Another Host is another object.
  await native('/hit', { host: 'other.test' });
  assert.equal(count('/hit'), 2);
});

test('a conditional request is answered 304 from the cache (If-None-Match, If-Modified-Since)', async () => {
  await native('/cond');
  const inm = await native('/cond', { 'if-none-match': '"v0", W/"v1"' });
  assert.equal(inm.status, 304);
  assert.equal(inm.body, '');
  assert.equal(inm.headers.etag, '"v1"');
  assert.ok(inm.headers.age !== undefined);
  const ims = await native('/cond', { 'if-modified-since': 'Thu, 22 Oct 2026 07:28:00 GMT' });
  assert.equal(ims.status, 304);
  const older = await native('/cond', { 'if-modified-since': 'Tue, 20 Oct 2026 07:28:00 GMT' });
  assert.equal(older.status, 200);
  const otherTag = await native('/cond', { 'if-none-match': '"v2"' });
  assert.equal(otherTag.status, 200);
  assert.equal(count('/cond'), 1);
});

test('HEAD is answered from the GET entry, without a body', async () => {
  const full = await native('/head');
  const head = await native('/head', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], String(full.body.length));
  assert.ok(head.headers.age !== undefined);
  assert.equal(count('/head'), 1);
});

test('responses that must not be stored reach the backend every time', async () => {
  const cases: [string, Record<string, string>?][] = [
    ['/n?cc=no-store'],
    ['/n?cc=private'],
    ['/n?cc=no-cache'],
    ['/n?cc=max-age%3D0'],
    ['/n?cc=s-maxage%3D0'],
    ['/n?cookie=1'],
    ['/n?status=404'],
    ['/n?vary=user-agent'],
    ['/n?vary=*'],
    ['/n?size=500000'],
    ['/n?size=500000&chunked=1'],
    ['/n?age=70&cc=max-age%3D60'],
    ['/n?auth=1', { authorization: 'Basic dTpw' }],
    ['/n?reqnostore=1', { 'cache-control': 'no-store' }],
  ];
  for (const [target, headers] of cases) {
    await native(target, headers);
    await native(target, headers);
    assert.equal(count(target), 2, `${target} was served from the cache`);
  }
});

test('a response to a request with Authorization is stored when it says public or s-maxage (RFC 9111 3.5)', async () => {
  for (const target of ['/auth?cc=public%2C%20max-age%3D60', '/auth?cc=s-maxage%3D60']) {
    await native(target, { authorization: 'Basic dTpw' });
    const again = await native(target);
    assert.ok(again.headers.age !== undefined, target);
    assert.equal(count(target), 1, target);
  }
});

test('Set-Cookie with public, and chunked bodies, are stored', async () => {
  for (const target of ['/s?cookie=1&cc=public%2Cmax-age%3D60', '/s?chunked=1', '/s?chunked=1&size=3000']) {
    const first = await native(target);
    const second = await native(target);
    assert.equal(second.body, first.body, target);
    assert.equal(second.headers['content-length'], String(first.body.length), target);
    assert.equal(count(target), 1, target);
  }
});

test('a body that reaches tslb in several reads is stored byte for byte (Content-Length and chunked)', async () => {
  for (const target of ['/multi?varied=1&size=300000', '/multi?varied=1&size=300000&chunked=1']) {
    const first = await getBytes(ports.native, target);
    const second = await getBytes(ports.native, target);
    assert.equal(count(target), 1, `${target}: the second GET is a hit`);
    assert.equal(first.length, 300000, target);
    assert.ok(second.equals(first), `${target}: the cached body is the server's`);
  }
});

test('the request can bypass the cache (Cache-Control: no-cache, Pragma: no-cache)', async () => {
  await native('/bypass');
  await native('/bypass', { 'cache-control': 'no-cache' });
  await native('/bypass', { pragma: 'no-cache' });
  assert.equal(count('/bypass'), 3);
  await native('/bypass');
  assert.equal(count('/bypass'), 3);
});

test('process-vary: one entry per Accept-Encoding value, max-secondary-entries of them', async () => {
  const gz = await native('/vary?vary=accept-encoding', { 'accept-encoding': 'gzip' });
  const br = await native('/vary?vary=accept-encoding', { 'accept-encoding': 'br' });
  assert.equal(count('/vary?vary=accept-encoding'), 2);
  assert.equal((await native('/vary?vary=accept-encoding', { 'accept-encoding': 'gzip' })).body, gz.body);
  assert.equal((await native('/vary?vary=accept-encoding', { 'accept-encoding': 'br' })).body, br.body);
  assert.equal(count('/vary?vary=accept-encoding'), 2);
  // max_secondary_entries 2: a third variant is not stored.
  await native('/vary?vary=accept-encoding', { 'accept-encoding': 'deflate' });
  await native('/vary?vary=accept-encoding', { 'accept-encoding': 'deflate' });
  assert.equal(count('/vary?vary=accept-encoding'), 4);
  // A URL's only variant refreshed by a request that bypassed the cache replaces the stored one.
  const one = '/vary1?vary=accept-encoding';
  const old = await native(one, { 'accept-encoding': 'gzip' });
  const fresh = await native(one, { 'accept-encoding': 'gzip', 'cache-control': 'no-cache' });
  assert.notEqual(fresh.body, old.body);
  assert.equal((await native(one, { 'accept-encoding': 'gzip' })).body, fresh.body);
  assert.equal(count(one), 2);
});

test('a successful unsafe method invalidates the URL', async () => {
  await native('/inv');
  await native('/inv');
  assert.equal(count('/inv'), 1);
  assert.equal((await native('/inv', {}, 'POST')).status, 200);
  await native('/inv');
  assert.equal(count('/inv'), 3);
});

test('entries expire: max-age, s-maxage over max-age, Expires', async () => {
  const targets = ['/exp?cc=max-age%3D1', '/exp?cc=s-maxage%3D1%2C%20max-age%3D60', '/exp?expires=2'];
  for (const t of targets) await native(t);
  for (const t of targets) await native(t);
  for (const t of targets) assert.equal(count(t), 1, t);
  await new Promise((r) => setTimeout(r, 2600));
  for (const t of targets) await native(t);
  for (const t of targets) assert.equal(count(t), 2, t);
});

test('HTTP/2: the second GET is a hit with an Age and a conditional GET gets 304', async () => {
  const s = http2.connect(`http://127.0.0.1:${ports.h2c}`);
  cleanups.push(async () => s.close());
  const h2get = (target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> =>
    new Promise((resolve, reject) => {
      const st = s.request({ ':path': target, ':authority': 'lb.test', ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      st.on('response', (h) => (head = h));
      st.on('data', (d) => chunks.push(d));
      st.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }));
      st.on('error', reject);
    });
  const first = await h2get('/h2');
  const second = await h2get('/h2');
  assert.equal(second.status, 200);
  assert.equal(second.body, first.body);
  assert.match(String(second.headers.age), /^\d+$/);
  assert.equal(count('/h2'), 1);
  const cond = await h2get('/h2', { 'if-none-match': '"v1"' });
  assert.equal(cond.status, 304);
  assert.equal(cond.body, '');
  const head = await h2get('/h2', { ':method': 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  // An entry stored from HTTP/1.1 is served over HTTP/2 and the other way round.
  await native('/both');
  assert.equal((await h2get('/both')).status, 200);
  assert.match(String((await native('/h2')).headers.age), /^\d+$/);
  assert.equal(count('/both'), 1);
  assert.equal(count('/h2'), 1);
});

test('the HAProxy lines: cache section options, cache-use with a condition in a backend', async () => {
  const lines = (t: string) => get(ports.lines, t);
  await lines('/c/one');
  await lines('/c/one');
  assert.equal(count('/c/one'), 1);
  await lines('/d/one');
  await lines('/d/one');
  assert.equal(count('/d/one'), 2, 'cache-use skipped by its condition: no key, nothing stored');
  // process-vary off: any Vary is not stored.
  await lines('/c/v?vary=accept-encoding');
  await lines('/c/v?vary=accept-encoding');
  assert.equal(count('/c/v?vary=accept-encoding'), 2);
});

test('show cache, show stat and Prometheus report the caches', async () => {
  const show = await tcpCommand(ports.api, 'show cache\n');
  assert.match(show, /^0x[0-9a-f]+: web \(shctx:0x[0-9a-f]+, available blocks:\d+\)$/m);
  assert.match(show, /^0x[0-9a-f]+: lines \(shctx:0x[0-9a-f]+, available blocks:\d+\)$/m);
  assert.match(show, /^0x[0-9a-f]+ hash:\d+ vary:0x0{40} type:full size:\d+ \(\d+ blocks\), refcount:0, expire:\d+$/m);
  assert.match(show, /vary:0x(?!0{40})[0-9a-f]{40}/, 'the Accept-Encoding variants');
  // Counters reach the primary with the workers' periodic reports: wait until two reads agree.
  let fe: string[] = [];
  let be: string[] = [];
  let header: string[] = [];
  let previous = '';
  for (let i = 0; i < 50; i++) {
    const csv = (await tcpCommand(ports.api, 'show stat\n')).split('\n');
    header = csv[0].replace(/^# /, '').split(',');
    fe = csv.find((l) => l.startsWith('native,FRONTEND,'))!.split(',');
    be = csv.find((l) => l.startsWith('cached,BACKEND,'))!.split(',');
    const now = [fe, be].map((r) => `${r[header.indexOf('cache_lookups')]}/${r[header.indexOf('cache_hits')]}`).join(' ');
    if (now === previous && Number(be[header.indexOf('cache_hits')]) > 0) break;
    previous = now;
    await new Promise((r) => setTimeout(r, 300));
  }
  const lookups = Number(fe[header.indexOf('cache_lookups')]);
  const hits = Number(fe[header.indexOf('cache_hits')]);
  assert.ok(hits > 10 && lookups > hits, `frontend lookups ${lookups} hits ${hits}`);
  assert.equal(be[header.indexOf('cache_hits')], '1');
  assert.equal(be[header.indexOf('cache_lookups')], '4');
  const metrics = await new Promise<string>((resolve, reject) => {
    http.get(`http://127.0.0.1:${ports.metrics}/metrics`, (res) => {
      let out = '';
      res.on('data', (d) => (out += d));
      res.on('end', () => resolve(out));
    }).on('error', reject);
  });
  // The exporter's prefix is tslb unless `prometheus.prefix` says haproxy.
  assert.match(metrics, new RegExp(`^tslb_frontend_http_cache_hits_total\\{proxy="native"\\} ${hits}$`, 'm'));
  assert.match(metrics, new RegExp(`^tslb_frontend_http_cache_lookups_total\\{proxy="native"\\} ${lookups}$`, 'm'));
  assert.match(metrics, /^tslb_backend_http_cache_hits_total\{proxy="cached"\} 1$/m);
});

test('tslb -c: an unknown cache, a misplaced action and a bad cache line name file and line', () => {
  const file = path.join(tempDir(), 'bad.yaml');
  writeFileSync(
    file,
    `caches:
  - { name: web, total_max_size: 4 }
  - name: bad
    options: ["total-max-size 0"]
frontends:
  - name: f
    mode: http
    binds: ["127.0.0.1:1"]
    http_request: [{ cache_use: wbe }]
    options: ["http-request cache-store web"]
    default_backend: b
backends:
  - { name: b, servers: [{ name: s, address: 127.0.0.1, port: 1 }] }
`,
  );
  const issues = loadConfig([file]).errors.map(formatIssue).join('\n');
  assert.match(issues, /bad\.yaml:4:\d+: caches\[1\]\.options\[0\]: total-max-size must be between 1 and 4095/);
  assert.match(issues, /bad\.yaml:9:\d+: .*cache-use: no cache named "wbe" \(did you mean "web"\?\)/);
  assert.match(issues, /bad\.yaml:10:\d+: .*"cache-store" is not an http-request action/);
});

test('past total-max-size the least recently used entry is evicted', async () => {
  // One worker holds the whole 1 MiB: three 390 kB objects do not fit.
  const [a, b, c] = ['/lru/a?size=390000', '/lru/b?size=390000', '/lru/c?size=390000'];
  await native(a);
  await native(b);
  await native(a); // hit: a is now the most recently used
  await native(c); // evicts b
  assert.equal(count(a), 1);
  await native(a);
  assert.equal(count(a), 1, 'a was evicted instead of b');
  await native(b);
  assert.equal(count(b), 2, 'b was not evicted');
});
