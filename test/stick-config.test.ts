/**
 * Stick tables, tcp-request rules and rate-limit sessions in the config: the native
 * YAML forms and the HAProxy lines in `options` give the same model, and what cannot
 * work is refused with its place (`tslb -c`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import type { TcpRequestRule } from '../src/config/model';
import { runCli, tempDir } from './helpers/tslb';

function file(body: string): string {
  const f = path.join(tempDir('tslb-stick-config-'), 'lb.yaml');
  writeFileSync(f, body);
  return f;
}

const BACKEND = `backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: 1 }]
  - name: st_src
    stick_table: { type: ipv6, size: 100k, expire: 30s, store: [gpc0, http_req_rate(10s)] }
    servers: []
`;

function frontend(fields: string, mode = 'http'): string {
  return `frontends:
  - name: web
    mode: ${mode}
    binds: ["127.0.0.1:1"]
    default_backend: app
${fields}
${mode === 'tcp' ? BACKEND.replace('    servers: [{', '    mode: tcp\n    servers: [{').replace('    servers: []', '    mode: tcp\n    servers: []') : BACKEND}`;
}

const errors = (body: string) => loadConfig([file(body)]).errors.map((e) => `${e.path}: ${e.message}`);

test('native YAML and HAProxy lines give the same model', () => {
  const native = loadConfig([
    file(
      frontend(`    stick_table: "type ip size 1m expire 10s store conn_cur,conn_rate(3s),sess_rate(1s)"
    rate_limit_sessions: 100
    tcp_request:
      - { connection: "track-sc0 src" }
      - { connection: "track-sc1 src table st_src" }
      - { connection: reject, if: "{ sc_conn_cur(0) gt 10 } || { sc0_conn_rate gt 20 }" }
      - { session: "sc-inc-gpc0(1)", unless: "{ src_get_gpc0(st_src) lt 1 }" }
      - { connection: silent-drop, if: "{ sc1_http_req_rate(st_src) gt 100 }" }`),
    ),
  ]);
  const lines = loadConfig([
    file(
      frontend(`    options:
      - stick-table type ip size 1m expire 10s store conn_cur,conn_rate(3s) store sess_rate(1s)
      - rate-limit sessions 100
      - tcp-request connection track-sc0 src
      - tcp-request connection track-sc1 src table st_src
      - tcp-request connection reject if { sc_conn_cur(0) gt 10 } || { sc0_conn_rate gt 20 }
      - tcp-request session sc-inc-gpc0(1) unless { src_get_gpc0(st_src) lt 1 }
      - tcp-request connection silent-drop if { sc1_http_req_rate(st_src) gt 100 }`),
    ),
  ]);
  assert.deepEqual(native.errors, []);
  assert.deepEqual(lines.errors, []);
  const strip = (fe: Record<string, unknown>) => ({
    stickTable: fe.stickTable,
    rateLimitSessions: fe.rateLimitSessions,
    tcpRequest: (fe.tcpRequest as TcpRequestRule[]).map((r) => ({ ...r, source: undefined })),
  });
  const a = strip(native.model!.frontends[0] as unknown as Record<string, unknown>);
  assert.deepEqual(a, strip(lines.model!.frontends[0] as unknown as Record<string, unknown>));
  assert.deepEqual(a.stickTable, {
    name: 'web',
    type: 'ip',
    keyLen: 32,
    size: 1024 * 1024,
    expire: 10_000,
    store: [{ type: 'conn_cur' }, { type: 'conn_rate', period: 3000 }, { type: 'sess_rate', period: 1000 }],
  });
  assert.equal(a.rateLimitSessions, 100);
  assert.deepEqual(
    a.tcpRequest.map((r) => [r.stage, r.act, r.text]),
    [
      ['connection', { action: 'track-sc', counter: 0, fetch: 'src', args: [], table: 'web' }, 'tcp-request connection track-sc0 src'],
      ['connection', { action: 'track-sc', counter: 1, fetch: 'src', args: [], table: 'st_src' }, 'tcp-request connection track-sc1 src table st_src'],
      ['connection', { action: 'reject' }, 'tcp-request connection reject if { sc_conn_cur(0) gt 10 } || { sc0_conn_rate gt 20 }'],
      ['session', { action: 'sc-inc-gpc0', counter: 1 }, 'tcp-request session sc-inc-gpc0(1) unless { src_get_gpc0(st_src) lt 1 }'],
      ['connection', { action: 'silent-drop' }, 'tcp-request connection silent-drop if { sc1_http_req_rate(st_src) gt 100 }'],
    ],
  );
  assert.equal(native.model!.backends[1].stickTable!.type, 'ipv6');
});

test('tcp frontends: tcp-request content rules may read the ClientHello and make the frontend wait for it', () => {
  const r = loadConfig([
    file(
      frontend(
        `    options: ["tcp-request inspect-delay 2s"]
    tcp_request:
      - { content: reject, unless: "{ req_ssl_hello_type 1 }" }`,
        'tcp',
      ),
    ),
  ]);
  assert.deepEqual(r.errors, []);
  assert.equal(r.model!.frontends[0].inspectDelay, 2000);
  assert.deepEqual(r.warnings.map((w) => w.message).filter((m) => /inspect_delay/.test(m)), [], 'the delay is used');
});

test('what cannot work is refused, at its place', () => {
  const cases: [string, RegExp][] = [
    [`    tcp_request: [{ connection: "track-sc0 src" }]`, /tcp_request\[0\]\.connection: track-sc0: this frontend has no stick-table/],
    [`    tcp_request: [{ connection: "track-sc0 src table nope" }]`, /track-sc0: no stick-table "nope"/],
    [`    tcp_request: [{ connection: "track-sc3 src table st_src" }]`, /unsupported action "track-sc3"/],
    [`    tcp_request: [{ connection: reject, if: "{ sc_conn_rate(5,st_src) gt 1 }" }]`, /tcp_request\[0\]\.if: sc_conn_rate: stick counter "5" must be 0, 1 or 2/],
    [`    tcp_request: [{ connection: reject, if: "{ src_conn_rate gt 1 }" }]`, /src_conn_rate reads this frontend's stick-table, and it has none/],
    [`    tcp_request: [{ connection: reject, if: "{ req_ssl_sni -i a }" }]`, /reads the client's first bytes: only tcp-request content rules of a tcp frontend can/],
    [`    tcp_request: [{ connection: reject, content: accept }]`, /a rule takes one of connection, session, content, found connection, content/],
    [`    tcp_request: [{ connection: "track-sc0 hdr(host) table st_src" }]`, /track-sc0: hdr is not available in tcp-request rules/],
    [`    tcp_request: [{ connection: "set-var(txn.x) int(1)" }]`, /unsupported action "set-var\(txn\.x\)"/],
    [`    stick_table: "type ip size 1k store conn_rate"`, /stick_table: stick-table store: conn_rate needs a period/],
    [`    stick_table: "type ip size 1k store nope"`, /unknown or unsupported data type "nope"/],
    [`    stick_table: "type ip len 4 size 1k"`, /len applies to type string only/],
    [`    options: ["rate-limit connections 10"]`, /rate-limit: expected "sessions <N>"/],
    [`    http_request: [{ deny: {}, if: "{ sc_http_req_rate(0,nope) gt 1 }" }]`, /http_request\[0\]\.if: sc_http_req_rate: no stick-table "nope"/],
  ];
  for (const [fields, want] of cases) assert.match(errors(frontend(fields)).join('\n'), want, fields);
  assert.match(
    errors(`${BACKEND}  - name: b2\n    options: ["tcp-request connection reject"]\n    servers: []\n`).join('\n'),
    /"tcp-request connection reject" is a frontend keyword/,
  );
  assert.match(
    errors(frontend(`    stick_table: "type ip size 1"`).replace('  - name: st_src', '  - name: web')).join('\n'),
    /frontend "web" and backend "web" both declare a stick-table/,
  );
});

test('tslb -c accepts the HAProxy lines', async () => {
  const r = await runCli([
    '-c',
    '-f',
    file(
      frontend(`    options:
      - "stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur"
      - "tcp-request connection track-sc0 src"
      - "tcp-request connection reject if { sc_conn_cur(0) gt 20 }"`),
    ),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /Configuration file is valid/);
});
