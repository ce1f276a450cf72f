import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig, formatIssue, type ConfigIssue } from '../src/config/load';

const root = path.resolve(__dirname, '..', '..');
const fixtures = path.join(root, 'test/fixtures/config');
const fx = (name: string) => path.join(fixtures, name);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(dir, f));
}

function find(issues: ConfigIssue[], pathText: string, re: RegExp): ConfigIssue {
  const hit = issues.find((i) => i.path === pathText && re.test(i.message));
  assert.ok(hit, `no issue ${pathText} ${re} in:\n${issues.map(formatIssue).join('\n')}`);
  return hit;
}

test('every shipped config loads with zero errors', () => {
  const files = [...yamlFiles(path.join(root, 'config')), ...yamlFiles(path.join(root, 'config/seed')), ...yamlFiles(path.join(root, 'config/examples'))];
  assert.ok(files.length >= 9);
  for (const f of files) {
    const r = loadConfig([f]);
    assert.deepEqual(r.errors.map(formatIssue), [], f);
    assert.ok(r.model, f);
  }
});

test('several schema mistakes are all reported with line, column and path', () => {
  const r = loadConfig([fx('mistakes.yaml')]);
  assert.equal(r.model, undefined);
  assert.equal(r.errors.length, 4, r.errors.map(formatIssue).join('\n'));
  const unknown = find(r.errors, 'global.log_levl', /unknown key "log_levl" \(did you mean "log_level"\?\)/);
  assert.deepEqual([unknown.line, unknown.column], [3, 3]);
  const mode = find(r.errors, 'backends[0].mode', /must be one of: http, tcp/);
  assert.deepEqual([mode.line, mode.column], [10, 11]);
  const port = find(r.errors, 'backends[0].servers[0].port', /^must be 1\.\.65535$/);
  assert.deepEqual([port.line, port.column], [14, 15]);
  assert.match(formatIssue(port), /mistakes\.yaml:14:15: backends\[0\]\.servers\[0\]\.port: must be 1\.\.65535$/);
  find(r.errors, 'backends[0].servers[1].weight', /must be 0\.\.256/);
});

test('semantic mistakes are all reported', () => {
  const r = loadConfig([fx('semantic.yaml')]);
  assert.equal(r.model, undefined);
  find(r.errors, 'frontends[0].use_backend[0].if', /fetch "hdr" is not available in a tcp frontend/);
  find(r.errors, 'frontends[0].default_backend', /unknown backend "missing"/);
  find(r.errors, 'frontends[1].default_backend', /backend "db" is mode tcp, this frontend is mode http/);
  find(r.errors, 'backends[0].balance', /unknown balance algorithm "roundrobinn" \(did you mean "roundrobin"\?\)/);
  find(r.errors, 'backends[0].timeouts.connect', /bad time "5 sec"/);
  find(r.errors, 'backends[0].servers[0].options', /unknown server keyword "chek" \(did you mean "check"\?\)/);
  find(r.warnings, 'backends[1].servers', /no server/);
});

test('an empty config serves nothing', () => {
  const r = loadConfig([fx('empty.yaml')]);
  find(r.errors, '', /serves nothing/);
});

test('seed: conflicting mode within one backend name is an error at the entry', () => {
  const r = loadConfig([fx('seed-conflict.yaml')]);
  const e = find(r.errors, 'proxy.backends[1].mode', /mode "tcp" conflicts with "http" at backends\[0\]/);
  assert.equal(e.line, 6);
});

test('seed: tcp_services own their port, TLS on marked binds, redirect, timeouts', () => {
  const r = loadConfig([fx('seed-ssl-marked.yaml')]);
  assert.deepEqual(r.errors.map(formatIssue), []);
  const m = r.model!;
  const https = m.frontends.find((f) => f.name === 'https-in')!;
  assert.deepEqual(https.binds.map((b) => [b.port, !!b.tls]), [[8080, false], [8443, true], [443, false]]);
  assert.deepEqual(https.binds[1].tls!.certificates[0].names.sort(), ['api.company.com', 'www.company.com']);
  assert.equal(https.mode, 'http');
  assert.equal(https.defaultBackend, 'web');
  assert.deepEqual(https.hostBackends, [{ host: 'www.company.com', backend: 'web' }]);
  // A bind is TLS on 443 or when marked: the fixture's 443 says ssl: false. The redirect names the TLS port.
  assert.deepEqual(https.httpsRedirect, { code: 301, port: 8443 });
  const pg = m.frontends.find((f) => f.name === 'tcp-5432')!;
  assert.deepEqual([pg.mode, pg.binds[0].address, pg.defaultBackend], ['tcp', '127.0.0.1', 'pg']);
  const other = m.frontends.find((f) => f.name === 'tcp-6000')!;
  assert.equal(other.binds[0].address, '0.0.0.0');
  assert.equal(https.timeouts.connect, 2000);
  assert.equal(https.timeouts.queue, 2000);
  assert.equal(https.timeouts.httpKeepAlive, 1000);
  assert.equal(https.timeouts.httpRequest, 10000);
  const web = m.backends.find((b) => b.name === 'web')!;
  assert.deepEqual(web.servers[0].tls, { enabled: true, sni: 'www.company.com', verify: 'none', ca: undefined });
});

test('seed: without marked binds TLS goes on port 443; ha_config.peers is a peers section', () => {
  const r = loadConfig([path.join(root, 'config/seed/02-production-https.yaml')]);
  const m = r.model!;
  const https = m.frontends[0];
  assert.deepEqual(https.binds.map((b) => [b.port, !!b.tls]), [[80, false], [443, true]]);
  assert.equal(m.global.workers, 4);
  assert.equal(https.maxHeaderBytes, 32768 - 8192);
  assert.equal(m.runtimeApi!.socketPath, '/var/lib/haproxy/stats');
  assert.equal(m.backends[0].healthCheck.http!.headers[0].value, 'api.company.com');
  const ha = loadConfig([path.join(root, 'config/seed/05-ha.yaml')]);
  // ha_config.peers is the peers section "ha"; this host is neither haproxy1 nor haproxy2, so it stays off.
  const section = ha.model!.peers![0];
  assert.deepEqual([section.name, section.disabled, section.remotes.map((r) => `${r.name} ${r.address}:${r.port}`)], ['ha', true, ['haproxy1 10.0.0.10:10000', 'haproxy2 10.0.0.11:10000']]);
  assert.ok(ha.warnings.some((w) => /peers "ha": no member is this node/.test(w.message)));
  assert.deepEqual(ha.model!.stats, { address: '127.0.0.1', port: 8404, uri: '/stats', username: 'admin', password: 'admin123', refresh: 30000, admin: false });
  const tcp = loadConfig([path.join(root, 'config/seed/04-tcp-databases.yaml')]).model!;
  assert.deepEqual(tcp.frontends.map((f) => f.name), ['tcp-5432', 'tcp-3306']);
});

test('several files: lists concatenated, maps merged, duplicates name both places', () => {
  const r = loadConfig([fx('part-a.yaml'), fx('part-b.yaml')]);
  const dup = find(r.errors, 'backends[1].name', /duplicate backend "app" \(first defined at .*part-a\.yaml:5:11\)/);
  assert.match(dup.file, /part-b\.yaml$/);
  const ok = loadConfig([fx('part-a.yaml'), path.join(fixtures, 'part-c.yaml')]);
  assert.deepEqual(ok.errors.map(formatIssue), []);
  assert.equal(ok.model!.global.maxconn, 500);
  assert.equal(ok.model!.global.workers, 2);
  assert.deepEqual(ok.model!.backends.map((b) => b.name), ['app', 'other']);
});

test('tslb -c checks the seed examples (when the CLI is built)', () => {
  const cli = path.resolve(__dirname, '../src/cli/main.js');
  if (!existsSync(cli)) return;
  for (const f of yamlFiles(path.join(root, 'config/seed'))) {
    const out = execFileSync(process.execPath, [cli, '-c', '-f', f], { encoding: 'utf8', timeout: 10_000 });
    assert.match(out, /valid/i, f);
  }
});
