/**
 * Fleet-wide stick counters in Redis (src/stick/redis.ts): a real redis-server the
 * test starts on a loopback port, two real tslb processes ("nodes") pointing at it.
 * A per-address limit reached through both nodes holds over the fleet; with Redis
 * killed the nodes keep serving and count locally (logged, counted in show table and
 * Prometheus); with Redis back (restarted empty), fleet counting resumes from what the
 * nodes knew; a Redis that hangs counts as down after the timeout; a reload keeps it all.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';
import { statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The limit: more than LIMIT requests over 10 s from one address are answered 429. */
const LIMIT = 20;

interface Node {
  yaml: string;
  port: number;
  sock: string;
  metrics: number;
  lb: TslbProcess;
}

let redisPort: number;
let redisDir: string;
let redis: ChildProcess | undefined;
let backend: HttpBackend;
const nodes: Node[] = [];

/** redis-server on loopback, no persistence, in its own directory; resolves once it accepts connections. */
async function startRedis(): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready in 10 s: ${out}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  child.stdout!.resume();
  return child;
}

async function killRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** `count` requests from `localAddress`, one at a time, alternating over `targets`, ~`gapMs` apart. */
async function alternate(targets: Node[], localAddress: string, count: number, gapMs: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push(await statusFrom(targets[i % targets.length].port, localAddress));
    await sleep(gapMs);
  }
  return statuses;
}

/** The `show table web` line of `key` on `node`, and the table's header. */
async function showTable(node: Node, key?: string): Promise<string> {
  return unixCommand(node.sock, `show table web${key ? ` key ${key}` : ''}\n`);
}

/** http_req_cnt of `key` as `node` sees it. */
async function requestCount(node: Node, key: string): Promise<number> {
  return Number(/http_req_cnt=(\d+)/.exec(await showTable(node, key))?.[1] ?? -1);
}

/** Polls `read` until it returns `want` or `ms` pass; returns the last value. */
async function eventually<T>(read: () => Promise<T>, want: T, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  let v = await read();
  while (v !== want && Date.now() < until) {
    await sleep(50);
    v = await read();
  }
  return v;
}

async function metrics(node: Node): Promise<string> {
  return (await request(`http://127.0.0.1:${node.metrics}/metrics`, { reset: true })).body.text();
}

before(async () => {
  redisPort = await freePort();
  redisDir = tempDir('tslb-redis-');
  redis = await startRedis();
  cleanups.push(killRedis);
  backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  const prefix = `t${process.pid}:`;
  const start = async (): Promise<Node> => {
    const port = await freePort();
    const metricsPort = await freePort();
    const sock = path.join(tempDir('tslb-redis-node-'), 'api.sock');
    const yaml = `
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: app
    stick_table:
      type: ip
      size: 1k
      expire: 30s
      store: [http_req_rate(10s), http_req_cnt]
      redis: { url: "redis://127.0.0.1:${redisPort}/0", prefix: "${prefix}", flush_interval: 50ms, timeout: 500ms }
    options:
      - http-request track-sc0 src
      - http-request deny deny_status 429 if { sc_http_req_rate(0) gt ${LIMIT} }
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
runtime_api: { socket: ${sock}, level: admin }
prometheus: { bind: "127.0.0.1:${metricsPort}" }
`;
    const lb = await startTslb(yaml);
    cleanups.push(() => lb.stop());
    return { yaml, port, sock, metrics: metricsPort, lb };
  };
  nodes.push(...(await Promise.all([start(), start()])));
  for (const n of nodes) await n.lb.waitForLog((e) => e.event === 'redis-up', 10_000);
});

test('a per-address rate limit reached through two nodes holds fleet-wide, and each node sees the fleet count', async (t) => {
  // 60 requests from 127.0.0.2, alternating nodes, ~30 a second: per-node counting would let
  // 2 × 20 through. Each node misses at most the other's increments of its last flush interval,
  // its own flush interval and one Redis round trip (50 + 50 + ~1 ms, ~3 requests at this pace;
  // loaded-machine delays widen it), hence the 20 + 6 bound.
  const statuses = await alternate(nodes, '127.0.0.2', 60, 30);
  const passed = statuses.filter((s) => s === 200).length;
  t.diagnostic(`127.0.0.2: ${passed} of ${statuses.length} passed (limit ${LIMIT} over the fleet)`);
  assert.deepEqual([...new Set(statuses)].sort(), [200, 429]);
  assert.ok(passed >= LIMIT - 2 && passed <= LIMIT + 6, `${passed} passed: the fleet-wide limit lets ${LIMIT} through (per node it would be ${2 * LIMIT})`);
  // Both nodes end with the fleet's count: every request of both nodes, not their own half.
  for (const n of nodes) assert.equal(await eventually(() => requestCount(n, '127.0.0.2'), 60), 60);
  const head = await showTable(nodes[0]);
  assert.match(head, /^# table: web, type: ip, size:1024, used:1, redis:up, redis_fallbacks:0$/m);
});

test('with Redis killed the nodes keep serving and count locally (logged once, counted); with Redis back, fleet counting resumes', async (t) => {
  // 127.0.0.8 is counted in Redis through node 0 only: node 1 never saw it.
  assert.deepEqual(await alternate([nodes[0]], '127.0.0.8', 5, 5), [200, 200, 200, 200, 200]);
  await killRedis();
  for (const n of nodes) await n.lb.waitForLog((e) => e.event === 'redis-down', 10_000);
  // Served, and limited per node: 30 requests to node 0 alone from 127.0.0.3 pass the first 20.
  const local = await alternate([nodes[0]], '127.0.0.3', 30, 5);
  t.diagnostic(`Redis down, node 0 alone, 127.0.0.3: ${local.filter((s) => s === 200).length} of 30 passed`);
  assert.deepEqual(local.slice(0, LIMIT), new Array(LIMIT).fill(200), 'served while Redis is down');
  assert.deepEqual(local.slice(LIMIT + 1), new Array(30 - LIMIT - 1).fill(429), 'the limit still holds on the node');
  // Node 1 serves the same address its own 20 meanwhile: each node counts alone.
  const other = await alternate([nodes[1]], '127.0.0.3', 5, 5);
  assert.deepEqual(other, [200, 200, 200, 200, 200]);
  for (const n of nodes) {
    assert.match(await showTable(n), /redis:down, redis_fallbacks:1$/m);
    const m = await metrics(n);
    assert.match(m, /^tslb_stick_table_redis_up\{table="web"\} 0$/m);
    assert.match(m, /^tslb_stick_table_redis_fallbacks_total\{table="web"\} 1$/m);
    assert.equal(n.lb.logs().split('\n').filter((l) => l.includes('"redis-down"')).length, 1, 'the fall back is logged once');
  }

  redis = await startRedis();
  for (const n of nodes) await n.lb.waitForLog((e) => e.event === 'redis-up' && n.lb.logs().includes('redis-down'), 15_000);
  // The increments counted during the outage reach the (empty, restarted) Redis: both nodes see 35.
  for (const n of nodes) assert.equal(await eventually(() => requestCount(n, '127.0.0.3'), 35), 35);
  // Node 0 seeds the empty Redis with what it knew of 127.0.0.8: node 1's first request from it counts on top.
  await sleep(300);
  assert.equal(await statusFrom(nodes[1].port, '127.0.0.8'), 200);
  assert.equal(await eventually(() => requestCount(nodes[1], '127.0.0.8'), 6), 6, 'the fleet count survives Redis restarting empty');
  const statuses = await alternate(nodes, '127.0.0.4', 40, 30);
  const passed = statuses.filter((s) => s === 200).length;
  t.diagnostic(`Redis back, 127.0.0.4 over both nodes: ${passed} of 40 passed`);
  assert.ok(passed >= LIMIT - 2 && passed <= LIMIT + 6, `${passed} passed after recovery (fleet limit ${LIMIT})`);
  for (const n of nodes) {
    assert.equal(await eventually(() => requestCount(n, '127.0.0.4'), 40), 40);
    assert.match(await metrics(n), /^tslb_stick_table_redis_up\{table="web"\} 1$/m);
  }
});

/** Lines of `event` in `node`'s log. */
function logged(node: Node, event: string): number {
  return node.lb.logs().split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;
}

async function waitLogged(node: Node, event: string, count: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (logged(node, event) < count && Date.now() < until) await sleep(50);
  assert.equal(logged(node, event), count, `${event} logged ${logged(node, event)} times, ${count} expected`);
}

test('a Redis that stops answering (SIGSTOP) counts as down after the timeout, and as up at its first answer', async () => {
  const child = redis!;
  // The second fall back of each node (the first was the kill above).
  child.kill('SIGSTOP');
  try {
    // An address tracked on a node makes it flush; the flush waits past the 500 ms timeout.
    assert.deepEqual(await Promise.all(nodes.map((n) => statusFrom(n.port, '127.0.0.6'))), [200, 200]);
    for (const n of nodes) await waitLogged(n, 'redis-down', 2);
    assert.deepEqual(await Promise.all(nodes.map((n) => statusFrom(n.port, '127.0.0.6'))), [200, 200], 'served while Redis hangs');
    for (const n of nodes) {
      assert.match(await showTable(n), /redis:down, redis_fallbacks:2$/m);
      assert.match(n.lb.logs(), /"event":"redis-down"[^\n]*"reason":"Command timed out"/);
    }
  } finally {
    child.kill('SIGCONT');
  }
  for (const n of nodes) await waitLogged(n, 'redis-up', 3);
  for (const n of nodes) assert.match(await showTable(n), /redis:up, redis_fallbacks:2$/m);
});

test('a reload keeps the table, its fleet counts and its Redis connection', async () => {
  const n = nodes[0];
  n.lb.writeConfig(n.yaml.replace('flush_interval: 50ms', 'flush_interval: 80ms'));
  process.kill(n.lb.pid, 'SIGHUP');
  await waitLogged(n, 'reloaded', 1, 20_000);
  assert.equal(await requestCount(n, '127.0.0.2'), 60, 'entries survive the reload');
  const statuses = await alternate(nodes, '127.0.0.7', 30, 20);
  const passed = statuses.filter((s) => s === 200).length;
  assert.ok(passed >= LIMIT - 2 && passed <= LIMIT + 6, `${passed} passed after the reload (fleet limit ${LIMIT})`);
  for (const m of nodes) assert.equal(await eventually(() => requestCount(m, '127.0.0.7'), 30), 30);
  assert.match(await showTable(n), /redis:up, redis_fallbacks:2$/m);
  assert.equal(logged(n, 'redis-up'), 3, 'the connection was kept');
});
