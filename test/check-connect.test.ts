/**
 * `http-check connect [default] [proto h1|h2] [alpn <list>]` through a real tslb against
 * node:http2 servers: `proto h2` makes the checks of an HTTP/1.1 server speak h2c to its
 * check port, `proto h1` makes a `proto h2` server's checks speak HTTP/1.1 (the h2c-only
 * server then fails them), `alpn h2` makes a TLS server's checks offer h2, `default`
 * lets the server's `check-proto h2` apply and without it the server's `check-alpn h2`
 * does not (HAProxy's semantics); the YAML `health_check.connect` is the same line.
 * `tslb -c` refuses what tslb does not support, with file, line and path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { listenTracked, startHttpBackend } from './helpers/backends';
import { issueCert } from './helpers/certs';
import { showStatWhen } from './helpers/runtime-api';
import { freePort, runCli, startTslb, tempDir } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** The HTTP version each check path arrived with (last seen). */
const versionOf = new Map<string, string>();

function handler(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  versionOf.set(req.url, req.httpVersion);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
}

async function listen(server: http2.Http2Server | http2.Http2SecureServer): Promise<number> {
  const l = await listenTracked(server);
  cleanups.push(() => l.close());
  return l.port;
}

const sock = path.join(tempDir('tslb-check-connect-'), 'api.sock');

before(async () => {
  const h2c = await listen(http2.createServer(handler));
  const cert = issueCert(['localhost']);
  const h2tls = await listen(http2.createSecureServer({ cert: cert.cert, key: cert.key, allowHTTP1: true }, handler));
  const h1 = await startHttpBackend('h1');
  cleanups.push(() => h1.close());
  const port = await freePort();
  const backend = (name: string, lines: string[], server: string) =>
    `  - name: ${name}\n    mode: http\n    options: ${JSON.stringify(lines)}\n    servers: [${server}]\n`;
  const lb = await startTslb(`
global: { workers: 1 }
runtime_api: { socket: ${sock}, level: admin }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: line_h2 }
backends:
${backend('line_h2', ['option httpchk GET /line-h2', 'http-check connect proto h2'], `{ name: s, address: 127.0.0.1, port: ${h1.port}, options: "check port ${h2c} inter 200ms" }`)}
${backend('line_h1', ['option httpchk GET /line-h1', 'http-check connect proto h1'], `{ name: s, address: 127.0.0.1, port: ${h2c}, proto: h2, options: "check inter 200ms fall 1" }`)}
${backend('alpn', ['option httpchk GET /alpn', 'http-check connect alpn h2,http/1.1'], `{ name: s, address: 127.0.0.1, port: ${h2tls}, options: "ssl verify none check inter 200ms" }`)}
${backend('with_default', ['option httpchk GET /default', 'http-check connect default'], `{ name: s, address: 127.0.0.1, port: ${h1.port}, options: "check port ${h2c} check-proto h2 inter 200ms" }`)}
${backend('no_default', ['option httpchk GET /no-default', 'http-check connect'], `{ name: s, address: 127.0.0.1, port: ${h2tls}, options: "ssl verify none check check-alpn h2 inter 200ms" }`)}
  - name: yaml
    mode: http
    health_check: { type: http, uri: /yaml, connect: "proto h2" }
    servers: [{ name: s, address: 127.0.0.1, port: ${h1.port}, options: "check port ${h2c} inter 200ms" }]
`);
  cleanups.push(() => lb.stop());
});

test('http-check connect proto h2 / alpn h2 / default (+ check-proto h2) and YAML connect: the checks speak HTTP/2 and pass; without default the server check-alpn h2 is not used (HTTP/1.x)', async () => {
  const ok = ['line_h2', 'alpn', 'with_default', 'no_default', 'yaml'];
  const m = await showStatWhen(sock, (x) => ok.every((b) => x.get(`${b}/s`)?.check_status === 'L7OK') && versionOf.size >= ok.length);
  for (const b of ok) assert.equal(m.get(`${b}/s`)?.check_status, 'L7OK', `${b}: ${JSON.stringify(m.get(`${b}/s`))}`);
  assert.equal(versionOf.get('/line-h2'), '2.0');
  assert.equal(versionOf.get('/alpn'), '2.0');
  assert.equal(versionOf.get('/default'), '2.0');
  assert.equal(versionOf.get('/yaml'), '2.0');
  assert.match(versionOf.get('/no-default') ?? '', /^1\.[01]$/, 'without default the server check-alpn does not apply: no ALPN offered, HTTP/1.x');
});

test('http-check connect proto h1 on a proto h2 server: the check speaks HTTP/1.1, which the h2c-only server refuses: DOWN', async () => {
  const m = await showStatWhen(sock, (x) => x.get('line_h1/s')?.status === 'DOWN');
  const row = m.get('line_h1/s')!;
  assert.equal(row.status, 'DOWN', JSON.stringify(row));
  assert.match(row.check_status, /^L7(RSP|TOUT)$|^SOCKERR$/);
  assert.equal(versionOf.get('/line-h1'), undefined, 'no check reached the server as a request');
});

test('tslb -c refuses unsupported http-check connect keywords, a bad proto, a connect after send, and a bad YAML connect, with file, line and path', async () => {
  const file = path.join(tempDir('tslb-check-connect-c-'), 'lb.yaml');
  const check = async (backend: string, expected: RegExp) => {
    writeFileSync(file, `frontends:\n  - { name: web, mode: http, binds: ["127.0.0.1:8080"], default_backend: app }\nbackends:\n  - name: app\n    mode: http\n${backend}    servers: [{ name: s, address: 127.0.0.1, port: 9001, check: true }]\n`);
    const r = await runCli(['-c', '-f', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, expected);
  };
  await check(
    '    options:\n      - option httpchk GET /\n      - http-check connect port 80\n',
    /lb\.yaml:8:\d+: backends\[0\]\.options\[1\]: http-check connect: unsupported keyword "port"/,
  );
  await check('    options:\n      - option httpchk GET /\n      - http-check connect proto h3\n', /lb\.yaml:8:\d+: .*proto must be h1 or h2, not "h3"/);
  await check(
    '    options:\n      - option httpchk GET /\n      - http-check send hdr Host x\n      - http-check connect proto h2\n',
    /lb\.yaml:9:\d+: backends\[0\]\.options\[2\]: http-check connect must come before http-check send and expect/,
  );
  await check('    health_check: { type: http, connect: "alpn ," }\n', /lb\.yaml:6:\d+: backends\[0\]\.health_check\.connect: http-check connect: alpn expects a comma-separated list/);
});
