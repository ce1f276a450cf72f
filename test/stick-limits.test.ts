/**
 * Stick counters and limits through a real 2-worker tslb, from several loopback
 * source addresses (127.0.0.0/8): the per-address rate limit holds over both workers
 * within 5%, other addresses are unaffected, concurrent connections per address are
 * capped, and `show table` shows the live entries.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { freePort, rss, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';
import { paced, statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let backend: HttpBackend;
let port: number;
/** A frontend limiting on sc_conn_rate, which counts refused connections too. */
let connRatePort: number;
/** HAProxy's reg-test stick-table/src_conn_rate: tracked in a backend's table, denied by an http rule. */
let denyPort: number;
let sock: string;
let lb: TslbProcess;

before(async () => {
  backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  port = await freePort();
  connRatePort = await freePort();
  denyPort = await freePort();
  sock = path.join(tempDir('tslb-stick-'), 'api.sock');
  lb = await startTslb(`
global: { workers: 2 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: app
    stick_table: type ip size 1k expire 30s store conn_cur,conn_rate(1s),sess_rate(1s),gpc0
    tcp_request:
      - { connection: track-sc0 src }
      - { connection: reject, if: "{ sc_sess_rate(0) ge 50 }" }
      - { connection: reject, if: "{ sc_conn_cur(0) gt 3 }" }
  - name: web2
    mode: http
    binds: ["127.0.0.1:${connRatePort}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 30s store conn_rate(4s)
      - tcp-request connection track-sc0 src
      - tcp-request connection reject if { sc_conn_rate(0) gt 200 }
  - name: web3
    mode: http
    binds: ["127.0.0.1:${denyPort}"]
    default_backend: app
    tcp_request: [{ connection: "track-sc0 src table t" }]
    http_request: [{ deny: {}, if: "{ src_conn_rate(t) gt 3 }" }]
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
  - name: t
    stick_table: type ip size 100 expire 1m store conn_rate(1m)
    servers: []
runtime_api: { socket: ${sock}, level: admin }
`);
  cleanups.push(() => lb.stop());
});

test('a per-address rate limit of 50/s holds across two workers within 5% (sc_sess_rate and sc_conn_rate) while other addresses are unaffected', async (t) => {
  // ~100 connections/s from 127.0.0.2 for 4 s against 50 sessions/s; 127.0.0.3 sends 5/s meanwhile;
  // 127.0.0.14 sends ~100/s to a frontend that refuses over 200 connections in 4 s (50/s), refused ones included.
  const [limited, other, byConnRate] = await Promise.all([
    paced(100, 4000, () => statusFrom(port, '127.0.0.2')),
    paced(5, 4000, () => statusFrom(port, '127.0.0.3')),
    paced(100, 4000, () => statusFrom(connRatePort, '127.0.0.14')),
  ]);
  const passed = limited.filter((s) => s === 200).length;
  const refused = limited.filter((s) => s === 0).length;
  t.diagnostic(`127.0.0.2: ${passed} of ${limited.length} got through; 127.0.0.3: ${other.filter((s) => s === 200).length} of ${other.length}`);
  assert.equal(passed + refused, limited.length, `only 200 or a closed connection: ${[...new Set(limited)]}`);
  // Rejected connections are not sessions, so the limit lets 50 a second through: 200 over four periods.
  assert.ok(passed <= 200 * 1.05, `${passed} of ${limited.length} got through, more than 5% over 200`);
  // The floor only guards against a limit that refuses everything: on a loaded machine the client's
  // attempts arrive in bursts, and HAProxy's sliding period then refuses more than an even pace would
  // (85 of 400 passed in a full-suite run at load average 13; ~200 on a quiet one).
  assert.ok(passed >= 50, `${passed} of ${limited.length} got through: the limit should let at least one second's 50 through`);
  assert.deepEqual([...new Set(other)], [200], 'another address is not limited');
  // Every attempt counts in conn_rate: the first 200 pass (in ~2 s), then the rate stays above 200 and none does.
  const byRate = byConnRate.filter((s) => s === 200).length;
  t.diagnostic(`127.0.0.14 (sc_conn_rate(4s) gt 200): ${byRate} of ${byConnRate.length} got through`);
  assert.ok(byRate <= 200 * 1.05 && byRate >= 160, `${byRate} got through sc_conn_rate(0) gt 200 (200 expected)`);
});

/** An idle client connection from `localAddress`, once tslb accepted it (tcp-request rules have run by then). */
async function hold(localAddress: string): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  return s;
}

test('the 4th concurrent connection from one address is refused (sc_conn_cur over both workers); show/set/clear table', async () => {
  const held = [await hold('127.0.0.4'), await hold('127.0.0.4'), await hold('127.0.0.4')];
  cleanups.push(async () => held.forEach((s) => s.destroy()));
  // Both workers know the three connections a few ms after they are counted.
  await sleep(200);
  const dump = await unixCommand(sock, 'show table web key 127.0.0.4\n');
  assert.match(dump, /^# table: web, type: ip, size:1024, used:\d+\n0x[0-9a-f]{12}: key=127\.0\.0\.4 use=3 exp=\d+ shard=0 gpc0=0 conn_rate\(1000\)=3 conn_cur=3 sess_rate\(1000\)=3\n\n$/);
  assert.equal(await statusFrom(port, '127.0.0.4'), 0, 'a 4th connection is refused');
  assert.equal(await statusFrom(port, '127.0.0.5'), 200, 'another address is not');
  held.pop()!.destroy();
  await sleep(200);
  assert.equal(await statusFrom(port, '127.0.0.4'), 200, 'a slot is free again');
  await sleep(200);

  // Filters, set and clear, as HAProxy's CLI.
  assert.match(await unixCommand(sock, 'show table web data.conn_cur gt 1\n'), /^# table: web, [^\n]+\n0x[0-9a-f]+: key=127\.0\.0\.4 use=2 [^\n]+\n\n$/);
  assert.equal(await unixCommand(sock, 'set table web key 127.0.0.9 data.gpc0 5 data.conn_rate 7\n'), '\n');
  assert.match(await unixCommand(sock, 'show table web key 127.0.0.9\n'), / key=127\.0\.0\.9 use=0 exp=\d+ shard=0 gpc0=5 conn_rate\(1000\)=7 conn_cur=0 sess_rate\(1000\)=0\n/);
  assert.equal(await unixCommand(sock, 'clear table web key 127.0.0.4\n'), 'Entry currently in use, cannot remove\n\n');
  assert.equal(await unixCommand(sock, 'clear table web data.gpc0 eq 5\n'), '\n');
  assert.equal(await unixCommand(sock, 'show table web key 127.0.0.9\n'), '\n');
  assert.equal(await unixCommand(sock, 'show table web data.http_req_rate gt 1\n'), 'Filter entry #1: Data type not stored in this table\n\n');
  assert.equal(await unixCommand(sock, 'set table web key 127.0.0.9 data.nope 1\n'), 'Unknown data type\n\n');
  assert.equal(await unixCommand(sock, 'set table web key not-an-ip data.gpc0 1\n'), 'Invalid key\n\n');
  assert.equal(await unixCommand(sock, 'show table nope\n'), 'No such table\n\n');
});

/** RSS of tslb's primary and of each worker (MiB). */
function treeRss(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children].map((p) => rss(p) / 1048576);
}

test('a flood from 3,000 source addresses leaves the table at its size and memory bounded', async (t) => {
  const before = treeRss(lb.pid);
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < 3000) {
        const i = next++;
        statuses.push(await statusFrom(port, `127.${2 + (i >> 8)}.${i & 255}.1`));
      }
    }),
  );
  assert.deepEqual([...new Set(statuses)], [200]);
  await sleep(200);
  const grown = treeRss(lb.pid).map((r, i) => r - before[i]);
  t.diagnostic(`RSS growth (MiB) primary, workers: ${grown.map((g) => g.toFixed(1)).join(', ')}`);
  assert.match(await unixCommand(sock, 'show table\n'), /^# table: web, type: ip, size:1024, used:1024\n/);
  for (const g of grown) assert.ok(g < 40, `a process grew by ${g.toFixed(1)} MiB`);
});

/** `count` connections at once to a frontend with `rate-limit sessions 20` on `workers` workers: when each was served (ms). */
async function sessionBurst(workers: number, count: number): Promise<number[]> {
  const p = await freePort();
  const limited = await startTslb(`
global: { workers: ${workers} }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${p}"], default_backend: app, options: ["rate-limit sessions 20"] }
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
`);
  cleanups.push(() => limited.stop());
  const started = Date.now();
  const done: number[] = [];
  const statuses = await Promise.all(
    Array.from({ length: count }, () =>
      statusFrom(p, '127.0.0.6', { timeoutMs: 10_000 }).then((s) => {
        done.push(Date.now() - started);
        return s;
      }),
    ),
  );
  assert.deepEqual([...new Set(statuses)], [200], 'every connection is served');
  return done;
}

test('rate-limit sessions 20: over both workers, 20 sessions a second; the excess waits and is served, never refused', async (t) => {
  const done = await sessionBurst(2, 60);
  const within = (ms: number) => done.filter((d) => d < ms).length;
  t.diagnostic(`served by 0.8 s: ${within(800)}, by 2 s: ${within(2000)}, all by ${Math.max(...done)} ms`);
  // HAProxy's freq_ctr: 20 in the first second, then one every 50 ms: 40 by 2 s, all 60 by ~3 s.
  // The primary hands the sessions out (src/primary/session-rates.ts), so the burst landing on both
  // workers at once gets 20 over both, not 20 each; the slack is the clock of the test against the
  // primary's (a limit counted per worker would serve all 60 by ~1.5 s).
  assert.ok(within(800) <= 21, `${within(800)} sessions in the first 0.8 s`);
  assert.ok(within(2000) <= 42, `${within(2000)} sessions in 2 s`);
  assert.ok(Math.max(...done) >= 2700, `all 60 served after ${Math.max(...done)} ms: faster than 20/s`);
});

test('rate-limit sessions 20 on one worker: the worker counts alone, with the same sliding counter', async (t) => {
  const done = await sessionBurst(1, 30);
  const within = (ms: number) => done.filter((d) => d < ms).length;
  t.diagnostic(`served by 0.8 s: ${within(800)}, all by ${Math.max(...done)} ms`);
  assert.ok(within(800) <= 21, `${within(800)} sessions in the first 0.8 s`);
  // The 30th opens when the second period has 10: ~1.5 s.
  assert.ok(Math.max(...done) >= 1400, `all 30 served after ${Math.max(...done)} ms: faster than 20/s`);
});

test('an http rule reads the counters tracked at connection level: connections 1..3 get 200, the 4th 403 (HAProxy\'s src_conn_rate reg-test)', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    statuses.push(await statusFrom(denyPort, '127.0.0.15'));
    await sleep(50);
  }
  assert.deepEqual(statuses, [200, 200, 200, 403]);
});
