/**
 * The seed's redirect to https and HSTS through a real tslb: config/seed/02-production-https.yaml
 * on loopback ports redirects plain HTTP with 301 to `https://<host><path?query>` (the
 * plain bind's port in Host becomes the TLS bind's), and sends Strict-Transport-Security
 * on every response over TLS (the server's, a 503 error page, a redirect), never over
 * plain HTTP. The native keys take a code and a port (443 is left out of Location).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { startHttpBackend } from './helpers/backends';
import { exchange, header } from './helpers/rawhttp';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const SEED_DIR = path.resolve(__dirname, '../../config/seed');
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const tlsAgent = new Agent({ connect: { rejectUnauthorized: false, servername: 'api.company.com' } });
cleanups.push(() => tlsAgent.close());

let seedLb: TslbProcess;
let nativeLb: TslbProcess;
let plain: number;
let secure: number;
let nativePlain: number;
let nativeSecure: number;

function get(port: number, host: string, target: string): Promise<{ status: number; headers: Record<string, string | string[]> }> {
  return exchange(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).then((r) => {
    assert.equal(r.responses.length, 1, r.received.toString('latin1'));
    const res = r.responses[0];
    const headers: Record<string, string | string[]> = {};
    for (const name of ['location', 'strict-transport-security', 'x-served-by']) {
      const v = header(res, name);
      if (v.length) headers[name] = v.length === 1 ? v[0] : v;
    }
    return { status: res.status, headers };
  });
}

before(async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  [plain, secure, nativePlain, nativeSecure] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // The seed example as written, moved to loopback: its TLS bind is marked ssl: true, as it is not on 443.
  const seed = readFileSync(path.join(SEED_DIR, '02-production-https.yaml'), 'utf8')
    .replace(/ip: "0\.0\.0\.0"\n\s+port: 80\n/, `ip: "127.0.0.1"\n      port: ${plain}\n`)
    .replace(/ip: "0\.0\.0\.0"\n\s+port: 443\n/, `ip: "127.0.0.1"\n      port: ${secure}\n      ssl: true\n`)
    .replace('certificate_path: "."', `certificate_path: "${SEED_DIR}"`)
    .replace(/server_host_ip: "10\.0\.1\.1\d"/g, 'server_host_ip: "127.0.0.1"')
    .replace(/server_port: 8080/g, `server_port: ${app.port}`)
    .replace('nbproc: 4', 'nbproc: 1');
  assert.match(seed, new RegExp(`port: ${secure}\\n\\s+ssl: true`));
  seedLb = await startTslb(seed);
  cleanups.push(() => seedLb.stop());
  const pem = path.join(SEED_DIR, 'haproxy.pem');
  nativeLb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds:
      - 127.0.0.1:${nativePlain}
      - { address: 127.0.0.1, port: ${nativeSecure}, ssl: { certificates: ["${pem}"] } }
    https_redirect: { code: 308, port: 443 }
    hsts: { max_age: 600, include_subdomains: true, preload: true }
    http_request:
      - { redirect: { prefix: "https://elsewhere.example", code: 302 }, if: "{ path_beg /old }" }
    use_backend:
      - { backend: empty, if: "{ path_beg /none }" }
    default_backend: app
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: ${app.port} }]
  - name: empty
    servers: []
`);
  cleanups.push(() => nativeLb.stop());
});

test('seed example: plain HTTP gets 301 to https, the plain port in Host becoming the TLS port', async () => {
  const withPort = await get(plain, `api.company.com:${plain}`, '/a/b?x=1&y=2');
  assert.equal(withPort.status, 301);
  assert.equal(withPort.headers.location, `https://api.company.com:${secure}/a/b?x=1&y=2`);
  assert.equal(withPort.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
  // No port in Host (the client came on the default port): the TLS bind's port is not 443, so it is named.
  const withoutPort = await get(plain, 'api.company.com', '/');
  assert.equal(withoutPort.status, 301);
  assert.equal(withoutPort.headers.location, `https://api.company.com:${secure}/`);
  // A port other than the bind's is the client's business: kept.
  const other = await get(plain, 'api.company.com:9999', '/z');
  assert.equal(other.headers.location, 'https://api.company.com:9999/z');
});

test('seed example: a response over TLS carries HSTS with the seed max-age', async () => {
  const res = await request(`https://127.0.0.1:${secure}/api/x`, { dispatcher: tlsAgent, headers: { host: 'api.company.com' } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-served-by'], 'app');
  assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
  await res.body.text();
});

test('native: https_redirect code 308 to port 443 leaves the port out', async () => {
  const r = await get(nativePlain, `shop.example:${nativePlain}`, '/cart?id=7');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'https://shop.example/cart?id=7');
  assert.equal(r.headers['strict-transport-security'], undefined);
  const noPort = await get(nativePlain, 'shop.example', '/');
  assert.equal(noPort.headers.location, 'https://shop.example/');
});

test("native: HSTS on tslb's own answers over TLS (a 503 error page, a redirect), and on the server's", async () => {
  const hsts = 'max-age=600; includeSubDomains; preload';
  const ok = await request(`https://127.0.0.1:${nativeSecure}/`, { dispatcher: tlsAgent });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['strict-transport-security'], hsts);
  await ok.body.text();
  const unavailable = await request(`https://127.0.0.1:${nativeSecure}/none`, { dispatcher: tlsAgent });
  assert.equal(unavailable.statusCode, 503);
  assert.equal(unavailable.headers['strict-transport-security'], hsts);
  assert.match(await unavailable.body.text(), /No server is available to handle this request/);
  const moved = await request(`https://127.0.0.1:${nativeSecure}/old/page`, { dispatcher: tlsAgent });
  assert.equal(moved.statusCode, 302);
  assert.equal(moved.headers.location, 'https://elsewhere.example/old/page');
  assert.equal(moved.headers['strict-transport-security'], hsts);
  await moved.body.text();
});

test('tslb -c warns when ssl.enabled finds no bind on 443 or marked ssl: true', async () => {
  const file = path.join(tempDir(), 'lb.yaml');
  const seed = readFileSync(path.join(SEED_DIR, '02-production-https.yaml'), 'utf8')
    .replace('port: 443', 'port: 8443')
    .replace('certificate_path: "."', `certificate_path: "${SEED_DIR}"`);
  writeFileSync(file, seed);
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /proxy\.ssl\.enabled: ssl\.enabled, but no https_in_binds entry is on port 443 or marked ssl: true: every bind is plain/);
});
