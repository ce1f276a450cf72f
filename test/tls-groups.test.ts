/**
 * Key exchange settings of TLS binds through a real tslb, seen by `openssl s_client`:
 * `curves` limits the ECDHE groups (a client offering only another one fails the
 * handshake), and global.ssl_default_dh_param (the seed's performance.tune_ssl_default_dh_param)
 * enables DHE suites with a group of that size.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startHttpBackend } from './helpers/backends';
import { issueCert } from './helpers/certs';
import { freePort, runCli, startTslb, tempDir, webToApp } from './helpers/tslb';

const HOST = 'groups.example.test';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function sClient(port: number, args: string[]): string {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', HOST, ...args], { input: '', encoding: 'utf8', timeout: 10_000 });
  return r.stdout + r.stderr;
}

async function tslbWith(global: string, ssl: string): Promise<number> {
  const dir = tempDir('tslb-groups-');
  const c = issueCert([HOST]);
  const bundle = path.join(dir, 'site.pem');
  writeFileSync(bundle, c.cert + c.key);
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 1${global} }
${webToApp(`[{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${bundle}"]${ssl} } }]`, app.port)}`);
  cleanups.push(() => lb.stop());
  return port;
}

test('curves limits the ECDHE groups a bind accepts', { timeout: 30_000 }, async () => {
  const port = await tslbWith('', ', curves: "P-384"');
  const ok = sClient(port, ['-groups', 'P-384']);
  assert.match(ok, /Server Temp Key: ECDH, (P-384|secp384r1)/);
  const refused = sClient(port, ['-groups', 'P-256:X25519']);
  assert.doesNotMatch(refused, /Server Temp Key/);
  assert.match(refused, /handshake failure|no suitable key share|alert/);
  const bad = await runCli(['-c', '-f', writeConfig('curves: "P-999"')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout + bad.stderr, /curves.*P-999/);
});

test('ssl_default_dh_param serves DHE suites with a group of that size', { timeout: 30_000 }, async () => {
  const port = await tslbWith(', ssl_default_dh_param: 3072', ', max_version: TLSv1.2, ciphers: "DHE-RSA-AES128-GCM-SHA256"');
  const out = sClient(port, ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256']);
  assert.match(out, /Server Temp Key: DH, 3072 bits/);
  assert.match(out, /Cipher is DHE-RSA-AES128-GCM-SHA256/);
  const bad = await runCli(['-c', '-f', writeConfig('', 'ssl_default_dh_param: 2000')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout + bad.stderr, /ssl_default_dh_param.*2000/);
});

/** A config file for `tslb -c` with the given bind ssl and global keys. */
function writeConfig(ssl: string, global = 'workers: 1'): string {
  const dir = tempDir('tslb-groups-c-');
  const c = issueCert([HOST]);
  writeFileSync(path.join(dir, 'site.pem'), c.cert + c.key);
  const file = path.join(dir, 'lb.yaml');
  writeFileSync(file, `
global: { ${global} }
frontends:
  - name: web
    mode: http
    binds: [{ address: 127.0.0.1, port: 8443, ssl: { certificates: [site.pem]${ssl ? ', ' + ssl : ''} } }]
    default_backend: app
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: 9 }]
`);
  return file;
}
