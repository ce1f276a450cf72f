/**
 * Peers: two real tslb processes on loopback, each with its own frontend, backends and
 * runtime API, replicating their stick tables through a `peers` section (node A writes
 * it as HAProxy lines, node B as YAML members): a rate limit reached through A holds
 * on B within 1 s; entries (a gpc0 set by an operator, a `stick on src` server) come
 * back to B after B restarts, through the resync; a reload keeps the links; both link up
 * again after A restarts;
 * a third node with a wrong secret is refused and nothing it holds is taken.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECRET = 'correct-horse-battery-staple';
const LIMIT = 5;

/** One request on its own connection from `localAddress`: the status and the server that answered. */
function get(port: number, localAddress: string): Promise<{ status: number; server: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', localAddress, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, server: String(res.headers['x-served-by'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls `check` every 100 ms until it returns true, for at most `ms`. */
async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`${what}: not within ${ms} ms`);
}

interface Node {
  name: string;
  http: number;
  peer: number;
  sock: string;
  proc?: TslbProcess;
}

let s1: HttpBackend;
let s2: HttpBackend;
const nodes: Record<'A' | 'B' | 'C', Node> = {} as never;

/** A node's config: A lists its section as HAProxy lines, B and C as YAML members; C knows a wrong secret. */
function config(n: Node): string {
  const secret = n.name === 'C' ? 'not-the-shared-secret-at-all' : SECRET;
  const { A, B, C } = nodes;
  const section =
    n.name === 'A'
      ? `    options:
      - peer A 127.0.0.1:${A.peer}
      - peer B 127.0.0.1:${B.peer}
      - peer C 127.0.0.1:${C.peer}
      - secret ${secret}`
      : `    secret: ${secret}
    members:
      - { name: A, address: 127.0.0.1, port: ${A.peer} }
      - { name: B, address: 127.0.0.1, port: ${B.peer} }
      - { name: C, address: 127.0.0.1, port: ${C.peer} }`;
  return `
global: { workers: 1, localpeer: ${n.name}, grace_period: 1s }
peers:
  - name: mesh
${section}
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${n.http}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 60s store http_req_rate(10s),gpc0 peers mesh
      - http-request track-sc0 src
      - http-request deny deny_status 429 if { sc_http_req_rate(0) gt ${LIMIT} }
backends:
  - name: app
    stick_on: src
    stick_table: { type: ip, size: 1k, expire: 60s, peers: mesh }
    servers:
      - { name: s1, address: 127.0.0.1, port: ${s1.port} }
      - { name: s2, address: 127.0.0.1, port: ${s2.port} }
runtime_api: { socket: ${n.sock}, level: admin }
`;
}

async function start(n: Node): Promise<TslbProcess> {
  n.proc = await startTslb(config(n), { timeoutMs: 30_000 });
  const proc = n.proc;
  cleanups.push(() => proc.stop());
  return proc;
}

const api = (n: Node, cmd: string) => unixCommand(n.sock, `${cmd}\n`);
/** `show peers` on `n`: the line of peer `name` and the two after it. */
async function peerState(n: Node, name: string): Promise<string> {
  const lines = (await api(n, 'show peers')).split('\n');
  const i = lines.findIndex((l) => l.includes(` id=${name}(`));
  return i < 0 ? '' : lines.slice(i, i + 3).join('\n');
}
const established = async (n: Node, name: string) => /last_status=ESTA/.test(await peerState(n, name)) && /in=ESTA out=ESTA/.test(await peerState(n, name));

before(async () => {
  s1 = await startHttpBackend('s1');
  s2 = await startHttpBackend('s2');
  cleanups.push(() => s1.close(), () => s2.close());
  const dir = tempDir('tslb-peers-');
  for (const name of ['A', 'B', 'C'] as const) nodes[name] = { name, http: await freePort(), peer: await freePort(), sock: path.join(dir, `${name}.sock`) };
  await Promise.all([start(nodes.A), start(nodes.B)]);
  await eventually('A and B connected both ways', 15_000, async () => (await established(nodes.A, 'B')) && (await established(nodes.B, 'A')));
});

test(`a rate limit reached through A (sc_http_req_rate gt ${LIMIT}) holds on B within 1 s`, async (t) => {
  const { A, B } = nodes;
  const client = '127.0.0.2';
  const onA: number[] = [];
  for (let i = 0; i < LIMIT + 3; i++) onA.push((await get(A.http, client)).status);
  assert.deepEqual(onA.slice(0, LIMIT), new Array(LIMIT).fill(200), `the first ${LIMIT} pass on A`);
  assert.equal(onA.at(-1), 429, 'A denies past the limit');
  // B alone would let this client's first LIMIT requests through: a 429 among them is A's count.
  const started = Date.now();
  let deniedAfter = -1;
  for (let i = 0; i < LIMIT && deniedAfter < 0; i++) {
    if ((await get(B.http, client)).status === 429) deniedAfter = Date.now() - started;
    else await sleep(150);
  }
  assert.ok(deniedAfter >= 0, `B never denied ${client} within its first ${LIMIT} requests`);
  t.diagnostic(`B denied ${client} ${deniedAfter} ms after A did`);
  assert.ok(deniedAfter <= 1000, `B denied after ${deniedAfter} ms`);
  // Another address is not limited on B.
  assert.equal((await get(B.http, '127.0.0.3')).status, 200);
  // B may have denied on A's first push; the rest of A's requests follow within a push or two.
  await eventually(`B counts all ${LIMIT + 3} of A's requests`, 1000, async () => Number(/http_req_rate\(10000\)=(\d+)/.exec(await api(B, 'show table web key 127.0.0.2'))?.[1] ?? 0) >= LIMIT + 3);
});

test('stick entries set on A (gpc0) and learned on A (stick on src) survive a restart of B through the resync', async () => {
  const { A, B } = nodes;
  assert.equal(await api(A, 'set table web key 127.0.0.50 data.gpc0 7'), '\n');
  const pinned = (await get(A.http, '127.0.0.60')).server;
  assert.ok(pinned === 's1' || pinned === 's2');
  await eventually('B learns both entries', 3000, async () => /gpc0=7/.test(await api(B, 'show table web key 127.0.0.50')) && (await api(B, 'show table app key 127.0.0.60')).includes(`server_key=${pinned}`));

  await B.proc!.stop();
  await start(B);
  await eventually('B back and connected to A', 15_000, () => established(B, 'A'));
  await eventually('the restarted B has the entries again', 5000, async () => /gpc0=7/.test(await api(B, 'show table web key 127.0.0.50')) && (await api(B, 'show table app key 127.0.0.60')).includes(`server_key=${pinned}`));
  // The learned server is used: 127.0.0.60 goes to the same server through B.
  for (let i = 0; i < 3; i++) assert.equal((await get(B.http, '127.0.0.60')).server, pinned);
  assert.match(await peerState(B, 'A'), /learn_state=FINISHED/);
});

test('a reload of B keeps its links up and its table replicated', async () => {
  const { A, B } = nodes;
  const before = await peerState(A, 'B');
  process.kill(B.proc!.pid, 'SIGHUP');
  await B.proc!.waitForLog((e) => e.event === 'reloaded', 20_000);
  assert.equal(await api(A, 'set table web key 127.0.0.51 data.gpc0 5'), '\n');
  await eventually('B learns an entry set after its reload', 3000, async () => /gpc0=5/.test(await api(B, 'show table web key 127.0.0.51')));
  assert.ok(await established(B, 'A'));
  assert.equal(/new_conn=(\d+)/.exec(await peerState(A, 'B'))![1], /new_conn=(\d+)/.exec(before)![1], 'A did not reconnect to B');
  assert.doesNotMatch(B.proc!.logs(), /"event":"peers-down"/);
});

test('both nodes link up again after A restarts: A gets its entries back and counts B\'s traffic again', async () => {
  const { A, B } = nodes;
  await A.proc!.stop();
  await eventually('B sees A gone', 10_000, async () => !/out=ESTA/.test(await peerState(B, 'A')));
  await start(A);
  await eventually('A and B connected again', 15_000, async () => (await established(A, 'B')) && (await established(B, 'A')));
  await eventually('A learns the entry back from B', 3000, async () => /gpc0=7/.test(await api(A, 'show table web key 127.0.0.50')));
  const client = '127.0.0.4';
  for (let i = 0; i < LIMIT + 1; i++) await get(B.http, client);
  await eventually('B\'s requests count on A', 1000, async () => Number(/http_req_rate\(10000\)=(\d+)/.exec(await api(A, `show table web key ${client}`))?.[1] ?? 0) === LIMIT + 1);
  assert.equal((await get(A.http, client)).status, 429, 'A denies the client B counted');
  assert.match(await api(A, 'show info'), /ConnectedPeers: 1/);
});

test('a node with a wrong secret is refused both ways and nothing it holds is taken', async () => {
  const { A, C } = nodes;
  await start(C);
  assert.equal(await api(C, 'set table web key 127.0.0.70 data.gpc0 3'), '\n');
  await eventually('C sees A refuse it (AUTH)', 10_000, async () => /last_status=AUTH/.test(await peerState(C, 'A')));
  await eventually('A counts C\'s failed proofs', 10_000, async () => /auth_err=[1-9]/.test(await peerState(A, 'C')));
  const onA = await peerState(A, 'C');
  assert.match(onA, /id=C\(remote,inactive\)/);
  assert.match(onA, /last_status=AUTH/);
  assert.doesNotMatch(await api(A, 'show table web key 127.0.0.70'), /127\.0\.0\.70/, 'A took nothing from C');
  assert.doesNotMatch(await api(C, 'show table web'), /127\.0\.0\.50/, 'C took nothing from A');
  assert.match(C.proc!.logs(), /"event":"peers-refused"/);
});
