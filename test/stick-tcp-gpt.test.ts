/**
 * `tcp-request connection|session|content sc-set-gpt0(<n>) <int|expr>` through a real
 * 2-worker tslb: a session rule tags the tracked entry (YAML form), a content rule sets
 * it from an expression (HAProxy line), `show table` shows the tag, and ACLs on
 * sc_get_gpt0 react: a tcp-request connection reject, an http-request deny in an http
 * frontend. `tslb -c` refuses bad values with file, line and path.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startEchoBackend, startHttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';
import { converse, statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What came back for `payload` sent from `localAddress` on its own connection. */
const echo = (port: number, localAddress: string, payload: string): Promise<string> => converse('127.0.0.1', port, localAddress, payload);

/** The `show table` line of `key` once `ready` accepts it (the workers' updates reach the primary in batches). */
async function entry(table: string, key: string, ready: RegExp): Promise<string> {
  let line = '';
  for (let i = 0; i < 50; i++) {
    line = await unixCommand(sock, `show table ${table} key ${key}\n`);
    if (ready.test(line)) return line;
    await sleep(100);
  }
  assert.fail(`show table ${table} key ${key}: ${line}`);
}

let rawPort: number;
let webPort: number;
let sock: string;
let lb: TslbProcess;

before(async () => {
  const echoBackend = await startEchoBackend();
  const app = await startHttpBackend('app');
  cleanups.push(() => echoBackend.close(), () => app.close());
  rawPort = await freePort();
  webPort = await freePort();
  sock = path.join(tempDir('tslb-stick-gpt-'), 'api.sock');
  lb = await startTslb(`
global: { workers: 2 }
frontends:
  - name: raw
    mode: tcp
    binds: ["127.0.0.1:${rawPort}"]
    default_backend: echo
    stick_table: type ip size 100 expire 1m store gpt0,conn_cnt
    tcp_request:
      - { connection: "track-sc0 src" }
      - { connection: reject, if: "{ sc_get_gpt0(0) eq 7 }" }
      - { session: "sc-set-gpt0(0) 7", if: "{ src 127.0.0.20 }" }
    options:
      - tcp-request content sc-set-gpt0(0) sc0_conn_cnt if { src 127.0.0.21 }
  - name: web
    mode: http
    binds: ["127.0.0.1:${webPort}"]
    default_backend: app
    options:
      - stick-table type ip size 1k expire 30s store gpt0
      - tcp-request content track-sc0 src
      - tcp-request content sc-set-gpt0(0) 9 if { src 127.0.0.22 }
      - http-request deny if { sc_get_gpt0(0) eq 9 }
backends:
  - name: echo
    mode: tcp
    servers: [{ name: e, address: 127.0.0.1, port: ${echoBackend.port} }]
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${app.port} }]
runtime_api: { socket: ${sock}, level: admin }
`);
  cleanups.push(() => lb.stop());
});

test('a session rule tags the entry with gpt0 7: show table shows it and a connection rule on sc_get_gpt0 refuses the next connections', async () => {
  assert.equal(await echo(rawPort, '127.0.0.20', 'one'), 'one', 'the first connection passes, then sets the tag');
  assert.match(await entry('raw', '127.0.0.20', / gpt0=7 /), / key=127\.0\.0\.20 use=\d exp=\d+ shard=0 gpt0=7 conn_cnt=1\n/);
  // Two connections: with two workers, both see the tag.
  for (let i = 0; i < 2; i++) assert.equal(await echo(rawPort, '127.0.0.20', 'x'), '', `refused by the tag (${i})`);
  assert.equal(await echo(rawPort, '127.0.0.24', 'other'), 'other', 'another address is not tagged');
  assert.match(await entry('raw', '127.0.0.24', / conn_cnt=1\n/), / gpt0=0 conn_cnt=1\n/);
});

test('a content rule sets gpt0 from an expression (the HAProxy line), and the last value set wins', async () => {
  assert.equal(await echo(rawPort, '127.0.0.21', 'a'), 'a');
  await entry('raw', '127.0.0.21', / gpt0=1 conn_cnt=1\n/);
  assert.equal(await echo(rawPort, '127.0.0.21', 'b'), 'b');
  await entry('raw', '127.0.0.21', / gpt0=2 conn_cnt=2\n/);
});

test('an http frontend: tcp-request content sc-set-gpt0 tags the connection, http-request deny on sc_get_gpt0 answers 403', async () => {
  assert.equal(await statusFrom(webPort, '127.0.0.22'), 403);
  assert.equal(await statusFrom(webPort, '127.0.0.23'), 200);
  assert.match(await entry('web', '127.0.0.22', / gpt0=9\n/), / key=127\.0\.0\.22 use=\d exp=\d+ shard=0 gpt0=9\n/);
});

test('tslb -c refuses a bad counter, a fetch not available to tcp-request rules, a payload fetch outside tcp content rules, with file, line and path', async () => {
  const dir = tempDir('tslb-gpt-check-');
  const cfg = path.join(dir, 'check.yaml');
  fs.writeFileSync(
    cfg,
    `frontends:
  - name: raw
    mode: tcp
    binds: ["127.0.0.1:1"]
    default_backend: b
    stick_table: type ip size 10 store gpt0
    tcp_request:
      - { connection: "sc-set-gpt0(3) 1" }
      - { session: "sc-set-gpt0(0) 4294967296" }
    options:
      - tcp-request connection sc-set-gpt0(0) req.hdr(host)
      - tcp-request session sc-set-gpt0(0) req_ssl_hello_type
backends:
  - name: b
    mode: tcp
    servers: [{ name: s, address: 127.0.0.1, port: 2 }]
`,
  );
  const r = await runCli(['-c', '-f', cfg]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 1, out);
  for (const re of [
    /check\.yaml:8:\d+: frontends\[0\]\.tcp_request\[0\]\.connection: tcp-request connection: expects sc-set-gpt0\(<0\.\.2>\) <int\|expr>/,
    /check\.yaml:9:\d+: frontends\[0\]\.tcp_request\[1\]\.session: sc-set-gpt0: gpt0 is an unsigned 32-bit integer: 4294967296/,
    /check\.yaml:11:\d+: frontends\[0\]\.options\[0\]: sc-set-gpt0: req\.hdr\(host\): not available in tcp-request rules/,
    /check\.yaml:12:\d+: frontends\[0\]\.options\[1\]: sc-set-gpt0: req_ssl_hello_type reads the client's first bytes: only tcp-request content rules of a tcp frontend can/,
  ]) {
    assert.match(out, re);
  }
  assert.match(out, /Configuration file has 4 error\(s\)/);
});
