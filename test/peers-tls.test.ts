/**
 * Peers over TLS: two nodes' replication (their tables and PeersReplication, as a
 * primary runs them) in this process, talking over real TLS sockets on loopback. One
 * section is written as HAProxy lines (`bind … ssl crt`, `default-server ssl ca-file`),
 * the other as YAML `tls`. An operator's set and a worker's increments cross; a node
 * that does not trust the other's certificate never links up.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import type { Model } from '../src/config/model';
import { createLogger } from '../src/log/logger';
import { PeersReplication } from '../src/peers/replication';
import { GPC0, HTTP_REQ_RATE, tableId } from '../src/stick/layout';
import { PrimaryStickTables } from '../src/stick/primary';
import { issueCert, testCa } from './helpers/certs';
import { freePort, tempDir } from './helpers/tslb';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger('primary', 'silent');
const stops: (() => void)[] = [];
after(() => stops.forEach((s) => s()));

const dir = tempDir('tslb-peers-tls-');
const cert = issueCert(['127.0.0.1']);
writeFileSync(path.join(dir, 'node.pem'), cert.cert + cert.key);
writeFileSync(path.join(dir, 'ca.pem'), testCa().cert);
// A CA that signed nothing here: a node trusting only it refuses the other's certificate.
writeFileSync(path.join(dir, 'other-ca.pem'), issueCert(['untrusted.example']).cert);

function model(local: string, ports: Record<string, number>, yamlTls: boolean, ca = 'ca.pem'): Model {
  const peers = yamlTls
    ? `    tls: { certificate: node.pem, ca_file: ${ca} }
    members: [{ name: X, address: 127.0.0.1, port: ${ports.X} }, { name: Y, address: 127.0.0.1, port: ${ports.Y} }]`
    : `    options:
      - bind 127.0.0.1:${ports[local]} ssl crt node.pem
      - default-server ssl verify required ca-file ${ca}
      - server ${local}
      - server ${local === 'X' ? 'Y' : 'X'} 127.0.0.1:${ports[local === 'X' ? 'Y' : 'X']}`;
  const file = path.join(dir, `${local}-${ca}.yaml`);
  writeFileSync(
    file,
    `global: { localpeer: ${local} }
peers:
  - name: mesh
    secret: a-long-enough-shared-secret
${peers}
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:1"], default_backend: app, stick_table: "type ip size 100 store gpc0,http_req_rate(10s) peers mesh" }
backends:
  - { name: app, servers: [{ name: a, address: 127.0.0.1, port: 1 }] }
`,
  );
  const r = loadConfig([file]);
  assert.deepEqual(r.errors, []);
  return r.model!;
}

async function node(m: Model): Promise<{ tables: PrimaryStickTables; peers: PeersReplication }> {
  const tables = new PrimaryStickTables(() => []);
  tables.useModel(m);
  const peers = new PeersReplication(tables, log);
  await peers.update(m);
  stops.push(() => peers.stop());
  return { tables, peers };
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

const linked = (p: PeersReplication) => p.list()[0].remotes.every((r) => r.status === 'ESTA' && r.in !== undefined);

test('over TLS, a set on one node and the increments of its workers reach the other', async () => {
  const ports = { X: await freePort(), Y: await freePort() };
  const mx = model('X', ports, false);
  assert.ok(mx.peers![0].tls?.ca && mx.peers![0].tls.verify);
  const x = await node(mx);
  const y = await node(model('Y', ports, true));
  await until('X and Y linked both ways over TLS', 10_000, () => linked(x.peers) && linked(y.peers));

  const now = Date.now();
  const onX = x.tables.named('web')!;
  const e = onX.obtain('127.0.0.5', now, true)!;
  onX.set(e, GPC0, 4, now);
  x.tables.set(onX, [e]);
  const onY = y.tables.named('web')!;
  await until('Y has the value set on X', 3000, () => onY.get('127.0.0.5', Date.now())?.values[onY.layout.slot[GPC0]] === 4);

  // A worker's batch on Y: three requests of 127.0.0.6.
  const delta = new Array<number>(onY.layout.slots).fill(0);
  delta[onY.layout.slot[HTTP_REQ_RATE] + 1] = 3;
  y.tables.onBatch({ send: () => true, isConnected: () => false }, { type: 'stick-batch', seq: 1, tables: { [tableId(onY.def)]: [['127.0.0.6', null, delta]] } });
  await until('X counts Y\'s requests', 3000, () => {
    const got = onX.get('127.0.0.6', Date.now());
    return got !== undefined && onX.read(got, HTTP_REQ_RATE, Date.now()) === 3;
  });
});

test('a node that does not trust the other\'s certificate never links up', async () => {
  const ports = { X: await freePort(), Y: await freePort() };
  const x = await node(model('X', ports, false, 'other-ca.pem'));
  const y = await node(model('Y', ports, true));
  // Y trusts X's certificate and links to it; X refuses Y's certificate on the link it dials.
  await until('Y reaches X', 10_000, () => y.peers.list()[0].remotes[0].status === 'ESTA');
  await sleep(500);
  const xToY = x.peers.list()[0].remotes[0];
  assert.notEqual(xToY.status, 'ESTA');
  assert.match(xToY.lastError, /certificate/i);
});
