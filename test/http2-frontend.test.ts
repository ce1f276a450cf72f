/**
 * HTTP/2 on a real tslb's frontends: TLS binds offer h2 by ALPN (and fall back to
 * HTTP/1.1), plain binds with `h2c: true` take prior knowledge. Streams go through the
 * same routing, rules, persistence, logs and counters as HTTP/1.1 requests, to HTTP/1.1
 * servers: Node's http2 client, curl, nghttp and h2load are the clients.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { formatIssue, loadConfig } from '../src/config/load';
import { issueCert } from './helpers/certs';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { freePort, runProgram, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { h2request } from './helpers/h2client';

const hasCurlH2 = /HTTP2/.test(spawnSync('curl', ['--version']).stdout?.toString() ?? '');
const hasNghttp = spawnSync('nghttp', ['--version']).status === 0;
const hasH2load = spawnSync('h2load', ['--version']).status === 0;
const NO_NGHTTP2 = 'nghttp2-client not installed (Debian package nghttp2-client)';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const cert = issueCert(['localhost']);
const dir = tempDir('tslb-h2-fe-');
const caFile = path.join(dir, 'ca.pem');
writeFileSync(caFile, cert.ca);
writeFileSync(path.join(dir, 'site.pem'), cert.cert + cert.key);
const logFile = path.join(dir, 'access.log');

let lb: TslbProcess;
let app: HttpBackend;
let other: HttpBackend;
const ports = { tls: 0, h2c: 0, plain: 0, h1only: 0, metrics: 0 };

/** The backend's view of a request: what reached the HTTP/1.1 server. */
function describe(req: http.IncomingMessage, body: Buffer): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url,
    version: req.httpVersion,
    host: req.headers.host,
    cookie: req.headers.cookie,
    te: req.headers['transfer-encoding'] ?? null,
    added: req.headers['x-added'],
    length: body.length,
    sha: createHash('sha256').update(body).digest('hex'),
  };
}

function appHandler(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const url = req.url ?? '';
  if (url.startsWith('/bytes')) {
    const n = Number(new URL(url, 'http://x').searchParams.get('n'));
    const chunked = url.includes('chunked');
    res.writeHead(200, chunked ? { 'x-served-by': 'app' } : { 'x-served-by': 'app', 'content-length': n });
    const piece = Buffer.alloc(65536, 0x61);
    let left = n;
    const pump = (): void => {
      while (left > 0) {
        const k = Math.min(left, piece.length);
        left -= k;
        if (!res.write(piece.subarray(0, k))) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return true;
  }
  if (url === '/trailers') {
    res.writeHead(200, { 'x-served-by': 'app', trailer: 'x-check' });
    res.write('part1-');
    res.addTrailers({ 'x-check': 'ok' });
    res.end('part2');
    return true;
  }
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    const body = JSON.stringify(describe(req, Buffer.concat(parts)));
    res.writeHead(url === '/created' ? 201 : 200, {
      'x-served-by': 'app',
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
    });
    res.end(body);
  });
  return true;
}

before(async () => {
  app = await startHttpBackend('app', appHandler);
  other = await startHttpBackend('other');
  cleanups.push(() => app.close(), () => other.close());
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const pem = path.join(dir, 'site.pem');
  lb = await startTslb(`
global:
  workers: 1
  access_log: ${logFile}
  h2: { max_concurrent_streams: 50, initial_window_size: 1m }
frontends:
  - name: web
    mode: http
    binds:
      - { address: 127.0.0.1, port: ${ports.tls}, ssl: { certificates: ["${pem}"] } }
      - { address: 127.0.0.1, port: ${ports.h2c}, h2c: true }
      - { address: 127.0.0.1, port: ${ports.plain} }
      - { address: 127.0.0.1, port: ${ports.h1only}, ssl: { certificates: ["${pem}"], alpn: [http/1.1] } }
    use_backend:
      - { backend: other, if: "path_beg /other" }
    http_request:
      - { deny: { status: 403 }, if: "path_beg /denied" }
      - { set_header: { name: X-Added, value: "yes" } }
    http_response: [{ add_header: { name: X-Resp, value: fe } }]
    default_backend: app
    log: { format: httplog }
prometheus: { bind: "127.0.0.1:${ports.metrics}" }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
  - name: other
    mode: http
    servers: [{ name: o1, address: 127.0.0.1, port: ${other.port} }]
`);
  cleanups.push(() => lb.stop());
});

function h2connect(kind: 'tls' | 'h2c'): http2.ClientHttp2Session {
  const session =
    kind === 'tls'
      ? http2.connect(`https://localhost:${ports.tls}`, { ca: cert.ca, servername: 'localhost', host: '127.0.0.1' } as http2.SecureClientSessionOptions)
      : http2.connect(`http://127.0.0.1:${ports.h2c}`);
  session.on('error', () => undefined);
  return session;
}

async function until(cond: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function logLines(): string[] {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
}

async function waitForLine(pred: (l: string) => boolean, timeoutMs = 10000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = logLines().find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no matching log line; file has:\n${logLines().join('\n')}\nprocess output:\n${lb.logs()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of ['tls', 'h2c'] as const) {
  test(`${kind}: routing, request rules, :authority as Host, cookies joined, status codes, hop-by-hop headers dropped`, async () => {
    const s = h2connect(kind);
    try {
      const a = await h2request(s, { ':path': '/hello?x=1', ':authority': 'site.example', cookie: ['a=1', 'b=2'], 'x-custom': 'v' });
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-served-by'], 'app');
      assert.equal(a.headers.connection, undefined);
      assert.equal(a.headers['keep-alive'], undefined);
      const seen = JSON.parse(a.body.toString());
      assert.deepEqual(
        { method: seen.method, url: seen.url, version: seen.version, host: seen.host, cookie: seen.cookie, length: seen.length, added: seen.added },
        { method: 'GET', url: '/hello?x=1', version: '1.1', host: 'site.example', cookie: 'a=1; b=2', length: 0, added: 'yes' },
      );
      assert.equal(a.headers['x-resp'], 'fe');
      const routed = await h2request(s, { ':path': '/other/x' });
      assert.equal(routed.status, 200);
      assert.equal(routed.headers['x-served-by'], 'other');
      assert.equal(routed.body.toString(), 'hello from other\n');
      const denied = await h2request(s, { ':path': '/denied' });
      assert.equal(denied.status, 403);
      const created = await h2request(s, { ':method': 'POST', ':path': '/created' }, Buffer.from('x'));
      assert.equal(created.status, 201);
      assert.equal(JSON.parse(created.body.toString()).length, 1);
      const head = await h2request(s, { ':method': 'HEAD', ':path': '/hello' });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
    } finally {
      s.close();
    }
  });
}

test('global h2 settings (tune.h2.*) are what the client is told in SETTINGS', async () => {
  const s = h2connect('tls');
  try {
    const settings = await new Promise<http2.Settings>((resolve) => s.once('remoteSettings', resolve));
    assert.equal(settings.maxConcurrentStreams, 50);
    assert.equal(settings.initialWindowSize, 1 << 20);
    assert.equal(settings.maxHeaderListSize, 65536);
  } finally {
    s.close();
  }
});

test('tls: 16 MiB streamed both ways (upload without content-length goes chunked to the server), 1 byte, chunked response de-chunked with trailers', async () => {
  const s = h2connect('tls');
  try {
    const big = randomBytes(16 << 20);
    const up = await h2request(s, { ':method': 'POST', ':path': '/upload' }, big);
    assert.equal(up.status, 200);
    const seen = JSON.parse(up.body.toString());
    assert.equal(seen.length, big.length);
    assert.equal(seen.sha, createHash('sha256').update(big).digest('hex'));
    assert.equal(seen.te, 'chunked');
    const one = await h2request(s, { ':method': 'POST', ':path': '/one', 'content-length': '1' }, Buffer.from('z'));
    const oneSeen = JSON.parse(one.body.toString());
    assert.deepEqual([oneSeen.length, oneSeen.te], [1, null]);
    const down = await h2request(s, { ':path': '/bytes?n=' + (16 << 20) });
    assert.equal(down.status, 200);
    assert.equal(down.body.length, 16 << 20);
    assert.equal(down.headers['content-length'], String(16 << 20));
    const downChunked = await h2request(s, { ':path': '/bytes?chunked&n=' + (3 << 20) });
    assert.equal(downChunked.body.length, 3 << 20);
    assert.ok(downChunked.body.every((b) => b === 0x61), 'no chunk framing in the DATA');
    const t = await h2request(s, { ':path': '/trailers' });
    assert.equal(t.body.toString(), 'part1-part2');
    assert.equal(t.trailers['x-check'], 'ok');
    const tiny = await h2request(s, { ':path': '/bytes?n=1' });
    assert.equal(tiny.body.length, 1);
  } finally {
    s.close();
  }
});

test('ALPN: h2 offered by default, HTTP/1.1 for clients without h2, `alpn: [http/1.1]` turns h2 off; plain binds stay HTTP/1.1', async () => {
  const negotiate = (port: number, protocols: string[] | undefined) =>
    new Promise<string | false>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: cert.ca, ALPNProtocols: protocols }, () => {
        const p = sock.alpnProtocol ?? false;
        // An HTTP/1.1 request on what was negotiated without h2 is answered as HTTP/1.1.
        if (p !== 'h2') sock.write('GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
        else sock.end();
        let out = '';
        sock.on('data', (d) => (out += d));
        sock.on('end', () => resolve(p === 'h2' ? p : `${p} ${out.split('\r\n')[0]}`));
      });
      sock.on('error', reject);
    });
  assert.equal(await negotiate(ports.tls, ['h2', 'http/1.1']), 'h2');
  assert.equal(await negotiate(ports.tls, ['http/1.1']), 'http/1.1 HTTP/1.1 200 OK');
  assert.equal(await negotiate(ports.tls, undefined), 'false HTTP/1.1 200 OK');
  assert.equal(await negotiate(ports.h1only, ['h2', 'http/1.1']), 'http/1.1 HTTP/1.1 200 OK');
  const res = await fetch(`http://127.0.0.1:${ports.plain}/x`);
  assert.equal(res.status, 200);
});

test('httplog shows HTTP/2.0 for streams, with the same fields as HTTP/1.1', async () => {
  const s = h2connect('tls');
  try {
    await h2request(s, { ':path': '/logged-h2' });
  } finally {
    s.close();
  }
  await fetch(`http://127.0.0.1:${ports.plain}/logged-h1`);
  const h2line = await waitForLine((l) => l.includes('/logged-h2'));
  const h1line = await waitForLine((l) => l.includes('/logged-h1'));
  assert.match(h2line, /web~ app\/s1 .* 200 .* "GET \/logged-h2 HTTP\/2\.0"$/);
  assert.match(h1line, /web app\/s1 .* 200 .* "GET \/logged-h1 HTTP\/1\.1"$/);
});

test('Prometheus counts h2 streams as HTTP requests and responses, and the connection once', async () => {
  const metric = async (re: RegExp): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const responses = /^tslb_backend_http_responses_total\{proxy="other",code="2xx"\} (\d+)$/m;
  const requests = /^tslb_frontend_http_requests_total\{proxy="web"\} (\d+)$/m;
  const connections = /^tslb_frontend_connections_total\{proxy="web"\} (\d+)$/m;
  // Workers report their counters every second: a reading 1.2 s after the last request has them all.
  const settled = async (): Promise<number[]> => {
    await new Promise((r) => setTimeout(r, 1200));
    return [await metric(responses), await metric(requests), await metric(connections)];
  };
  const before = await settled();
  const s = h2connect('h2c');
  try {
    for (let i = 0; i < 3; i++) assert.equal((await h2request(s, { ':path': '/other/' + i })).status, 200);
  } finally {
    s.close();
  }
  await until(async () => (await metric(responses)) >= before[0] + 3);
  const after = await settled();
  assert.deepEqual([after[0] - before[0], after[1] - before[1], after[2] - before[2]], [3, 3, 1]);
});

test('curl --http2 (TLS) and --http2-prior-knowledge (h2c)', { skip: !hasCurlH2 && 'curl without HTTP/2 support' }, async () => {
  const a = await runProgram('curl', [
    '-s', '--http2', '--cacert', caFile, '--resolve', `localhost:${ports.tls}:127.0.0.1`, '-w', ' %{http_version} %{response_code}',
    `https://localhost:${ports.tls}/other/`,
  ]);
  assert.equal(a.stdout, 'hello from other\n 2 200', a.stderr);
  const b = await runProgram('curl', ['-s', '--http2-prior-knowledge', '-w', ' %{http_version} %{response_code}', `http://127.0.0.1:${ports.h2c}/other/`]);
  assert.equal(b.stdout, 'hello from other\n 2 200', b.stderr);
});

test('nghttp: trailers and a 1 MiB upload over TLS', { skip: !hasNghttp && NO_NGHTTP2 }, async () => {
  const file = path.join(dir, 'up.bin');
  const body = randomBytes(1 << 20);
  writeFileSync(file, body);
  const r = await runProgram('nghttp', ['-d', file, `https://127.0.0.1:${ports.tls}/up`]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).sha, createHash('sha256').update(body).digest('hex'));
  const t = await runProgram('nghttp', ['-v', `https://127.0.0.1:${ports.tls}/trailers`]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /x-check: ok/);
});

test('h2load: 2,000 requests over 4 connections x 10 streams, none failed (TLS and h2c)', { skip: !hasH2load && NO_NGHTTP2 }, async () => {
  for (const url of [`https://127.0.0.1:${ports.tls}/other/`, `http://127.0.0.1:${ports.h2c}/other/`]) {
    const r = await runProgram('h2load', ['-n', '2000', '-c', '4', '-m', '10', url], 60000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/, r.stdout);
  }
});

test('config: http TLS binds offer h2,http/1.1 unless alpn says otherwise, tcp ones nothing; h2c only on plain http binds; h2 settings checked', () => {
  const pem = path.join(dir, 'site.pem');
  const load = (yaml: string, name: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, yaml);
    return loadConfig([file]);
  };
  const good = load(
    `
frontends:
  - { name: web, mode: http, binds: [{ address: 127.0.0.1, port: 18443, ssl: { certificates: ["${pem}"] } }, { address: 127.0.0.1, port: 18080, h2c: true }], default_backend: app }
  - { name: tls1, mode: http, binds: [{ address: 127.0.0.1, port: 18444, ssl: { certificates: ["${pem}"], alpn: [http/1.1] } }], default_backend: app }
  - { name: raw, mode: tcp, binds: [{ address: 127.0.0.1, port: 18445, ssl: { certificates: ["${pem}"] } }], default_backend: tcpapp }
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
  - { name: tcpapp, mode: tcp, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    'good.yaml',
  );
  assert.deepEqual(good.errors.map(formatIssue), []);
  const fes = good.model!.frontends;
  assert.deepEqual(fes[0].binds.map((b) => [b.tls?.alpn, b.h2c]), [[['h2', 'http/1.1'], false], [undefined, true]]);
  assert.deepEqual(fes[1].binds[0].tls?.alpn, ['http/1.1']);
  assert.deepEqual(fes[2].binds[0].tls?.alpn, []);
  assert.deepEqual(good.model!.global.h2, { maxConcurrentStreams: 100, initialWindowSize: 65535, maxHeaderListSize: 65536, headerTableSize: 4096 });
  // HAProxy's tune.h2.* global lines in global.options, and the YAML fields (which win over a line).
  const tuned = load(
    `
global:
  options: ["tune.h2.header-table-size 16k", "tune.h2.initial-window-size 1m", "tune.h2.max-concurrent-streams 20"]
  h2: { max_concurrent_streams: 30 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:18080"], default_backend: app }
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    'tuned.yaml',
  );
  assert.deepEqual(tuned.errors.map(formatIssue), []);
  assert.deepEqual(tuned.model!.global.h2, { maxConcurrentStreams: 30, initialWindowSize: 1 << 20, maxHeaderListSize: 65536, headerTableSize: 16384 });
  const bad = load(
    `
global:
  h2: { initial_window_size: 1000, header_table_size: 2048 }
  options: ["tune.h2.header-table-size 128k", "tune.h2.max-concurrent-stream 5", "tune.h2.initial-window-size"]
frontends:
  - { name: web, mode: http, binds: [{ address: 127.0.0.1, port: 18443, h2c: true, ssl: { certificates: ["${pem}"] } }], default_backend: app }
  - { name: raw, mode: tcp, binds: [{ address: 127.0.0.1, port: 18445, h2c: true }], default_backend: tcpapp }
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
  - { name: tcpapp, mode: tcp, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    'bad.yaml',
  );
  const messages = bad.errors.map((e) => e.message);
  assert.ok(messages.some((m) => /h2c is for plain binds/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /h2c needs mode http/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /initial_window_size must be 65535/.test(m)), messages.join('\n'));
  const at = (p: string) => bad.errors.filter((e) => formatIssue(e).includes(p)).map((e) => e.message);
  assert.deepEqual(at('global.h2.header_table_size'), ['header_table_size must be 4096..65536 (got 2048)']);
  assert.match(at('global.options[1]').join(), /unsupported global line "tune\.h2\.max-concurrent-stream".*did you mean "tune\.h2\.max-concurrent-streams"/);
  assert.deepEqual(at('global.options[2]'), ['tune.h2.initial-window-size takes one value']);
});
