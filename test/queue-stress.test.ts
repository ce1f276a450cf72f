/**
 * maxconn slots leased across two workers under a burst: the server never sees more
 * than maxconn requests at once, every request is served, and no slot leaks (a
 * second burst after the first one completes as fast).
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

test('maxconn 3 across two workers holds under bursts of 40 requests, with no slot leaked', async (t) => {
  let inflight = 0;
  let peak = 0;
  const s = await startHttpBackend('s', (_req, res) => {
    inflight++;
    peak = Math.max(peak, inflight);
    setTimeout(() => {
      inflight--;
      res.end('ok');
    }, 20);
    return true;
  });
  cleanups.push(() => s.close());
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 2, accept_mode: rr }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    timeouts: { queue: 10s }
    servers:
      - { name: s, address: 127.0.0.1, port: ${s.port}, maxconn: 3 }
`);
  cleanups.push(() => lb.stop());
  const burst = async () => {
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        request(`http://127.0.0.1:${port}/${i}`, { reset: true }).then(async (r) => {
          await r.body.text();
          return r.statusCode;
        }),
      ),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    return Date.now() - started;
  };
  const first = await burst();
  const second = await burst();
  t.diagnostic(`bursts took ${first} and ${second} ms, peak ${peak}`);
  assert.ok(peak <= 3, `peak ${peak}`);
  assert.ok(peak >= 2, `the slots were used in parallel (peak ${peak})`);
  assert.equal(s.hits, 80);
  // 40 × 20 ms over 3 slots is ~270 ms of service; a leaked slot would slow the second burst down.
  assert.ok(second < Math.max(3000, first * 3), `first burst ${first} ms, second ${second} ms`);
});
