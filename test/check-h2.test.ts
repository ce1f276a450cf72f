/**
 * HTTP health checks over HTTP/2 through a real tslb against node:http2 servers: a
 * `proto h2` server's checks speak h2c (YAML `proto: h2`), a TLS server whose ALPN picks
 * h2 is checked over h2, `check-alpn h2` makes a TLS server's checks offer h2 (its traffic
 * stays HTTP/1.1), `check-proto h2` (line) and `check_proto: h2` (YAML) make the
 * checks of an HTTP/1.1 server speak h2 to its check port, `check-proto h1` makes a
 * `proto h2` server's checks speak HTTP/1.1 (an h2c-only server then fails them), and
 * `http-check expect` reads the h2 status, headers and body. `show stat` shows the results.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { startHttpBackend } from './helpers/backends';
import { issueCert } from './helpers/certs';
import { showStatWhen } from './helpers/runtime-api';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** What the h2 servers saw: one line per request, `<version> <method> <authority> <path>`. */
const seen: string[] = [];

function h2Handler(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  seen.push(`${req.httpVersion} ${req.method} ${req.headers[':authority']} ${req.url}`);
  if (req.url === '/sick') {
    res.writeHead(503, { 'content-type': 'text/plain' });
    return void res.end('not ready');
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-state': 'ready' });
  res.end('all good: h2');
}

async function listen(server: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllSessions?: () => void }).closeAllSessions?.();
      }),
  );
  return (server.address() as AddressInfo).port;
}

let lb: TslbProcess;
let port = 0;
const sock = path.join(tempDir('tslb-check-h2-'), 'api.sock');

before(async () => {
  const h2c = await listen(http2.createServer(h2Handler));
  const cert = issueCert(['localhost']);
  const h2tls = await listen(http2.createSecureServer({ cert: cert.cert, key: cert.key, allowHTTP1: true }, h2Handler));
  const h1 = await startHttpBackend('h1');
  cleanups.push(() => h1.close());
  port = await freePort();
  lb = await startTslb(`
global: { workers: 1 }
runtime_api: { socket: ${sock}, level: admin }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    mode: http
    options:
      - option httpchk GET /health
      - http-check send hdr Host health.example
      - http-check expect rstring ^all.good
    servers:
      - { name: c, address: 127.0.0.1, port: ${h2c}, proto: h2, check: true, inter: 200ms }
      - { name: t, address: 127.0.0.1, port: ${h2tls}, options: "ssl verify none alpn h2,http/1.1 check inter 200ms" }
      - { name: f, address: 127.0.0.1, port: ${h1.port}, options: "check port ${h2c} check-proto h2 inter 200ms" }
      - { name: y, address: 127.0.0.1, port: ${h1.port}, check_proto: h2, options: "check port ${h2c} inter 200ms" }
      - { name: z, address: 127.0.0.1, port: ${h2tls}, options: "ssl verify none check-alpn h2 check inter 200ms" }
      - { name: x, address: 127.0.0.1, port: ${h2c}, options: "proto h2 check-proto h1 check inter 200ms fall 1" }
  - name: sick
    mode: http
    options: ["option httpchk GET /sick", "http-check expect status 200"]
    servers:
      - { name: s, address: 127.0.0.1, port: ${h2c}, proto: h2, check: true, inter: 200ms, fall: 1 }
  - name: hdr
    mode: http
    options: ["option httpchk GET /", "http-check expect hdr name x-state value ready"]
    servers:
      - { name: h, address: 127.0.0.1, port: ${h2c}, proto: h2, check: true, inter: 200ms }
`);
  cleanups.push(() => lb.stop());
});

test('h2 checks: proto h2 (h2c), TLS with ALPN h2, check-proto h2, check_proto: h2 and check-alpn h2 pass with L7OK 200; the requests arrive as HTTP/2 with the Host as :authority', async () => {
  const done = (m: Map<string, Record<string, string>>) => ['c', 't', 'f', 'y', 'z'].every((s) => m.get(`app/${s}`)?.check_status === 'L7OK') && m.get('app/x')?.status === 'DOWN';
  const m = await showStatWhen(sock, done);
  for (const s of ['c', 't', 'f', 'y', 'z']) {
    const row = m.get(`app/${s}`)!;
    assert.equal(row.check_status, 'L7OK', `${s}: ${JSON.stringify(row)}`);
    assert.equal(row.check_code, '200');
    assert.equal(row.status, 'UP');
  }
  assert.ok(seen.includes('2.0 GET health.example /health'), seen.slice(0, 5).join('\n'));
  const checksSeen = seen.filter((l) => l.endsWith(' /health'));
  assert.ok(checksSeen.length >= 5 && checksSeen.every((l) => l.startsWith('2.0 ')), 'every check the h2 servers answered came over HTTP/2');
  // Traffic still goes to the servers as configured (h2c, h2 over TLS, HTTP/1.1, HTTP/1.1 over TLS for z): every answer is a 200.
  for (let i = 0; i < 5; i++) {
    const res = await request(`http://127.0.0.1:${port}/`);
    await res.body.dump();
    assert.equal(res.statusCode, 200);
  }
  assert.ok(seen.some((l) => l.startsWith('1.1 GET') && l.endsWith(' /')), 'check-alpn changed only the checks: z serves traffic over HTTP/1.1');
});

test('check-proto h1 on a proto h2 server: the check speaks HTTP/1.1, which the h2c-only server refuses: DOWN', async () => {
  const m = await showStatWhen(sock, (x) => x.get('app/x')?.status === 'DOWN');
  const row = m.get('app/x')!;
  assert.equal(row.status, 'DOWN', JSON.stringify(row));
  assert.match(row.check_status, /^L7(RSP|TOUT)$|^SOCKERR$/);
});

test('http-check expect on h2 replies: a 503 fails expect status 200 (L7STS, code 503, DOWN); a header rule reads the h2 headers (L7OK)', async () => {
  const m = await showStatWhen(sock, (x) => x.get('sick/s')?.status === 'DOWN' && x.get('hdr/h')?.check_status === 'L7OK');
  const sick = m.get('sick/s')!;
  assert.equal(sick.status, 'DOWN', JSON.stringify(sick));
  assert.equal(sick.check_status, 'L7STS');
  assert.equal(sick.check_code, '503');
  assert.equal(m.get('hdr/h')!.check_status, 'L7OK', JSON.stringify(m.get('hdr/h')));
});

test('tslb -c refuses a check-proto other than h1 or h2 (line and YAML field) and one on a non-HTTP check, with file, line and path', async () => {
  const dir = tempDir('tslb-check-h2-c-');
  const file = path.join(dir, 'lb.yaml');
  const config = (server: string) =>
    `frontends:\n  - { name: web, mode: http, binds: ["127.0.0.1:8080"], default_backend: app }\nbackends:\n  - name: app\n    mode: http\n    options: ["option httpchk GET /"]\n    servers:\n      - ${server}\n`;
  writeFileSync(file, config('{ name: s, address: 127.0.0.1, port: 9001, options: "check check-proto h3" }'));
  const line = await runCli(['-c', '-f', file]);
  assert.equal(line.code, 1);
  assert.match(line.stdout + line.stderr, /lb\.yaml:8:\d+: backends\[0\]\.servers\[0\]\.options: check-proto: must be h1, h2, not "h3"/);
  writeFileSync(file, config('{ name: s, address: 127.0.0.1, port: 9001, check: true, check_proto: h3 }'));
  const yaml = await runCli(['-c', '-f', file]);
  assert.equal(yaml.code, 1);
  assert.match(yaml.stdout + yaml.stderr, /lb\.yaml:8:\d+: backends\[0\]\.servers\[0\]\.check_proto: /);
  writeFileSync(file, config('{ name: s, address: 127.0.0.1, port: 9001, check: true, check_proto: h2 }').replace('option httpchk GET /', 'option redis-check'));
  const kind = await runCli(['-c', '-f', file]);
  assert.equal(kind.code, 1);
  assert.match(kind.stdout + kind.stderr, /lb\.yaml:8:\d+: backends\[0\]\.servers\[0\]\.check_proto: check-proto h2 is for HTTP checks \(option httpchk\), not redis checks/);
});
