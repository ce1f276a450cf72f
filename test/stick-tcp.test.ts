/**
 * tcp-request rules of a tcp frontend through a real 2-worker tslb: content rules
 * track, count (sc-inc-gpc0) and reject on the counters; silent-drop resets; session
 * rules see the PROXY protocol's source while connection rules see the peer; bytes
 * count in the tracked entry.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startEchoBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `payload` from `localAddress` and half-closes: what came back, or the error code when the connection failed. */
function echo(port: number, localAddress: string, payload: string): Promise<{ data: string; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true });
    let data = '';
    let error: string | undefined;
    s.setEncoding('latin1');
    s.on('connect', () => s.end(payload));
    s.on('data', (d) => (data += d));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    s.on('close', () => resolve({ data, error }));
    s.setTimeout(5000, () => s.destroy());
  });
}

let port: number;
let proxied: number;
let sock: string;
let lb: TslbProcess;

before(async () => {
  const backend = await startEchoBackend();
  cleanups.push(() => backend.close());
  port = await freePort();
  proxied = await freePort();
  sock = path.join(tempDir('tslb-stick-tcp-'), 'api.sock');
  lb = await startTslb(`
global: { workers: 2 }
frontends:
  - name: raw
    mode: tcp
    binds: ["127.0.0.1:${port}", { address: 127.0.0.1, port: ${proxied}, accept_proxy: true }]
    default_backend: echo
    stick_table: type ip size 100 expire 1m store gpc0,conn_cnt,bytes_in_cnt,bytes_out_rate(10s)
    tcp_request:
      - { connection: silent-drop, if: "{ src 127.0.0.7 }" }
      - { session: "track-sc1 src" }
      - { content: "track-sc0 src" }
      - { content: reject, if: "{ sc_get_gpc0(0) gt 0 }" }
      - { content: "sc-inc-gpc0(0)", if: "{ sc0_conn_cnt ge 3 }" }
backends:
  - name: echo
    mode: tcp
    servers: [{ name: e, address: 127.0.0.1, port: ${backend.port} }]
runtime_api: { socket: ${sock}, level: admin }
`);
  cleanups.push(() => lb.stop());
});

test('content rules count and reject on the counters: the 2nd connection sets gpc0, the 3rd is refused', async () => {
  // sc0 and sc1 track the same entry: each connection counts twice in conn_cnt, and its bytes twice (as in HAProxy).
  assert.equal((await echo(port, '127.0.0.8', 'one')).data, 'one');
  await sleep(100);
  const second = await echo(port, '127.0.0.8', 'two');
  assert.equal(second.data, 'two');
  await sleep(100);
  assert.equal((await echo(port, '127.0.0.8', 'x')).data, '', 'gpc0 set by the 2nd connection (conn_cnt 4 >= 3): refused');
  await sleep(100);
  const dump = await unixCommand(sock, 'show table raw key 127.0.0.8\n');
  assert.match(dump, / key=127\.0\.0\.8 use=0 exp=\d+ shard=0 gpc0=1 conn_cnt=6 bytes_in_cnt=12 bytes_out_rate\(10000\)=12\n/, dump);
  assert.equal((await echo(port, '127.0.0.10', 'other')).data, 'other', 'another address is fine');
});

test('silent-drop resets the connection; connection rules see the peer, session rules the PROXY header\'s source', async () => {
  // Nothing sent: a reject would close with a FIN, silent-drop resets.
  assert.deepEqual(await echo(port, '127.0.0.7', ''), { data: '', error: 'ECONNRESET' });
  // Connection rules run before the PROXY header: they see the peer, 127.0.0.7, and drop it.
  assert.deepEqual(await echo(proxied, '127.0.0.7', ''), { data: '', error: 'ECONNRESET' });
  const viaProxy = await echo(proxied, '127.0.0.11', 'PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\nhi');
  assert.equal(viaProxy.data, 'hi');
  await sleep(100);
  assert.match(await unixCommand(sock, 'show table raw key 10.1.2.3\n'), / key=10\.1\.2\.3 use=0 exp=\d+ shard=0 gpc0=0 conn_cnt=2 bytes_in_cnt=4 bytes_out_rate\(10000\)=4\n/);
  assert.equal(await unixCommand(sock, 'show table raw key 127.0.0.11\n'), '\n', 'the peer address is not tracked');
});

test('set table reaches every worker at once, and a reload keeps the table: the new workers start with its entries', async () => {
  assert.equal(await unixCommand(sock, 'set table raw key 127.0.0.12 data.gpc0 1\n'), '\n');
  await sleep(50);
  // Several connections: with two workers, both have the entry.
  for (let i = 0; i < 4; i++) assert.equal((await echo(port, '127.0.0.12', 'x')).data, '', `refused by gpc0 (${i})`);
  process.kill(lb.pid, 'SIGHUP');
  await lb.waitForLog((e) => e.event === 'reloaded', 20_000);
  assert.match(await unixCommand(sock, 'show table raw key 127.0.0.12\n'), / gpc0=1 conn_cnt=8 /);
  for (let i = 0; i < 4; i++) assert.equal((await echo(port, '127.0.0.12', 'x')).data, '', `still refused after the reload (${i})`);
  assert.equal((await echo(port, '127.0.0.13', 'ok')).data, 'ok');
});
