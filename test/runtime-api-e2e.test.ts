/**
 * Runtime API commands that change the data path, through a real 2-worker tslb and
 * `socat`: disable/enable server, set weight, set server addr, set maxconn.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir } from './helpers/tslb';
import { startHttpBackend } from './helpers/backends';
import { hasSocat, socat, unixCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function split(port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await request(`http://127.0.0.1:${port}/`);
    await res.body.text();
    const by = String(res.headers['x-served-by']);
    seen[by] = (seen[by] ?? 0) + 1;
  }
  return seen;
}

/** Server states reach the workers asynchronously: poll until the split matches. */
async function eventually(port: number, n: number, ok: (seen: Record<string, number>) => boolean): Promise<Record<string, number>> {
  let seen: Record<string, number> = {};
  for (let attempt = 0; attempt < 20; attempt++) {
    seen = await split(port, n);
    if (ok(seen)) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

test('socat runtime API drives the data path: disable/enable, weight, addr', { skip: !hasSocat && 'socat is not installed' }, async () => {
  const a = await startHttpBackend('a');
  const b = await startHttpBackend('b');
  const moved = await startHttpBackend('moved');
  cleanups.push(() => a.close(), () => b.close(), () => moved.close());
  const port = await freePort();
  const sock = path.join(tempDir('tslb-api-'), 'stats');
  const lb = await startTslb(`
global: { workers: 2 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${a.port} }
      - { name: s2, address: 127.0.0.1, port: ${b.port} }
runtime_api: { socket: ${sock} }
`);
  cleanups.push(() => lb.stop());

  assert.equal(await socat(sock, 'disable server app/s1\n'), '\n');
  let seen = await eventually(port, 20, (s) => !s.a);
  assert.deepEqual(seen, { b: 20 });
  await socat(sock, 'enable server app/s1\n');
  seen = await eventually(port, 20, (s) => (s.a ?? 0) > 0);
  assert.ok(seen.a >= 8 && seen.b >= 8, JSON.stringify(seen));

  await socat(sock, 'set server app/s1 weight 3\n');
  seen = await eventually(port, 40, (s) => (s.a ?? 0) >= 27);
  assert.ok(seen.a >= 27 && seen.a <= 33, `3:1 split: ${JSON.stringify(seen)}`);
  assert.match(await socat(sock, 'get weight app/s1\n'), /^3 \(initial 1\)/);

  await socat(sock, `set server app/s2 addr 127.0.0.1 port ${moved.port}\n`);
  seen = await eventually(port, 40, (s) => (s.moved ?? 0) > 0 && !s.b);
  assert.ok(seen.moved > 0 && !seen.b, JSON.stringify(seen));
  assert.match(await socat(sock, 'show servers state app\n'), new RegExp(`127\\.0\\.0\\.1 .*${moved.port}`));

  assert.equal(await socat(sock, 'disable server app/nope\n'), 'No such server.\n\n');
});

test('set server addr while a request is in flight: its connection is not pooled again, the requests after it go to the new address', async () => {
  // The old server holds /held until the test lets it answer: its connection is busy when the server moves.
  const held: (() => void)[] = [];
  const old = await startHttpBackend('old', (req, res) => {
    if (req.url !== '/held') return false;
    held.push(() => res.end('late'));
    return true;
  });
  const moved = await startHttpBackend('moved');
  cleanups.push(() => old.close(), () => moved.close());
  const port = await freePort();
  const sock = path.join(tempDir('tslb-api-'), 'stats');
  const lb = await startTslb(`
global: { workers: 1 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    servers: [{ name: s1, address: 127.0.0.1, port: ${old.port} }]
runtime_api: { socket: ${sock}, level: admin }
`);
  cleanups.push(() => lb.stop());
  assert.deepEqual(await split(port, 2), { old: 2 });
  const inFlight = request(`http://127.0.0.1:${port}/held`).then((res) => res.body.text());
  while (held.length === 0) await new Promise((r) => setTimeout(r, 10));
  assert.match(await unixCommand(sock, `set server app/s1 addr 127.0.0.1 port ${moved.port}\n`), /port changed from/);
  // The worker has the new address once a new request reaches it (the held connection is busy meanwhile).
  assert.deepEqual(await eventually(port, 1, (s) => s.moved === 1), { moved: 1 });
  held[0]();
  assert.equal(await inFlight, 'late');
  assert.deepEqual(await split(port, 6), { moved: 6 }, 'the connection that was busy during the move leads to the old address');
});

test('show stat reports queued requests (qcur/qmax) of a server at maxconn', { skip: !hasSocat && 'socat is not installed' }, async () => {
  const held: (() => void)[] = [];
  const slow = await startHttpBackend('slow', (_req, res) => {
    held.push(() => res.end('done'));
    return true;
  });
  cleanups.push(async () => {
    for (const h of held) h();
    await slow.close();
  });
  const port = await freePort();
  const sock = path.join(tempDir('tslb-api-'), 'stats');
  const lb = await startTslb(`
global: { workers: 1 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    mode: http
    timeouts: { queue: 20s }
    servers:
      - { name: s1, address: 127.0.0.1, port: ${slow.port}, maxconn: 1 }
runtime_api: { socket: ${sock} }
`);
  cleanups.push(() => lb.stop());
  const inflight = [0, 1, 2].map((i) => request(`http://127.0.0.1:${port}/q${i}`).then((r) => r.body.text()));
  const column = (csv: string, row: string, name: string) => {
    const header = csv.split('\n')[0].slice(2).split(',');
    const line = csv.split('\n').find((l) => l.startsWith(row))!.split(',');
    return line[header.indexOf(name)];
  };
  let csv = await socat(sock, 'show stat\n');
  for (let i = 0; i < 40 && column(csv, 'app,s1,', 'qcur') !== '2'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    csv = await socat(sock, 'show stat\n');
  }
  assert.equal(column(csv, 'app,s1,', 'qcur'), '2');
  assert.equal(column(csv, 'app,BACKEND,', 'qcur'), '2');
  for (let i = 0; i < 3; i++) {
    while (!held.length) await new Promise((r) => setTimeout(r, 20));
    held.shift()!();
  }
  await Promise.all(inflight);
  for (let i = 0; i < 40 && column(csv, 'app,s1,', 'qcur') !== '0'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    csv = await socat(sock, 'show stat\n');
  }
  assert.equal(column(csv, 'app,s1,', 'qcur'), '0');
  assert.equal(column(csv, 'app,s1,', 'qmax'), '2');
});
