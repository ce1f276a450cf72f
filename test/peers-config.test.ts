/**
 * `peers` sections in the config: HAProxy's lines and the YAML members give the same
 * section, `stick-table … peers <name>` attaches a table, the seed's ha_config maps to
 * a section, and mistakes are refused with their place (`tslb -c`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { runCli, tempDir } from './helpers/tslb';

function file(body: string): string {
  const f = path.join(tempDir('tslb-peers-config-'), 'lb.yaml');
  writeFileSync(f, body);
  return f;
}

const SERVING = `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    default_backend: app
    options: ["stick-table type ip size 1k store http_req_rate(10s) peers mesh"]
backends:
  - name: app
    stick_table: { type: ip, size: 10, peers: mesh }
    stick_on: src
    servers: [{ name: a, address: 127.0.0.1, port: 1 }]
`;

test('HAProxy peers lines and YAML members give the same section; tables name it', () => {
  const lines = loadConfig([
    file(`global: { localpeer: lb1 }
peers:
  - name: mesh
    options:
      - peer lb1 127.0.0.1:10001
      - peer lb2 [::1]:10002
      - secret 0123456789abcdef0123
${SERVING}`),
  ]);
  const yaml = loadConfig([
    file(`peers:
  - name: mesh
    local: lb1
    secret: "0123456789abcdef0123"
    members:
      - { name: lb1, address: 127.0.0.1, port: 10001 }
      - { name: lb2, address: "[::1]", port: 10002 }
${SERVING}`),
  ]);
  assert.deepEqual(lines.errors, []);
  assert.deepEqual(yaml.errors, []);
  for (const r of [lines, yaml]) {
    const { source: _, ...section } = r.model!.peers![0];
    assert.deepEqual(section, { name: 'mesh', local: 'lb1', listen: { address: '127.0.0.1', port: 10001 }, remotes: [{ name: 'lb2', address: '::1', port: 10002 }], secret: '0123456789abcdef0123', disabled: false });
    assert.equal(r.model!.frontends[0].stickTable!.peers, 'mesh');
    assert.equal(r.model!.backends[0].stickTable!.peers, 'mesh');
  }
  // `bind` gives the listening address; without a secret the section works, with a warning.
  const bound = loadConfig([file(`peers: [{ name: mesh, local: lb1, options: ["bind 127.0.0.1:10005", "server lb1", "peer lb2 127.0.0.2:10002"] }]\n${SERVING}`)]);
  assert.deepEqual(bound.model!.peers![0].listen, { address: '127.0.0.1', port: 10005 });
  assert.ok(bound.warnings.some((w) => /peers "mesh" has no secret/.test(w.message)));
  // A section no table names would connect for nothing: a warning.
  const idle = loadConfig([file(`peers: [{ name: idle, local: lb1, secret: 0123456789abcdef0123, options: ["peer lb1 127.0.0.1:10001"] }]\n${SERVING.replace(/ peers mesh| peers: mesh/g, '')}`)]);
  assert.deepEqual(idle.errors, []);
  assert.ok(idle.warnings.some((w) => w.path === 'peers[0]' && /peers "idle" replicates no stick table/.test(w.message)));
});

test('mistakes are refused with their place', async () => {
  const errs = (body: string) => loadConfig([file(body)]).errors.map((e) => `${e.line} ${e.path}: ${e.message}`);
  const head = 'peers:\n  - name: mesh\n    local: lb1\n    options:\n      - peer lb1 127.0.0.1:10001\n';
  assert.deepEqual(errs(`${head}      - table t type ip size 1k\n${SERVING}`), [
    `6 peers[0].options[1]: 'table' is not supported in peers sections: declare the table on a frontend or backend with "stick-table … peers <section>"`,
  ]);
  assert.deepEqual(errs(`${head}      - peer lb2 nowhere\n${SERVING}`), ['6 peers[0].options[1]: peer lb2: bad address "nowhere" (expected <ip>:<port>)']);
  assert.deepEqual(errs(`${head}      - pear lb2 127.0.0.1:2\n${SERVING}`), [`6 peers[0].options[1]: unknown keyword 'pear' in 'peers' section (did you mean "peer"?)`]);
  assert.deepEqual(errs(`${head}      - secret short\n${SERVING}`), ["6 peers[0].options[1]: 'secret' expects one word of 16 characters or more"]);
  assert.deepEqual(errs(`${head}${SERVING.replace('peers: mesh }', 'peers: mseh }')}`), ['14 backends[0].stick_table: stick-table: no peers section named "mseh" (did you mean "mesh"?)']);
  assert.deepEqual(errs(`${head}      - default-server ssl ca-file ca.pem\n${SERVING}`), ["2 peers[0]: TLS on peer links needs this node's certificate: bind <addr> ssl crt <pem> (or tls.certificate)"]);
  assert.deepEqual(errs(`${head}      - bind 127.0.0.1:10001 ssl crt missing.pem\n${SERVING}`).map((e) => e.replace(/\/\S+\//, '/…/')), ['6 peers[0].options[1]: cannot read /…/missing.pem: ENOENT']);
  // The CLI names file and line.
  const f = file(`${head}${SERVING.replace('peers mesh"', 'peers other"')}`);
  const cli = await runCli(['-c', '-f', f]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stdout + cli.stderr, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: frontends\\[0\\]\\.stick_table: stick-table: no peers section named "other"`));
});

test('the seed: ha_config.peers is section "ha" on port 10000, session_synchronization replicates every table, stick_tables settings go to https-in', () => {
  const r = loadConfig([
    file(`proxy:
  https_in_binds: [{ ip: 127.0.0.1, port: 8080 }]
  backends:
    - { name: web, mode: http, balance: roundrobin, server_name: w1, server_host_ip: 127.0.0.1, server_port: 9000 }
  ha_config:
    peers:
      - { name: haproxy1, ip: 10.0.0.10 }
      - { name: haproxy2, ip: 10.0.0.11, port: 10010 }
    peers_secret: "a-shared-secret-of-some-length"
    stick_tables: { size: 50k, store: [conn_rate(10s)] }
    session_synchronization: true
global: { localpeer: haproxy1 }
`),
  ]);
  assert.deepEqual(r.errors, []);
  const section = r.model!.peers![0];
  assert.deepEqual([section.name, section.local, section.listen, section.remotes, section.secret, section.disabled], ['ha', 'haproxy1', { address: '10.0.0.10', port: 10000 }, [{ name: 'haproxy2', address: '10.0.0.11', port: 10010 }], 'a-shared-secret-of-some-length', false]);
  const table = r.model!.frontends.find((f) => f.name === 'https-in')!.stickTable!;
  assert.deepEqual([table.type, table.size, table.expire, table.store, table.peers], ['ip', 51_200, 30_000, [{ type: 'conn_rate', period: 10_000 }], 'ha']);
});
