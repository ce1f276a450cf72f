/**
 * `tslb keepalived`: the keepalived.conf it writes for the seed's HA example is accepted
 * by Debian's keepalived (`keepalived -t`), and its vrrp_script tracks a real tslb.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startHttpBackend } from './helpers/backends';
import { freePort, runCli, startTslb, tempDir } from './helpers/tslb';

const ROOT = path.resolve(__dirname, '../..');
const HA_SEED = path.join(ROOT, 'config/seed/05-ha.yaml');
const hasKeepalived = spawnSync('keepalived', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
/** `keepalived -t` refuses an interface that does not exist: the check runs in a network namespace of its own holding one. */
const canUnshare = isRoot && spawnSync('unshare', ['--net', 'true']).status === 0;
const keepalivedSkip = !hasKeepalived ? 'keepalived not installed (Debian package keepalived)' : !canUnshare ? 'needs root and unshare --net' : false;

/** `keepalived -t` (exit 0 only for a file without warnings) in a namespace that has the interface the file names. */
function keepalivedCheck(file: string, iface: string): { status: number | null; stderr: string } {
  const r = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link add "$1" type veth peer name tslb-peer && exec keepalived -t -f "$2"', 'sh', iface, file], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr };
}

test('the seed HA example becomes a keepalived.conf that keepalived -t accepts, master and backup', { skip: keepalivedSkip }, async () => {
  const dir = tempDir();
  const master = path.join(dir, 'master.conf');
  const r = await runCli(['keepalived', '-f', HA_SEED, '-o', master]);
  assert.equal(r.code, 0, r.stderr);
  // The seed's 20-character auth_pass: VRRP carries 8; tslb says so and writes those 8, so keepalived has nothing to warn about.
  assert.match(r.stderr, /auth_pass has 20 characters; VRRP carries 8/);
  const conf = readFileSync(master, 'utf8');
  assert.match(conf, /^\s+auth_pass haproxy_$/m);
  assert.match(conf, /^\s+state MASTER$/m);
  assert.match(conf, /^\s+priority 100$/m);
  assert.match(conf, /^\s+10\.0\.0\.100$/m);
  assert.equal(statSync(master).mode & 0o777, 0o600, 'the file holds auth_pass');
  const checked = keepalivedCheck(master, 'eth0');
  assert.equal(checked.status, 0, `keepalived -t: ${checked.stderr}`);

  const backup = path.join(dir, 'backup.conf');
  const b = await runCli(['keepalived', '-f', HA_SEED, '-o', backup, '--state', 'backup', '--priority', '90']);
  assert.equal(b.code, 0, b.stderr);
  const backupConf = readFileSync(backup, 'utf8');
  assert.match(backupConf, /^\s+state BACKUP$/m);
  assert.match(backupConf, /^\s+priority 90$/m);
  const backupChecked = keepalivedCheck(backup, 'eth0');
  assert.equal(backupChecked.status, 0, `keepalived -t: ${backupChecked.stderr}`);
});

/** A seed config serving only its Prometheus endpoint, with these ha_config.keepalived settings. */
function haConfig(keepalived: string, prometheusPort = 8405): string {
  return `proxy:
  ha_config:
    keepalived: ${keepalived}
  monitoring:
    prometheus: { enabled: true, bind_ip: 127.0.0.1, bind_port: ${prometheusPort} }
`;
}

test("the vrrp_script's check passes while tslb runs and fails once it has stopped", async (t) => {
  const lb = await startTslb(haConfig('{ virtual_ip: "10.0.0.100/24", interface: eth0, priority: 100, advert_int: 1, auth_pass: "secret12" }', await freePort()));
  t.after(() => lb.stop());
  const r = await runCli(['keepalived', '-f', lb.configPath, '--pidfile', lb.pidfile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\s+10\.0\.0\.100\/24$/m);
  const script = /^\s+script "([^"]+)"$/m.exec(r.stdout);
  assert.ok(script, r.stdout);
  // keepalived runs the script without a shell: the words as they are.
  const [cmd, ...cmdArgs] = script[1].split(' ');
  const check = () => spawnSync(cmd, cmdArgs, { stdio: 'ignore' }).status;
  assert.equal(check(), 0, `${script[1]} while tslb runs`);
  assert.equal(await lb.stop(), 0);
  assert.notEqual(check(), 0, `${script[1]} after tslb stopped`);
});

test("with a monitor-uri, a second vrrp_script asks it: passes while a worker answers 200, fails on monitor fail's 503 and once tslb stopped", async (t) => {
  const [web, plainPort] = [await freePort(), await freePort()];
  const app = await startHttpBackend('app');
  t.after(() => app.close());
  const lb = await startTslb(`proxy:
  https_in_binds: [{ ip: 127.0.0.1, port: ${web} }, { ip: 127.0.0.2, port: ${plainPort} }]
  https_options: ["monitor-uri /healthz", "monitor fail if { dst 127.0.0.2 }"]
  backends:
    - { name: app, mode: http, server_name: a1, server_host_ip: 127.0.0.1, server_port: ${app.port} }
  ha_config:
    keepalived: { virtual_ip: "10.0.0.100/24", interface: eth0, auth_pass: "secret12" }
`);
  t.after(() => lb.stop());
  const r = await runCli(['keepalived', '-f', lb.configPath, '--pidfile', lb.pidfile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /track_script \{\n\s+chk_tslb\n\s+chk_tslb_http\n/);
  const script = /vrrp_script chk_tslb_http \{\n\s+script "([^"]+)"$/m.exec(r.stdout);
  assert.ok(script, r.stdout);
  assert.equal(script[1], `/usr/bin/curl -fsS -k -m 2 -o /dev/null http://127.0.0.1:${web}/healthz`);
  if (!keepalivedSkip) {
    const file = path.join(tempDir(), 'keepalived.conf');
    writeFileSync(file, r.stdout);
    const checked = keepalivedCheck(file, 'eth0');
    assert.equal(checked.status, 0, `keepalived -t: ${checked.stderr}`);
  }
  const run = (words: string[]) => spawnSync(words[0], words.slice(1), { stdio: 'ignore' }).status;
  const words = script[1].split(' ');
  assert.equal(run(words), 0, `${script[1]} while tslb runs`);
  // The same check against the bind where monitor fail holds.
  assert.notEqual(run([...words.slice(0, -1), `http://127.0.0.2:${plainPort}/healthz`]), 0, 'a 503 fails the check');
  assert.equal(app.hits, 0, 'the check never reaches a server');
  assert.equal(await lb.stop(), 0);
  assert.notEqual(run(words), 0, `${script[1]} after tslb stopped`);
});

test('tslb keepalived refuses what keepalived would reject, naming the key', async () => {
  const dir = tempDir();
  const cases: [string, RegExp][] = [
    ['prometheus: { bind: "127.0.0.1:8405" }\n', /no ha_config\.keepalived/],
    [haConfig('{ virtual_ip: "fd00::1", interface: eth0 }'), /virtual_ip must be an IPv4 address/],
    [haConfig('{ virtual_ip: "10.0.0.1", interface: "eth 0" }'), /interface is not an interface name/],
    [haConfig('{ virtual_ip: "10.0.0.1", interface: eth0, priority: 255 }'), /priority must be 1\.\.254/],
    [haConfig('{ virtual_ip: "10.0.0.1", interface: eth0, auth_pass: "a#b" }'), /auth_pass may hold/],
    [haConfig('{ enabled: false, virtual_ip: "10.0.0.1", interface: eth0 }'), /enabled is false/],
  ];
  for (const [i, [yaml, message]] of cases.entries()) {
    const file = path.join(dir, `case${i}.yaml`);
    writeFileSync(file, yaml);
    const r = await runCli(['keepalived', '-f', file]);
    assert.equal(r.code, 1, `${yaml}: ${r.stdout}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});
