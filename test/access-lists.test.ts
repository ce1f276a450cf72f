/**
 * IP access control through a real tslb: `access: { allow, deny }` on a frontend
 * (tcp-request connection rules on the peer's address), IPv4 CIDR and IPv6 (::1).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let backend: HttpBackend;
let allowPort: number;
let denyPort: number;
let lb: TslbProcess;

before(async () => {
  backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  allowPort = await freePort();
  denyPort = await freePort();
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
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
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
