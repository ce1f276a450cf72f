/**
 * HAProxy's monitor-uri through a real tslb: the URI is answered by tslb itself with
 * HAProxy's 200 page, or its 503 page while a `monitor fail` condition holds; the
 * request never reaches a server and leaves no access-log line. Native keys and the
 * HAProxy lines, with `src` conditions and the usual `nbsrv(backend) lt 1` following checks.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { exchange } from './helpers/rawhttp';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import * as net from 'node:net';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const OK_PAGE = 'HTTP/1.1 200 OK\r\nContent-length: 58\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n';
/** The same page to a request that asked `Connection: close`: tslb says it closes. */
const CLOSING_OK_PAGE = OK_PAGE.replace('Content-Type', 'Connection: close\r\nContent-Type');

let lb: TslbProcess;
let app: HttpBackend;
let native: number;
let lines: number;
let byChecks: number;
/** The checked server's port: nothing listens at first, so checks mark it DOWN. */
let checkedPort: number;
let logFile: string;

before(async () => {
  app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  [native, lines, byChecks, checkedPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  logFile = path.join(tempDir(), 'access.log');
  lb = await startTslb(`
global: { workers: 1, access_log: ${logFile} }
frontends:
  - name: native
    mode: http
    binds: ["127.0.0.1:${native}"]
    log: { format: httplog }
    monitor_uri: /healthz
    monitor_fail:
      - { if: "{ src 127.0.0.2 }" }
    http_request:
      - { deny: { status: 403 }, if: "{ url /healthz }" }
    default_backend: app
  - name: lines
    mode: http
    binds: ["127.0.0.1:${lines}"]
    options: ["monitor-uri /alive", "monitor fail unless { src 127.0.0.1 }"]
    default_backend: app
  - name: bychecks
    mode: http
    binds: ["127.0.0.1:${byChecks}"]
    options: ["monitor-uri /healthz", "monitor fail if { nbsrv(checked) lt 1 }"]
    default_backend: checked
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: ${app.port} }]
  - name: checked
    servers: [{ name: c1, address: 127.0.0.1, port: ${checkedPort}, options: "check inter 100ms fall 1 rise 1" }]
`);
  cleanups.push(() => lb.stop());
});

/** One GET from `from` (a 127.0.0.0/8 address) on a fresh connection: the raw bytes received. */
function rawGet(port: number, target: string, from = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(`GET ${target} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n`);
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
  });
}

test("monitor_uri answers HAProxy's 200 page itself, before http-request rules, never reaching the server", async () => {
  const before = app.hits;
  // The frontend's http-request rule denies url /healthz: the monitor comes first.
  assert.equal(await rawGet(native, '/healthz'), CLOSING_OK_PAGE);
  // Kept alive like any built-in answer: two in a row on one connection.
  const two = await exchange(native, Buffer.from('GET /healthz HTTP/1.1\r\nHost: lb\r\n\r\nGET /healthz HTTP/1.1\r\nHost: lb\r\n\r\n'), { until: (r) => r.length === 2 });
  assert.deepEqual(two.responses.map((r) => r.status), [200, 200]);
  // Exact and case-sensitive: anything else goes to the server.
  assert.match(await rawGet(native, '/hEAlthz'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from app/);
  assert.match(await rawGet(native, '/healthz?x=1'), /hello from app/);
  assert.equal(app.hits, before + 2);
});

test('monitor fail: 503 with HAProxy\'s page while the condition holds (native and HAProxy lines)', async () => {
  const before = app.hits;
  const failing = await rawGet(native, '/healthz', '127.0.0.2');
  assert.match(failing, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(failing, /<h1>503 Service Unavailable<\/h1>\nNo server is available to handle this request\./);
  assert.equal(await rawGet(lines, '/alive'), CLOSING_OK_PAGE);
  assert.match(await rawGet(lines, '/alive', '127.0.0.3'), /^HTTP\/1\.1 503 /);
  assert.equal(app.hits, before);
});

test('monitor fail if { nbsrv(b) lt 1 }: 503 while checks hold the only server DOWN, 200 once it is UP', async () => {
  const until = (cond: () => Promise<boolean>, what: string) =>
    (async () => {
      const end = Date.now() + 10_000;
      while (!(await cond())) {
        if (Date.now() > end) throw new Error(`${what}:\n${lb.logs().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  await until(async () => /^HTTP\/1\.1 503 /.test(await rawGet(byChecks, '/healthz')), 'no 503 while the server is DOWN');
  const server = await startHttpBackend('checked', undefined, { port: checkedPort });
  cleanups.push(() => server.close());
  await until(async () => (await rawGet(byChecks, '/healthz')) === CLOSING_OK_PAGE, 'no 200 once the server is UP');
  assert.equal(server.hits, 0, 'monitor requests never reach the server');
});

test('monitor requests leave no access-log line', async () => {
  await rawGet(native, '/healthz');
  await rawGet(native, '/healthz', '127.0.0.2');
  assert.match(await rawGet(native, '/logged'), /hello from app/);
  const until = Date.now() + 10_000;
  while (!(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('/logged'))) {
    if (Date.now() > until) throw new Error(`no log line for /logged:\n${lb.logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = readFileSync(logFile, 'utf8');
  assert.doesNotMatch(log, /\/healthz /);
  assert.match(log, /\/hEAlthz/, 'the case-different path was forwarded and logged');
});

test('tslb -c refuses monitor lines outside a frontend and monitor fail without monitor-uri', async () => {
  const { runCli } = await import('./helpers/tslb');
  const file = path.join(tempDir(), 'lb.yaml');
  (await import('node:fs')).writeFileSync(
    file,
    `frontends:
  - { name: f, mode: http, binds: ["127.0.0.1:1"], default_backend: b, monitor_fail: [{ if: "{ src 10.0.0.1 }" }] }
backends:
  - { name: b, options: ["monitor-uri /x"], servers: [{ name: s, address: 127.0.0.1, port: 1 }] }
`,
  );
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /frontends\[0\]\.monitor_fail: monitor fail needs a monitor-uri/);
  assert.match(r.stderr, /backends\[0\]\.options\[0\]: "monitor-uri \/x" is a frontend keyword: put it in a frontend/);
});
