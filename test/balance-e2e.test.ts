/**
 * Balancing through a real multi-worker tslb: leastconn sees load placed by the
 * other workers (shared through the primary), weights hold across workers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
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

/** Starts N named backends and a 2-worker tslb balancing them with `balance`/`hash` options. */
async function farm(names: string[], backendYaml: (ports: Record<string, number>) => string): Promise<{ port: number; lb: Awaited<ReturnType<typeof startTslb>>; backends: Record<string, { close(): Promise<void>; port: number }> }> {
  const backends: Record<string, { close(): Promise<void>; port: number }> = {};
  for (const n of names) {
    backends[n] = await startHttpBackend(n);
    cleanups.push(() => backends[n].close());
  }
  const ports = Object.fromEntries(names.map((n) => [n, backends[n].port]));
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 2 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app, log: { enabled: false } }
backends:
  - name: app
    mode: http
${backendYaml(ports)}
`);
  cleanups.push(() => lb.stop());
  return { port, lb, backends };
}

async function servedBy(port: number, path: string, headers: Record<string, string> = {}, dispatcher?: Agent): Promise<string> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers, dispatcher });
  await res.body.text();
  return String(res.headers['x-served-by']);
}

test('roundrobin weights 3:1 hold within ±3% over 4,000 requests through 2 workers', async () => {
  const { port } = await farm(['s1', 's2'], (p) => `    balance: roundrobin
    servers:
      - { name: s1, address: 127.0.0.1, port: ${p.s1}, weight: 3 }
      - { name: s2, address: 127.0.0.1, port: ${p.s2}, weight: 1 }`);
  const agent = new Agent({ connections: 16 });
  cleanups.push(() => agent.close());
  const counts: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 4000) {
        next++;
        const by = await servedBy(port, '/', {}, agent);
        counts[by] = (counts[by] ?? 0) + 1;
      }
    }),
  );
  const share = counts.s1 / (counts.s1 + counts.s2);
  assert.ok(Math.abs(share - 0.75) <= 0.03, `s1 share ${share.toFixed(3)} (${JSON.stringify(counts)})`);
});

test('uri hashing keeps a key on one server and spread many keys; backup only when no active server is up', async () => {
  const { port } = await farm(['s1', 's2', 's3', 'bk'], (p) => `    balance: uri
    servers:
      - { name: s1, address: 127.0.0.1, port: ${p.s1} }
      - { name: s2, address: 127.0.0.1, port: ${p.s2} }
      - { name: s3, address: 127.0.0.1, port: ${p.s3} }
      - { name: bk, address: 127.0.0.1, port: ${p.bk}, backup: true }`);
  const spread: Record<string, number> = {};
  for (let k = 0; k < 300; k++) {
    const first = await servedBy(port, `/item/${k}?q=${k}`);
    // The same path (query ignored) lands on the same server, from either worker.
    assert.equal(await servedBy(port, `/item/${k}`, { connection: 'close' }), first);
    spread[first] = (spread[first] ?? 0) + 1;
  }
  assert.equal(spread.bk, undefined, 'the backup gets nothing while active servers are up');
  for (const s of ['s1', 's2', 's3']) assert.ok(spread[s] >= 60 && spread[s] <= 140, `even spread of 300 keys: ${JSON.stringify(spread)}`);
});

test('consistent hashing: removing one of 4 servers remaps at most 1.5/N of the keys; with every server down the backup serves', async () => {
  const names = ['s1', 's2', 's3', 's4'];
  const { port, lb, backends } = await farm([...names, 'bk'], (p) => `    balance: "hdr(x-key)"
    hash_type: consistent
    servers:
${names.map((s) => `      - { name: ${s}, address: 127.0.0.1, port: ${p[s]}, check: true, inter: 100ms, fall: 1, rise: 1 }`).join('\n')}
      - { name: bk, address: 127.0.0.1, port: ${p.bk}, backup: true }`);
  const agent = new Agent({ connections: 8 });
  cleanups.push(() => agent.close());
  const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`);
  const place = async () => Promise.all(keys.map((k) => servedBy(port, '/', { 'x-key': k }, agent)));
  const before = await place();
  await backends.s4.close();
  await lb.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('Server app/s4 is DOWN'));
  await sleep(200);
  const after = await place();
  const moved = keys.filter((_, i) => before[i] !== after[i]).length;
  const onS4 = before.filter((s) => s === 's4').length;
  assert.ok(after.every((s) => s !== 's4'), 'nothing reaches the stopped server');
  assert.ok(moved <= keys.length * 1.5 / 4, `moved ${moved} of ${keys.length} (s4 had ${onS4})`);
  assert.ok(moved >= onS4, 'every key of the removed server moved');
  // Stop listening at once; open keep-alive connections may take a while to end.
  const closing = Promise.all(['s1', 's2', 's3'].map((s) => backends[s].close()));
  await lb.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('0 active and 1 backup servers left. Running on backup.'));
  void closing;
  await sleep(200);
  assert.equal(await servedBy(port, '/', { 'x-key': 'user-1' }), 'bk');
});
