/**
 * Stick counters on the L7 pipeline through a real 2-worker tslb, written as HAProxy
 * lines: http-request track-sc0 src, a per-address request rate limit on
 * sc_http_req_rate over keep-alive connections spread on both workers, http_err and
 * bytes counted in the entry, sc-inc-gpc0 from an http rule, and `show table`;
 * http-request track-sc in a backend (its own table, per request); sc-set-gpt0 (the last
 * value set wins across workers, not a sum); the tables'
 * Prometheus gauges (haproxy_sticktable_size/used, from the primary).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Pool } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { paced } from './helpers/status';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` keep-alive connections from `localAddress`, one per pool (accept_mode rr puts them on alternate workers). */
function clientFrom(port: number, localAddress: string, n: number): Pool[] {
  const pools: Pool[] = [];
  for (let i = 0; i < n; i++) {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1, pipelining: 1, localAddress });
    cleanups.push(() => pool.destroy());
    pools.push(pool);
  }
  return pools;
}

async function get(pool: Pool, urlPath: string): Promise<number> {
  const res = await pool.request({ path: urlPath, method: 'GET' });
  await res.body.dump();
  return res.statusCode;
}

let backend: HttpBackend;
let port: number;
let gpcPort: number;
let gatePort: number;
let bePort: number;
let gptPort: number;
let promPort: number;
let sock: string;
let lb: TslbProcess;

before(async () => {
  backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  port = await freePort();
  gpcPort = await freePort();
  gatePort = await freePort();
  bePort = await freePort();
  gptPort = await freePort();
  promPort = await freePort();
  sock = path.join(tempDir('tslb-stick-http-'), 'api.sock');
  lb = await startTslb(`
global: { workers: 2, accept_mode: rr }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 30s store http_req_cnt,http_req_rate(1s),http_err_cnt,bytes_out_cnt
      - http-request track-sc0 src
      - http-request deny deny_status 429 if { sc_http_req_rate(0) gt 50 }
  - name: gpc
    mode: http
    binds: ["127.0.0.1:${gpcPort}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 30s store gpc0
      - http-request track-sc1 src
      - http-request deny if { sc_get_gpc0(1) gt 0 }
      - http-request sc-inc-gpc0(1) if { path /trap }
  - name: gate
    mode: http
    binds: ["127.0.0.1:${gatePort}"]
    default_backend: app
    options:
      - tcp-request connection reject if { src 127.0.0.8 }
      - tcp-request session reject if { src 127.0.0.9 }
  - name: be
    mode: http
    binds: ["127.0.0.1:${bePort}"]
    default_backend: tracked
  - name: gpt
    mode: http
    binds: ["127.0.0.1:${gptPort}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 30s store gpt0
      - tcp-request connection track-sc0 src
      - http-request sc-set-gpt0(0) 7 if { path /mark }
      - http-request sc-set-gpt0(0) req.hdr(x-level) if { path /level }
      - http-request deny if { sc_get_gpt0(0) gt 5 }
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
  - name: tracked
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
    options:
      - stick-table type ip size 512 expire 30s store http_req_cnt
      - http-request track-sc2 src
      - http-request deny deny_status 429 if { sc_http_req_cnt(2) gt 3 }
runtime_api: { socket: ${sock}, level: admin }
prometheus: { bind: "127.0.0.1:${promPort}", prefix: haproxy }
`);
  cleanups.push(() => lb.stop());
});

/** The `show table` line of `key`, once `ready` accepts it (the workers' increments reach the primary in batches). */
async function entry(table: string, key: string, ready: (line: string) => boolean): Promise<string> {
  let line = '';
  for (let i = 0; i < 50; i++) {
    line = await unixCommand(sock, `show table ${table} key ${key}\n`);
    if (ready(line)) return line;
    await sleep(100);
  }
  return line;
}

test('http-request track-sc0 src + deny 429 over sc_http_req_rate(0) gt 50: ~100 req/s keep-alive on two workers passes at most 5% over the limit; another address is unaffected; show table has the live entries', async (t) => {
  const limited = clientFrom(port, '127.0.0.2', 4);
  const other = clientFrom(port, '127.0.0.3', 2);
  const hitsBefore = backend.hits;
  // Denied requests count too (HAProxy counts each request before the rules): once 50
  // passed in the first second, the rate stays near 100/s and no more pass.
  const [limitedStatuses, otherStatuses] = await Promise.all([
    paced(100, 3000, (i) => get(limited[i % limited.length], '/')),
    paced(5, 3000, (i) => get(other[i % other.length], '/')),
  ]);
  const passed = limitedStatuses.filter((s) => s === 200).length;
  const denied = limitedStatuses.filter((s) => s === 429).length;
  t.diagnostic(`127.0.0.2: ${passed} of ${limitedStatuses.length} passed, ${denied} denied with 429`);
  assert.equal(passed + denied, limitedStatuses.length, `only 200 or 429: ${[...new Set(limitedStatuses)]}`);
  assert.ok(passed <= 50 * 1.05, `${passed} passed, more than 5% over 50`);
  assert.ok(passed >= 45, `${passed} passed: the limit lets the first 50 through`);
  assert.deepEqual([...new Set(otherStatuses)], [200], 'another address is not limited');
  assert.equal(backend.hits - hitsBefore, passed + otherStatuses.length, 'denied requests never reach the backend');

  const line = await entry('web', '127.0.0.2', (l) => new RegExp(` http_req_cnt=${limitedStatuses.length} `).test(l));
  const m = / key=127\.0\.0\.2 use=\d+ exp=\d+ shard=0 http_req_cnt=(\d+) http_req_rate\(1000\)=(\d+) http_err_cnt=(\d+) bytes_out_cnt=(\d+)\n/.exec(line);
  assert.ok(m, `show table line: ${JSON.stringify(line)}`);
  assert.equal(Number(m[1]), limitedStatuses.length, 'every request counted once, over both workers');
  assert.ok(Number(m[2]) > 50, `http_req_rate ${m[2]} is live`);
  assert.equal(Number(m[3]), denied, 'each 429 is an http error');
  assert.ok(Number(m[4]) > limitedStatuses.length * 100, `bytes_out_cnt ${m[4]} counts the responses`);
  assert.match(await unixCommand(sock, 'show table web data.http_req_cnt gt 0\n'), /key=127\.0\.0\.2 [^\n]+\n0x[0-9a-f]+: key=127\.0\.0\.3 |key=127\.0\.0\.3 [^\n]+\n0x[0-9a-f]+: key=127\.0\.0\.2 /);
});

test('http-request sc-inc-gpc0(1) marks an address: its next requests are denied on any connection and worker, another address is not', async () => {
  const marked = clientFrom(gpcPort, '127.0.0.4', 2);
  const other = clientFrom(gpcPort, '127.0.0.5', 2);
  assert.equal(await get(marked[0], '/'), 200);
  assert.equal(await get(marked[0], '/trap'), 200, 'the request that counts goes on (deny ran before it counted)');
  await entry('gpc', '127.0.0.4', (l) => / gpc0=1\n/.test(l));
  const later = await Promise.all([get(marked[0], '/'), get(marked[1], '/'), get(marked[0], '/a'), get(marked[1], '/b')]);
  assert.deepEqual(later, [403, 403, 403, 403]);
  assert.deepEqual(await Promise.all([get(other[0], '/'), get(other[1], '/')]), [200, 200]);
});

test('connections refused by tcp-request connection and session rules count in the frontend\'s dcon and dses (show stat)', async () => {
  for (const address of ['127.0.0.8', '127.0.0.8', '127.0.0.9']) await assert.rejects(get(clientFrom(gatePort, address, 1)[0], '/'));
  assert.equal(await get(clientFrom(gatePort, '127.0.0.10', 1)[0], '/'), 200);
  let row: Record<string, string> = {};
  for (let i = 0; i < 50; i++) {
    const [header, ...lines] = (await unixCommand(sock, 'show stat\n')).replace(/^# /, '').split('\n');
    const names = header.split(',');
    const gate = lines.map((l) => l.split(',')).find((f) => f[0] === 'gate' && f[1] === 'FRONTEND')!;
    row = Object.fromEntries(names.map((n, j) => [n, gate[j]]));
    if (row.dcon === '2' && row.dses === '1') break;
    await sleep(100);
  }
  assert.equal(row.dcon, '2');
  assert.equal(row.dses, '1');
});

test('http-request track-sc2 src in a backend: its own table, each request tracked for its own duration (use=0 once they are over), the 4th request denied', async () => {
  const [pool] = clientFrom(bePort, '127.0.0.6', 1);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push(await get(pool, '/'));
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  // A deny closes the connection: the next one may land on the other worker, which knows the count once the primary has it.
  await entry('tracked', '127.0.0.6', (l) => / http_req_cnt=4\n/.test(l));
  assert.equal(await get(pool, '/'), 429);
  const line = await entry('tracked', '127.0.0.6', (l) => / use=0 .* http_req_cnt=5\n/.test(l));
  assert.match(line, / key=127\.0\.0\.6 use=0 exp=\d+ shard=0 http_req_cnt=5\n/, 'no request holds the entry once they are over');
});

test('Prometheus sticktable scope: haproxy_sticktable_size and haproxy_sticktable_used per table (name, type) from the primary', async () => {
  const [pool] = clientFrom(bePort, '127.0.0.7', 1);
  assert.equal(await get(pool, '/'), 200);
  let body = '';
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`http://127.0.0.1:${promPort}/metrics?scope=sticktable`);
    body = await res.text();
    if (/haproxy_sticktable_used\{name="tracked",type="ip"\} [2-9]/.test(body)) break;
    await sleep(100);
  }
  assert.match(body, /# TYPE haproxy_sticktable_size gauge\n/);
  assert.match(body, /^haproxy_sticktable_size\{name="web",type="ip"\} 1024$/m);
  assert.match(body, /^haproxy_sticktable_size\{name="tracked",type="ip"\} 512$/m);
  assert.match(body, /^haproxy_sticktable_used\{name="tracked",type="ip"\} 2$/m, body);
  assert.doesNotMatch(body, /haproxy_frontend_|haproxy_process_/, 'only the sticktable scope');
});

test('sc-set-gpt0(0) <int|expr>: the tag is set, not added (two sets of 7 from two connections leave 7), an expression sets it back to 0; sc_get_gpt0 reads it on any worker', async () => {
  const [a, b, c] = clientFrom(gptPort, '127.0.0.10', 3);
  assert.equal(await get(a, '/'), 200);
  assert.equal(await get(a, '/mark'), 403, 'the rule after the set sees it at once');
  await entry('gpt', '127.0.0.10', (l) => / gpt0=7\n/.test(l));
  assert.equal(await get(b, '/'), 403, 'another connection (with accept_mode rr, likely the other worker) sees it');
  assert.equal(await get(b, '/mark'), 403);
  await sleep(200);
  assert.match(await unixCommand(sock, 'show table gpt key 127.0.0.10\n'), / gpt0=7\n/, 'set twice: still 7');
  const res = await c.request({ path: '/level', method: 'GET', headers: { 'x-level': '0' } });
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  await entry('gpt', '127.0.0.10', (l) => / gpt0=0\n/.test(l));
  assert.equal(await get(a, '/'), 200);
});
