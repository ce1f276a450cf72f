/** The `tslb` command line: version, help, `-c` on valid and invalid files, every shipped example. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from './helpers/tslb';

const ROOT = path.resolve(__dirname, '../..');

test('-v prints the package version', async () => {
  const r = await runCli(['-v']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^tslb version \d+\.\d+\.\d+/);
});

test('--help prints usage; an unknown option is an error', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /-c, --check/);
  const bad = await runCli(['--bogus']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bogus/);
});

test('every shipped config (seed examples, demo, examples) passes -c', async () => {
  const dirs = ['config', 'config/seed', 'config/examples'];
  const files = dirs.flatMap((d) => {
    try {
      return readdirSync(path.join(ROOT, d))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => path.join(ROOT, d, f));
    } catch {
      return [];
    }
  });
  assert.ok(files.filter((f) => f.includes(`${path.sep}seed${path.sep}`)).length >= 5, 'the five seed examples are shipped');
  for (const f of files) {
    const r = await runCli(['-c', '-f', f]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.match(r.stdout, /Configuration file is valid/);
  }
});

test('-c on an invalid file exits 1 and names file, line and key path for every error', async () => {
  const file = path.join(tempDir(), 'bad.yaml');
  writeFileSync(
    file,
    `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:8080"]
    default_backend: app
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: 70000 }
      - { name: s2, address: 127.0.0.1, port: 9000, wieght: 3 }
`,
  );
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yaml:10:\d+: backends\[0\]\.servers\[0\]\.port/);
  assert.match(r.stderr, /bad\.yaml:11:\d+: backends\[0\]\.servers\[1\]\.wieght.*weight/);
});

test('the README configuration example passes -c', async () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const example = /```yaml\n(global:[\s\S]*?)```/.exec(readme);
  assert.ok(example, 'README has a yaml example starting with global:');
  const file = path.join(tempDir(), 'readme.yaml');
  writeFileSync(file, example[1]);
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
});
