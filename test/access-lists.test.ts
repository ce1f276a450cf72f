/**
 * IP access control through a real tslb: `access: { allow, deny }` on a frontend
 * (tcp-request connection rules on the peer's address), IPv4 CIDR and IPv6 (::1);
 * the allowlists of the admin listeners (stats page, Prometheus, runtime API tcp).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { tcpCommand } from './helpers/runtime-api';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { converse, statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let backend: HttpBackend;
let allowPort: number;
let denyPort: number;
let lb: TslbProcess;
let statsPort: number;
let promPort: number;
let cliPort: number;
let filePort: number;
const lists = tempDir();
const allowList = path.join(lists, 'allow.lst');
const denyList = path.join(lists, 'deny.lst');

before(async () => {
  backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  allowPort = await freePort();
  denyPort = await freePort();
  statsPort = await freePort();
  promPort = await freePort();
  cliPort = await freePort();
  filePort = await freePort();
  writeFileSync(allowList, '# the office\n127.0.0.0/29\n::1\n');
  writeFileSync(denyList, '127.0.0.5\n');
  lb = await startTslb(`
frontends:
  - name: allowed
    mode: http
    binds: ["127.0.0.1:${allowPort}", { address: "::1", port: ${allowPort} }]
    default_backend: app
    access: { allow: [127.0.0.0/30, "::1/128"], deny: [127.0.0.2] }
  - name: denied
    mode: http
    binds: ["127.0.0.1:${denyPort}", { address: "::1", port: ${denyPort} }]
    default_backend: app
    access: { deny: ["::1", 127.0.0.8/29] }
  - name: files
    mode: http
    binds: ["127.0.0.1:${filePort}", { address: "::1", port: ${filePort} }]
    default_backend: app
    access: { allow: ["-f ${allowList}"], deny: ["${denyList}"] }
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
stats: { bind: "0.0.0.0:${statsPort}", allow: [127.0.0.1, 127.0.0.3] }
prometheus: { bind: "0.0.0.0:${promPort}", options: ["http-request deny unless { src 127.0.0.1/32 127.0.0.4/31 }"] }
runtime_api: { tcp: "127.0.0.1:${cliPort}", allow: [127.0.0.1/32] }
`);
  cleanups.push(() => lb.stop());
});

test('access allow 127.0.0.0/30 and ::1/128, deny 127.0.0.2: inside the allowlist 200, the denied address and those outside are closed before any request reaches the server', async () => {
  const hits = backend.hits;
  assert.equal(await statusFrom(allowPort, '127.0.0.1'), 200);
  assert.equal(await statusFrom(allowPort, '127.0.0.3'), 200);
  assert.equal(await statusFrom(allowPort, '::1', { host: '::1' }), 200);
  assert.equal(await statusFrom(allowPort, '127.0.0.2'), 0, 'deny wins inside the allowlist');
  assert.equal(await statusFrom(allowPort, '127.0.0.4'), 0, 'outside 127.0.0.0/30');
  assert.equal(backend.hits - hits, 3);
});

test('access deny ::1 and 127.0.0.8/29: v6 and v4 addresses in them are closed, others served', async () => {
  assert.equal(await statusFrom(denyPort, '::1', { host: '::1' }), 0);
  assert.equal(await statusFrom(denyPort, '127.0.0.9'), 0);
  assert.equal(await statusFrom(denyPort, '127.0.0.16'), 200);
});

test('admin allowlists: the stats page and Prometheus answer their allowed sources and give others 403; the runtime API closes a refused peer without a reply', async () => {
  assert.equal(await statusFrom(statsPort, '127.0.0.1', { path: '/stats' }), 200);
  assert.equal(await statusFrom(statsPort, '127.0.0.3', { path: '/stats' }), 200);
  const refused = await converse('127.0.0.1', statsPort, '127.0.0.2', 'GET /stats HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 403 Forbidden\r\n/);
  assert.match(refused, /Connection: close\r\n/);
  assert.doesNotMatch(refused, /Statistics Report/, 'the page handler never ran');
  // The WebSocket upgrade of the live page is refused the same way.
  const upgrade = await converse('127.0.0.1', statsPort, '127.0.0.2', 'GET /stats/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  assert.match(upgrade, /^HTTP\/1\.1 403 /);

  assert.equal(await statusFrom(promPort, '127.0.0.1', { path: '/metrics' }), 200);
  assert.equal(await statusFrom(promPort, '127.0.0.5', { path: '/metrics' }), 200);
  assert.equal(await statusFrom(promPort, '127.0.0.2', { path: '/metrics' }), 403);
  assert.equal(await statusFrom(promPort, '127.0.0.6', { path: '/metrics' }), 403);

  assert.match(await converse('127.0.0.1', cliPort, '127.0.0.1', 'show info\n'), /^Name: /m);
  assert.equal(await converse('127.0.0.1', cliPort, '127.0.0.2', 'show info\n'), '');
});

/** Polls `statusFrom` until it gives `status` (a reload's new workers take over gradually), at most 10 s. */
async function eventually(status: number, host: string, port: number, localAddress: string): Promise<void> {
  const until = Date.now() + 10_000;
  let got = -1;
  while (Date.now() < until) {
    if ((got = await statusFrom(port, localAddress, { host })) === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(got, status, `${localAddress} → :${port}`);
}

test('access lists from files (v4 and v6): add acl / del acl on them act at once; a reload reads the edited files', async () => {
  assert.equal(await statusFrom(filePort, '127.0.0.1'), 200);
  assert.equal(await statusFrom(filePort, '::1', { host: '::1' }), 200);
  assert.equal(await statusFrom(filePort, '127.0.0.5'), 0, 'in the deny file');
  assert.equal(await statusFrom(filePort, '127.0.0.9'), 0, 'outside the allow file');

  assert.equal(await tcpCommand(cliPort, `add acl ${denyList} 127.0.0.6\n`), '\n');
  for (let i = 0; i < 4; i++) assert.equal(await statusFrom(filePort, '127.0.0.6'), 0, 'every worker has the edit');
  assert.equal(await tcpCommand(cliPort, `del acl ${denyList} 127.0.0.6\n`), '\n');
  for (let i = 0; i < 4; i++) assert.equal(await statusFrom(filePort, '127.0.0.6'), 200);

  writeFileSync(allowList, '127.0.0.0/29\n127.0.0.8/29\n::1\n');
  writeFileSync(denyList, '::1/128\n');
  process.kill(lb.pid, 'SIGHUP');
  await lb.waitForLog((e) => e.event === 'reloaded');
  await eventually(200, '127.0.0.1', filePort, '127.0.0.9');
  await eventually(0, '::1', filePort, '::1');
  await eventually(200, '127.0.0.1', filePort, '127.0.0.5');
});
