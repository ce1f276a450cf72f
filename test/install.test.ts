/**
 * `tslb install` into a temp prefix: what it writes, that it keeps what exists, that
 * --dry-run writes nothing, and that what it writes works: the config passes `tslb -c`,
 * the systemd unit passes `systemd-analyze verify`, and the logrotate snippet rotates
 * a real tslb's access log (SIGUSR1 reopen).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { exchange } from './helpers/rawhttp';
import { startHttpBackend } from './helpers/backends';
import { freePort, runCli, startTslb, tempDir } from './helpers/tslb';

const ROOT = path.resolve(__dirname, '../..');
const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const FILES = ['etc/tslb/lb.yaml', 'etc/systemd/system/tslb.service', 'etc/logrotate.d/tslb'];
const DIRS = ['etc/tslb', 'var/lib/tslb', 'var/log/tslb'];

async function install(...args: string[]) {
  const r = await runCli(['install', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('tslb install --prefix writes the config, unit, logrotate snippet and directories; a second run keeps them all', async () => {
  const prefix = tempDir();
  const first = await install('--prefix', prefix);
  assert.match(first, /skipped\s+user and group tslb/, 'no user is created under --prefix');
  for (const f of FILES) assert.ok(existsSync(path.join(prefix, f)), `${f} written:\n${first}`);
  for (const d of DIRS) assert.ok(existsSync(path.join(prefix, d)), `${d}/ created:\n${first}`);
  assert.equal(readFileSync(path.join(prefix, 'etc/tslb/lb.yaml'), 'utf8'), readFileSync(path.join(ROOT, 'packaging/lb.yaml'), 'utf8'));

  const unit = readFileSync(path.join(prefix, 'etc/systemd/system/tslb.service'), 'utf8');
  // ExecStart names this node and this tslb; the reload validates before it signals.
  const tslb = `${process.execPath} ${path.join(ROOT, 'dist/src/cli/main.js')}`;
  assert.ok(unit.includes(`ExecStartPre=${tslb} -c -f /etc/tslb/lb.yaml\n`), unit);
  assert.ok(unit.includes(`ExecStart=${tslb} -f /etc/tslb/lb.yaml -p /run/tslb/tslb.pid\n`), unit);
  assert.ok(unit.includes(`ExecReload=${tslb} -c -f /etc/tslb/lb.yaml\nExecReload=/bin/kill -HUP $MAINPID\n`), unit);
  assert.doesNotMatch(unit, /\/usr\/local\/bin\/tslb/);

  // The user edits the config; a reinstall (an upgrade) keeps it and says so.
  appendFileSync(path.join(prefix, 'etc/tslb/lb.yaml'), '# edited by the operator\n');
  const second = await install('--prefix', prefix);
  for (const f of FILES) assert.match(second, new RegExp(`kept\\s+${path.join(prefix, f)}`), second);
  assert.match(second, /lb\.yaml \(differs from this version's .*packaging\/lb\.yaml\)/);
  assert.match(readFileSync(path.join(prefix, 'etc/tslb/lb.yaml'), 'utf8'), /# edited by the operator\n$/);
  assert.doesNotMatch(second, /wrote|created/);
});

test('tslb install --dry-run says what it would do and writes nothing', async () => {
  const prefix = tempDir();
  const out = await install('--prefix', prefix, '--dry-run');
  for (const f of FILES) assert.match(out, new RegExp(`would write ${path.join(prefix, f)}`));
  assert.deepEqual(readdirSync(prefix), []);
});

test('the installed config passes tslb -c and the installed unit passes systemd-analyze verify', { skip: !has('systemd-analyze') && 'systemd-analyze not installed (Debian package systemd)' }, async () => {
  const prefix = tempDir();
  await install('--prefix', prefix);
  const check = await runCli(['-c', '-f', path.join(prefix, 'etc/tslb/lb.yaml')]);
  assert.equal(check.code, 0, check.stderr);
  // verify needs no running systemd; it fails on a missing Exec binary and only prints unknown or misspelt keys.
  const verify = spawnSync('systemd-analyze', ['verify', path.join(prefix, 'etc/systemd/system/tslb.service')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr, '', 'systemd-analyze has nothing to say about the unit');
});

test("the installed logrotate snippet passes logrotate -d, and its rotation makes a running tslb reopen its access log", { skip: !has('logrotate') && 'logrotate not installed (Debian package logrotate)' }, async (t) => {
  const prefix = tempDir();
  await install('--prefix', prefix);
  const snippet = readFileSync(path.join(prefix, 'etc/logrotate.d/tslb'), 'utf8');
  const dry = spawnSync('logrotate', ['-d', '-s', path.join(prefix, 'state'), path.join(prefix, 'etc/logrotate.d/tslb')], { encoding: 'utf8' });
  assert.equal(dry.status, 0, dry.stderr);

  const backend = await startHttpBackend('app');
  t.after(() => backend.close());
  const logDir = path.join(tempDir(), 'log');
  mkdirSync(logDir);
  const port = await freePort();
  // One worker: it has the file open before the rotation (a second one could open it after, by chance).
  const lb = await startTslb(`global:
  workers: 1
  access_log: ${logDir}/access.log
defaults: { options: [httplog] }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - { name: app, mode: http, servers: [{ name: app1, address: 127.0.0.1, port: ${backend.port} }] }
`);
  t.after(() => lb.stop());
  const request = (path: string) => exchange(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  const logged = async (file: string, text: string) => {
    for (let waited = 0; waited < 10_000; waited += 50) {
      if (existsSync(file) && readFileSync(file, 'utf8').includes(text)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  };
  assert.equal((await request('/before-rotation')).responses[0]?.status, 200);
  assert.ok(await logged(path.join(logDir, 'access.log'), '/before-rotation'));

  // The snippet as installed, pointed at this test's log directory and pid file.
  const conf = path.join(prefix, 'rotate.conf');
  writeFileSync(conf, snippet.replaceAll('/var/log/tslb', logDir).replaceAll('/run/tslb/tslb.pid', lb.pidfile), { mode: 0o644 });
  const rotate = spawnSync('logrotate', ['-f', '-s', path.join(prefix, 'state'), conf], { encoding: 'utf8' });
  assert.equal(rotate.status, 0, rotate.stderr);
  assert.match(readFileSync(path.join(logDir, 'access.log.1'), 'utf8'), /\/before-rotation/);

  // Without the postrotate SIGUSR1 the workers would keep writing to access.log.1.
  assert.equal((await request('/after-rotation')).responses[0]?.status, 200);
  assert.ok(await logged(path.join(logDir, 'access.log'), '/after-rotation'), 'the new request is logged in a new access.log');
  assert.doesNotMatch(readFileSync(path.join(logDir, 'access.log.1'), 'utf8'), /after-rotation/);
});
