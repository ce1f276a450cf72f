/**
 * `tslb -c` refuses what would silently weaken or break a running tslb: stats
 * authentication with one credential, numbers out of range (YAML fields and HAProxy
 * words in option strings, overflowing timeouts), each error naming path and range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatIssue, loadConfig } from '../src/config/load';
import { runCli, tempDir } from './helpers/tslb';

const SERVED = `
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
backends:
  - name: app
    servers:
      - { name: a, address: 127.0.0.1, port: 9000 }
`;

function write(yaml: string): string {
  const file = path.join(tempDir(), 'lb.yaml');
  writeFileSync(file, yaml);
  return file;
}

async function check(yaml: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return runCli(['-c', '-f', write(yaml)]);
}

test('stats: a password without username (or the reverse) is refused with its path, native and seed shapes', async () => {
  const passwordOnly = await check(`${SERVED}stats: { bind: "127.0.0.1:18404", password: secret, admin: true }\n`);
  assert.equal(passwordOnly.code, 1);
  assert.match(passwordOnly.stderr, /lb\.yaml:\d+:\d+: stats\.password: stats authentication needs both username and password/);

  const usernameOnly = await check(`${SERVED}stats: { bind: "127.0.0.1:18404", username: admin }\n`);
  assert.equal(usernameOnly.code, 1);
  assert.match(usernameOnly.stderr, /lb\.yaml:\d+:\d+: stats\.username: stats authentication needs both username and password/);

  const seed = await check(`
proxy:
  https_in_binds: [{ ip: 127.0.0.1, port: 18443 }]
  backends:
    - { name: app, server_name: a, server_host_ip: 127.0.0.1, server_port: 9000 }
  monitoring:
    stats: { enabled: true, bind_port: 18404, password: secret, admin: true }
`);
  assert.equal(seed.code, 1);
  assert.match(seed.stderr, /lb\.yaml:7:\d+: proxy\.monitoring\.stats\.password: stats authentication needs both username and password/);

  // Both, or neither (open, as HAProxy allows, with a warning when it also administers).
  const open = await check(`${SERVED}stats: { bind: "127.0.0.1:18404", admin: true }\n`);
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.stderr, /stats\.admin: .*admin without username\/password/);
  const both = await check(`${SERVED}stats: { bind: "127.0.0.1:18404", username: admin, password: secret }\n`);
  assert.equal(both.code, 0, both.stderr);
});

test('numbers out of range in YAML fields are refused with path and range', async () => {
  const r = await check(`
global: { workers: 99999999999, maxconn: 1e308 }
defaults:
  timeouts: { client: -1, server: 99999999999 }
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
    maxconn: 10000001
backends:
  - name: app
    retries: 1000
    servers:
      - { name: a, address: 127.0.0.1, port: 9000, weight: 9999, maxqueue: 1e308, rise: 1001, maxconn: 1.5 }
proxy:
  performance: { nbproc: 100000, tune_bufsize: 1e308 }
`);
  assert.equal(r.code, 1);
  for (const [where, range] of [
    ['global.workers', 'must be 1..512'],
    ['global.maxconn', 'must be 0..10000000'],
    ['defaults.timeouts.client', 'must be 0..2147483647'],
    ['defaults.timeouts.server', 'must be 0..2147483647'],
    ['frontends[0].maxconn', 'must be 0..10000000'],
    ['backends[0].retries', 'must be 0..100'],
    ['backends[0].servers[0].weight', 'must be 0..256'],
    ['backends[0].servers[0].maxqueue', 'must be 0..10000000'],
    ['backends[0].servers[0].rise', 'must be 1..1000'],
    ['backends[0].servers[0].maxconn', 'must be an integer'],
    ['proxy.performance.nbproc', 'must be 1..512'],
    ['proxy.performance.tune_bufsize', 'must be 1..2147483647'],
  ]) {
    assert.ok(r.stderr.includes(`: ${where}: ${range}`), `${where}: ${range} in:\n${r.stderr}`);
  }
});

test('numbers out of range in HAProxy words and time strings are refused with path and range', async () => {
  const r = await check(`
defaults:
  timeouts: { connect: "-5s", queue: 25d }
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
    options: ["stats auth admin:secret", "timeout client 0"]
backends:
  - name: app
    balance: random(1000000000)
    stick_on: src
    stick_table: "type string len 99999999 size 1k"
    options: ["tcp-check", "tcp-check expect min-recv 99999999 string ok"]
    servers:
      - { name: a, address: 127.0.0.1, port: 9000, options: "maxconn 1e308 weight 9999 maxqueue 99999999 fall 5000 inter 30d" }
runtime_api: { socket: /tmp/tslb-limits.sock, mode: 999 }
`);
  assert.equal(r.code, 1);
  const errors = r.stderr;
  for (const [where, message] of [
    ['defaults.timeouts.connect', 'bad time "-5s": must be 0..2147483647 ms'],
    ['defaults.timeouts.queue', 'bad time "25d": must be 0..2147483647 ms'],
    ['backends[0].servers[0].options', 'maxconn: must be 0..10000000, not "1e308"'],
    ['backends[0].servers[0].options', 'weight: must be 0..256, not "9999"'],
    ['backends[0].servers[0].options', 'maxqueue: must be 0..10000000, not "99999999"'],
    ['backends[0].servers[0].options', 'fall: must be 1..1000, not "5000"'],
    ['backends[0].servers[0].options', 'inter: bad time "30d": must be 0..2147483647 ms'],
    ['backends[0].stick_table', 'stick-table: len must be 1..65535, not "99999999"'],
    ['backends[0].options[1]', 'tcp-check expect: min-recv needs a byte count 0..16384'],
    ['backends[0].balance', 'balance random: random takes one optional argument, the number of draws (1..100)'],
    ['runtime_api.mode', 'must be an octal unix socket mode such as 660, not 999'],
    // HAProxy lines tslb does not take in options are refused, never half-applied.
    ['frontends[0].options[0]', 'unknown option "stats"'],
    ['frontends[0].options[1]', 'unknown option "timeout"'],
  ]) {
    assert.ok(errors.includes(`: ${where}: ${message}`), `${where}: ${message} in:\n${errors}`);
  }
});

test('tune.http.maxhdr in global.options sets the header-count limit; global.max_headers wins; out of range is refused', () => {
  const at = (yaml: string) => {
    const r = loadConfig([write(yaml)]);
    return { maxHeaders: r.model?.global.maxHeaders, errors: r.errors.map(formatIssue) };
  };
  assert.deepEqual(at(`global: { options: ["tune.http.maxhdr 64"] }\n${SERVED}`), { maxHeaders: 64, errors: [] });
  assert.deepEqual(at(`global: { max_headers: 20, options: ["tune.http.maxhdr 64"] }\n${SERVED}`), { maxHeaders: 20, errors: [] });
  assert.deepEqual(at(SERVED), { maxHeaders: 128, errors: [] });
  const bad = at(`global: { options: ["tune.http.maxhdr 40000", "tune.http.maxhdrs 5"] }\n${SERVED}`).errors;
  assert.equal(bad.length, 2, bad.join('\n'));
  assert.match(bad.join('\n'), /lb\.yaml:1:\d+: global\.options\[0\]: tune\.http\.maxhdr must be 1\.\.32767 \(got 40000\)/);
  assert.match(bad.join('\n'), /global\.options\[1\]: unsupported global line "tune\.http\.maxhdrs".*did you mean "tune\.http\.maxhdr"/);
});
