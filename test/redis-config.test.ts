/**
 * `stick_table.redis` in the config (fleet-wide counters, src/stick/redis.ts): the
 * model it gives, its defaults, and `tslb -c` errors with file, line and path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { runCli, tempDir } from './helpers/tslb';

function file(body: string): string {
  const f = path.join(tempDir('tslb-redis-config-'), 'lb.yaml');
  writeFileSync(f, body);
  return f;
}

function config(table: string): string {
  return `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    default_backend: app
    stick_table: ${table}
    options: ["http-request track-sc0 src"]
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: 1 }]
`;
}

test('stick_table.redis gives the table its Redis store, with defaults', () => {
  const full = loadConfig([file(config('{ type: ip, size: 1k, expire: 30s, store: [http_req_rate(10s), gpc0], redis: { url: "redis://:pw@10.0.0.5:6380/2", prefix: "edge:", flush_interval: 200ms, timeout: 2s } }'))]);
  assert.deepEqual(full.errors, []);
  assert.deepEqual(full.model!.frontends[0].stickTable!.redis, { url: 'redis://:pw@10.0.0.5:6380/2', prefix: 'edge:', flushInterval: 200, timeout: 2000 });
  const short = loadConfig([file(config('{ size: 1k, store: [http_req_cnt], redis: { url: "redis://127.0.0.1" } }'))]);
  assert.deepEqual(short.errors, []);
  assert.deepEqual(short.model!.frontends[0].stickTable!.redis, { url: 'redis://127.0.0.1', prefix: 'tslb:', flushInterval: 100, timeout: 1000 });
  // Without the key the table is the node's alone.
  const plain = loadConfig([file(config('"type ip size 1k store http_req_rate(10s)"'))]);
  assert.equal(plain.model!.frontends[0].stickTable!.redis, undefined);
});

test('a wrong redis store is refused with its path; tslb -c names file, line and path', async () => {
  const cases: [string, RegExp][] = [
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "http://127.0.0.1:6379" } }', /^frontends\[0\]\.stick_table\.redis\.url: must be redis:\/\//],
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "redis://127.0.0.1/x" } }', /^frontends\[0\]\.stick_table\.redis\.url: redis url: the path is a database number/],
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "redis://127.0.0.1", flush_interval: 6s } }', /^frontends\[0\]\.stick_table\.redis\.flush_interval: redis flush_interval \(6000ms\) must be at most half the shortest rate period \(http_req_rate\(10000ms\)\)/],
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "redis://127.0.0.1", timeout: 0 } }', /^frontends\[0\]\.stick_table\.redis\.timeout: must be 1\.\.60000/],
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "redis://127.0.0.1", timeout: 61s } }', /^frontends\[0\]\.stick_table\.redis\.timeout: redis timeout: must be 1ms\.\.60s, not "61s"/],
    ['{ size: 1k, store: [conn_cur], redis: { url: "redis://127.0.0.1" } }', /^frontends\[0\]\.stick_table\.redis: redis: the table stores no counter or rate to share/],
    ['{ size: 1k, store: [http_req_rate(10s)], redis: { url: "redis://127.0.0.1", db: 1 } }', /^frontends\[0\]\.stick_table\.redis(\.db)?: .*db/],
    // No HAProxy line: a `redis` word in a stick-table line says where it goes.
    ['"type ip size 1k store http_req_rate(10s) redis redis://127.0.0.1"', /^frontends\[0\]\.stick_table: stick-table: redis is not an HAProxy keyword .*use the YAML object form/],
  ];
  for (const [table, want] of cases) {
    const errors = loadConfig([file(config(table))]).errors.map((e) => `${e.path}: ${e.message}`);
    // The first error is the store's (a table refused may also leave its track-sc rule without a table).
    assert.match(errors[0] ?? `${table} accepted`, want);
  }
  const f = file(config(cases[2][0]));
  const r = await runCli(['-c', '-f', f]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:\\d+: frontends\\[0\\]\\.stick_table\\.redis\\.flush_interval: redis flush_interval`));
});
