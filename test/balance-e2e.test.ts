/**
 * Balancing through a real multi-worker tslb: leastconn sees load placed by the
 * other workers (shared through the primary), weights hold across workers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { freePort, startTslb } from './helpers/tslb';
import { startHttpBackend } from './helpers/backends';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('leastconn across 2 workers sends new requests away from a server holding a long request', async () => {
  const held: (() => void)[] = [];
  const slow = await startHttpBackend('slow', (_req, res) => {
    held.push(() => res.end('late'));
    return true;
  });
  const fast = await startHttpBackend('fast');
  cleanups.push(
    () => fast.close(),
    async () => {
      for (const h of held) h();
      await slow.close();
    },
  );
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 2 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    mode: http
    balance: leastconn
    servers:
      - { name: slow, address: 127.0.0.1, port: ${slow.port} }
      - { name: fast, address: 127.0.0.1, port: ${fast.port} }
`);
  cleanups.push(() => lb.stop());
  const pending: Promise<unknown>[] = [];
  // One new connection per request, so both workers take some; spaced wider than the load-sharing interval.
  for (let i = 0; i < 12; i++) {
    pending.push(request(`http://127.0.0.1:${port}/r${i}`, { reset: true }).then((r) => r.body.text()).catch(() => undefined));
    await sleep(300);
  }
  // Exactly one request may be parked on the slow server: once it holds one, no worker picks it again.
  assert.equal(slow.hits, 1, `slow server got ${slow.hits} requests, fast got ${fast.hits}`);
  assert.equal(fast.hits, 11);
  for (const h of held) h();
  await Promise.all(pending);
});
