/**
 * Server maxconn, queueing (`timeout queue`, `maxqueue`), weight 0 and slowstart,
 * through a real tslb with one and with two workers (maxconn slots leased from
 * the primary), http and tcp, and the slowstart ramp on the runtime objects.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir } from './helpers/tslb';
import { startEchoBackend, startHttpBackend, type HttpBackend } from './helpers/backends';
import { loadConfig } from '../src/config/load';
import { Runtime } from '../src/worker/runtime';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A backend answering after `holdMs`, recording its peak concurrency. */
async function slowBackend(name: string, holdMs: number): Promise<HttpBackend & { peak: () => number }> {
  let inflight = 0;
  let peak = 0;
  const timers = new Set<NodeJS.Timeout>();
  const b = await startHttpBackend(name, (_req, res) => {
    inflight++;
    peak = Math.max(peak, inflight);
    const t = setTimeout(() => {
      timers.delete(t);
      inflight--;
      res.writeHead(200, { 'x-served-by': name, 'content-length': '2' });
      res.end('ok');
    }, holdMs);
    timers.add(t);
    return true;
  });
  cleanups.push(async () => {
    for (const t of timers) clearTimeout(t);
    await b.close();
  });
  return Object.assign(b, { peak: () => peak });
}

/** A tslb whose frontend sends `/<name>...` to backend `<name>` (the first backend by default). */
async function lb(workers: number, backends: string): Promise<number> {
  const port = await freePort();
  const names = [...backends.matchAll(/^  - name: (\S+)$/gm)].map((m) => m[1]);
  const p = await startTslb(`
global: { workers: ${workers}${workers > 1 ? ', accept_mode: rr' : ''} }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: ${names[0]}
    use_backend:
${names.map((n) => `      - { backend: ${n}, if: "path_beg /${n}" }`).join('\n')}
backends:
${backends}
`);
  cleanups.push(() => p.stop());
  return port;
}

interface Result {
  status: number;
  server: string;
  doneAt: number;
}

/** One request on its own connection (with accept_mode rr, connections alternate between workers). */
async function get(port: number, pathname = '/'): Promise<Result> {
  const r = await request(`http://127.0.0.1:${port}${pathname}`, { reset: true });
  await r.body.text();
  return { status: r.statusCode, server: String(r.headers['x-served-by'] ?? ''), doneAt: Date.now() };
}

for (const workers of [1, 2]) {
  test(`maxconn 1 queues the second request until the first is done; timeout queue answers 503 (${workers} worker${workers > 1 ? 's' : ''})`, async () => {
    const s1 = await slowBackend('s1', 250);
    const s2 = await slowBackend('s2', 900);
    const port = await lb(
      workers,
      `  - name: app
    timeouts: { queue: 5s }
    servers:
      - { name: s1, address: 127.0.0.1, port: ${s1.port}, maxconn: 1 }
  - name: short
    timeouts: { queue: 200ms }
    servers:
      - { name: s2, address: 127.0.0.1, port: ${s2.port}, maxconn: 1 }`,
    );
    let started = Date.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => get(port, '/app')));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.equal(s1.peak(), 1, 'the server never had two requests at once');
    // Served one after the other: the last one finished after four hold times.
    const last = Math.max(...results.map((r) => r.doneAt)) - started;
    assert.ok(last >= 4 * 250 - 50, `all four done after ${last} ms`);

    const first = get(port, '/short');
    await sleep(100);
    started = Date.now();
    const waiting = await Promise.all([get(port, '/short'), get(port, '/short'), get(port, '/short')]);
    for (const w of waiting) {
      assert.equal(w.status, 503);
      const waited = w.doneAt - started;
      assert.ok(waited >= 150 && waited < 800, `503 after ${waited} ms`);
    }
    assert.equal((await first).status, 200);
    assert.equal(s2.peak(), 1);
    assert.equal(s2.hits, 1);
  });
}

test('maxqueue full: the request goes to another server, and gets 503 when every queue is full; weight 0 gets nothing', async () => {
  const a = await slowBackend('a', 400);
  const b = await slowBackend('b', 400);
  const w0 = await startHttpBackend('w0');
  const w1 = await startHttpBackend('w1');
  cleanups.push(
    () => w0.close(),
    () => w1.close(),
  );
  // balance source keeps this client on one server: a full queue there sends it to the other.
  const port = await lb(
    1,
    `  - name: app
    balance: source
    timeouts: { queue: 5s }
    servers:
      - { name: a, address: 127.0.0.1, port: ${a.port}, options: "maxconn 1 maxqueue 1" }
      - { name: b, address: 127.0.0.1, port: ${b.port}, options: "maxconn 1 maxqueue 1" }
  - name: weights
    servers:
      - { name: w0, address: 127.0.0.1, port: ${w0.port}, weight: 0 }
      - { name: w1, address: 127.0.0.1, port: ${w1.port} }`,
  );
  const pending: Promise<Result>[] = [];
  for (let i = 0; i < 5; i++) {
    pending.push(get(port, '/app'));
    await sleep(30);
  }
  const results = await Promise.all(pending);
  const statuses = results.map((r) => r.status);
  assert.deepEqual(statuses.slice(0, 4), [200, 200, 200, 200]);
  assert.equal(statuses[4], 503, 'both servers busy with full queues');
  assert.equal(a.hits, 2);
  assert.equal(b.hits, 2);
  assert.equal(a.peak(), 1);
  assert.equal(b.peak(), 1);
  // The first and second went to the hashed server, the third to the other one.
  assert.equal(results[0].server, results[1].server);
  assert.notEqual(results[2].server, results[0].server);

  for (let i = 0; i < 10; i++) assert.equal((await get(port, '/weights')).server, 'w1');
  assert.equal(w0.hits, 0);
});

test('slowstart ramps a server back up from weight 1 to its weight', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'lb.yaml');
  writeFileSync(
    file,
    `
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:1"], default_backend: app }
backends:
  - name: app
    servers:
      - { name: a, address: 127.0.0.1, port: 1, weight: 100, options: "slowstart 400ms" }
      - { name: b, address: 127.0.0.1, port: 2, weight: 100, slowstart: 400ms }
`,
  );
  const loaded = loadConfig([file]);
  assert.deepEqual(loaded.errors, []);
  const rt = new Runtime(loaded.model!);
  const be = rt.backends.get('app')!;
  const a = be.byName.get('a')!;
  // At start servers are at full weight (HAProxy ramps only servers coming back).
  assert.equal(a.weight, 100);
  rt.applyStates([{ backend: 'app', server: 'a', up: false, admin: 'ready', weight: 100 }]);
  rt.applyStates([{ backend: 'app', server: 'a', up: true, admin: 'ready', weight: 100 }]);
  const seen: number[] = [a.weight];
  for (let i = 0; i < 6; i++) {
    await sleep(100);
    seen.push(a.weight);
  }
  assert.ok(seen[0] <= 5, `starts near 1: ${seen}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `never decreases: ${seen}`);
  assert.ok(seen.some((w) => w > 10 && w < 100), `passes through intermediate weights: ${seen}`);
  assert.equal(a.weight, 100, `back at full weight after the period: ${seen}`);
  assert.equal(be.byName.get('b')!.weight, 100);
});

test('tcp: maxconn 1 holds the second connection until the first closes; timeout queue closes a waiting one', async () => {
  const echo = await startEchoBackend();
  cleanups.push(() => echo.close());
  const port = await freePort();
  const p = await startTslb(`
global: { workers: 2, accept_mode: rr }
frontends:
  - { name: tcpin, mode: tcp, binds: ["127.0.0.1:${port}"], default_backend: echo }
backends:
  - name: echo
    mode: tcp
    timeouts: { queue: 600ms }
    servers:
      - { name: e1, address: 127.0.0.1, port: ${echo.port}, maxconn: 1 }
`);
  cleanups.push(() => p.stop());
  const open = async () => {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    let data = '';
    s.on('data', (d) => (data += d));
    const closed = once(s, 'close').then(() => Date.now());
    s.on('error', () => undefined);
    return { s, data: () => data, closed };
  };
  const first = await open();
  first.s.write('a');
  for (let i = 0; i < 50 && first.data() !== 'a'; i++) await sleep(10);
  assert.equal(first.data(), 'a');
  const second = await open();
  second.s.write('b');
  await sleep(200);
  assert.equal(second.data(), '', 'queued: nothing reaches the server yet');
  first.s.end();
  for (let i = 0; i < 50 && second.data() !== 'b'; i++) await sleep(10);
  assert.equal(second.data(), 'b', 'served once the first connection is gone');
  // Now the second holds the slot: a third waits past timeout queue and is closed unserved.
  const third = await open();
  third.s.write('c');
  const started = Date.now();
  const closedAt = await third.closed;
  assert.equal(third.data(), '');
  assert.ok(closedAt - started >= 400 && closedAt - started < 3000, `closed after ${closedAt - started} ms`);
  second.s.destroy();
  assert.equal(echo.connections, 2);
});
