/**
 * The security-headers preset through a real tslb: `strict` and `basic` add their headers
 * to servers' responses and to tslb's own answers, remove Server / X-Powered-By, add HSTS
 * over TLS only; a server's own header of the preset is kept, a value given in the preset
 * or a header set by an http_response rule wins, and false drops a header.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { loadConfig } from '../src/config/load';
import { Runtime } from '../src/worker/runtime';
import { startHttpBackend } from './helpers/backends';
import { exchange, header, type RawResponse } from './helpers/rawhttp';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});
const tlsAgent = new Agent({ connect: { rejectUnauthorized: false } });
cleanups.push(() => tlsAgent.close());

let lb: TslbProcess;
let strict: number;
let strictTls: number;
let basic: number;

async function get(port: number, target: string): Promise<RawResponse> {
  const r = await exchange(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: site\r\nConnection: close\r\n\r\n`));
  assert.equal(r.responses.length, 1, r.received.toString('latin1'));
  return r.responses[0];
}

before(async () => {
  const app = await startHttpBackend('app', (req, res) => {
    const headers: Record<string, string> = { server: 'nginx/1.2', 'x-powered-by': 'Express', 'content-length': '2' };
    // A page that sets its own framing and CSP policy.
    if (req.url === '/own') Object.assign(headers, { 'x-frame-options': 'SAMEORIGIN', 'content-security-policy': "default-src 'none'" });
    res.writeHead(200, headers);
    res.end('ok');
    return true;
  });
  cleanups.push(() => app.close());
  [strict, strictTls, basic] = [await freePort(), await freePort(), await freePort()];
  const pem = path.resolve(__dirname, '../../config/seed/haproxy.pem');
  lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: strict
    mode: http
    binds:
      - 127.0.0.1:${strict}
      - { address: 127.0.0.1, port: ${strictTls}, ssl: { certificates: ["${pem}"] } }
    security_headers: strict
    use_backend:
      - { backend: empty, if: "{ path /none }" }
    default_backend: app
  - name: basic
    mode: http
    binds: ["127.0.0.1:${basic}"]
    security_headers: { preset: basic, content_security_policy: "default-src 'self'", x_content_type_options: false, remove: [X-AspNet-Version] }
    http_response:
      - { set_header: { name: Referrer-Policy, value: same-origin } }
    default_backend: app
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: ${app.port} }]
  - name: empty
    servers: []
`);
  cleanups.push(() => lb.stop());
});

test('strict: every preset header on a server response, Server and X-Powered-By removed, no HSTS over plain HTTP', async () => {
  const res = await get(strict, '/');
  assert.equal(res.status, 200);
  assert.deepEqual(header(res, 'x-content-type-options'), ['nosniff']);
  assert.deepEqual(header(res, 'x-frame-options'), ['DENY']);
  assert.deepEqual(header(res, 'referrer-policy'), ['no-referrer']);
  assert.deepEqual(header(res, 'content-security-policy'), ["frame-ancestors 'none'; object-src 'none'; base-uri 'self'"]);
  assert.deepEqual(header(res, 'permissions-policy'), ['camera=(), microphone=(), geolocation=(), payment=(), usb=()']);
  assert.deepEqual(header(res, 'server'), []);
  assert.deepEqual(header(res, 'x-powered-by'), []);
  assert.deepEqual(header(res, 'strict-transport-security'), []);
});

test("strict: a server's own X-Frame-Options and CSP are kept, not doubled", async () => {
  const res = await get(strict, '/own');
  assert.deepEqual(header(res, 'x-frame-options'), ['SAMEORIGIN']);
  assert.deepEqual(header(res, 'content-security-policy'), ["default-src 'none'"]);
  assert.deepEqual(header(res, 'x-content-type-options'), ['nosniff']);
});

test("strict: tslb's own 503 carries the preset, and HSTS over TLS", async () => {
  const page = await get(strict, '/none');
  assert.equal(page.status, 503);
  assert.deepEqual(header(page, 'x-frame-options'), ['DENY']);
  assert.deepEqual(header(page, 'x-content-type-options'), ['nosniff']);
  const res = await request(`https://127.0.0.1:${strictTls}/`, { dispatcher: tlsAgent });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers.server, undefined);
  await res.body.text();
});

test('basic: SAMEORIGIN, the CSP given, a header turned off, and an http_response rule winning', async () => {
  const res = await get(basic, '/');
  assert.deepEqual(header(res, 'x-frame-options'), ['SAMEORIGIN']);
  assert.deepEqual(header(res, 'content-security-policy'), ["default-src 'self'"]);
  assert.deepEqual(header(res, 'x-content-type-options'), []);
  assert.deepEqual(header(res, 'referrer-policy'), ['same-origin']);
  assert.deepEqual(header(res, 'permissions-policy'), []);
  assert.deepEqual(header(res, 'server'), []);
});

test("the small modules are built only where configured, each in its phase (a frontend without them has none)", () => {
  const file = path.join(tempDir(), 'mods.yaml');
  writeFileSync(file, `
frontends:
  - { name: bare, mode: http, binds: ["127.0.0.1:18101"], forwarded_proto: false, forwarded_host: false, log: { enabled: false }, default_backend: app }
  - name: all
    mode: http
    binds: ["127.0.0.1:18102"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    monitor_uri: /healthz
    https_redirect: true
    security_headers: basic
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 18110 }] }
`);
  const loaded = loadConfig([file]);
  assert.deepEqual(loaded.errors, []);
  const rt = new Runtime(loaded.model!);
  const fe = (name: string) => rt.frontends.find((f) => f.name === name)!.pipeline;
  assert.deepEqual(fe('bare').modules, []);
  assert.deepEqual(fe('all').modules, ['monitor-uri', 'https-redirect', 'hsts', 'security-headers']);
  assert.equal(fe('all').request.length, 2);
  assert.equal(fe('all').afterResponse.length, 2);
});
