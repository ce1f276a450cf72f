/**
 * `tslb cert`: a self-signed bundle that openssl accepts and a real tslb TLS bind
 * serves (curl verifies it with the bundle as CA), a CSR with its key, and `info`
 * printing what openssl prints. A certificate close to expiry is a warning at start.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { startHttpBackend } from './helpers/backends';
import { freePort, runCli, startTslb, tempDir, webToApp } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const hasTools = spawnSync('openssl', ['version']).status === 0 && spawnSync('curl', ['--version']).status === 0;
const run = promisify(execFile);
const dir = tempDir('tslb-cert-cli-');

function openssl(...args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('self-signed: a bundle openssl reads and a tslb TLS bind serves; expiring soon is a warning at start', { skip: !hasTools && 'needs openssl and curl' }, async () => {
  const bundle = path.join(dir, 'site.pem');
  const made = await runCli(['cert', 'self-signed', '--cn', 'www.example.test', '--san', 'example.test,127.0.0.1', '--days', '10', '-o', bundle]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(statSync(bundle).mode & 0o777, 0o600, 'the bundle holds a key: mode 600');
  const text = openssl('x509', '-in', bundle, '-noout', '-text');
  assert.match(text, /Subject: CN = www\.example\.test/);
  assert.match(text, /DNS:www\.example\.test, DNS:example\.test, IP Address:127\.0\.0\.1/);
  assert.match(readFileSync(bundle, 'utf8'), /-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----/);

  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 1 }
${webToApp(`[{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${bundle}"] } }]`, app.port)}`);
  cleanups.push(() => lb.stop());
  assert.match(lb.logs(), /\[WARNING\] .*site\.pem: certificate expires in 9 day\(s\), on /);

  // curl trusts the bundle as its CA and checks the name against the SANs.
  const { stdout } = await run('curl', ['-sS', '--cacert', bundle, '--resolve', `example.test:${port}:127.0.0.1`, `https://example.test:${port}/`], { timeout: 10_000 });
  assert.equal(stdout, 'hello from app\n');
  const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(bundle), servername: 'www.example.test' }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(peer.subject.CN, 'www.example.test');
  assert.equal(peer.subjectaltname, 'DNS:www.example.test, DNS:example.test, IP Address:127.0.0.1');
});

test('csr: a signed request naming the CN and SANs, and its key (mode 600) that matches it', { skip: !hasTools && 'needs openssl' }, async () => {
  const csr = path.join(dir, 'api.csr');
  const r = await runCli(['cert', 'csr', '--cn', 'api.example.test', '--san', 'www.example.test', '-o', csr]);
  assert.equal(r.code, 0, r.stderr);
  const text = openssl('req', '-in', csr, '-noout', '-verify', '-text');
  assert.match(text, /Subject: CN = api\.example\.test/);
  assert.match(text, /DNS:api\.example\.test, DNS:www\.example\.test/);
  assert.equal(statSync(`${csr}.key`).mode & 0o777, 0o600);
  assert.equal(openssl('req', '-in', csr, '-noout', '-pubkey'), openssl('pkey', '-in', `${csr}.key`, '-pubout'));
});

test('info prints subject, SANs, issuer, openssl-style dates and days left; refuses a file without a certificate', { skip: !hasTools && 'needs openssl' }, async () => {
  const bundle = path.join(dir, 'info.pem');
  assert.equal((await runCli(['cert', 'self-signed', '--cn', 'info.example.test', '--san', '*.info.example.test', '--days', '30', '-o', bundle])).code, 0);
  const r = await runCli(['cert', 'info', bundle]);
  assert.equal(r.code, 0, r.stderr);
  const dates = openssl('x509', '-in', bundle, '-noout', '-dates');
  for (const line of dates.trim().split('\n')) assert.ok(r.stdout.includes(line + '\n'), `info prints "${line}"`);
  const serial = openssl('x509', '-in', bundle, '-noout', '-serial').trim().split('=')[1];
  assert.match(r.stdout, new RegExp(`^Serial: ${serial}$`, 'm'));
  assert.match(r.stdout, /^Subject: \/CN=info\.example\.test$/m);
  assert.match(r.stdout, /^Subject Alternative Name: DNS:info\.example\.test, DNS:\*\.info\.example\.test$/m);
  assert.match(r.stdout, /^Issuer: \/CN=info\.example\.test \(self-signed\)$/m);
  assert.match(r.stdout, /^Days left: 29$/m);
  assert.match(r.stdout, /^Private key: matches the certificate$/m);

  const keyOnly = path.join(dir, 'key-only.pem');
  writeFileSync(keyOnly, readFileSync(bundle, 'utf8').replace(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/, ''));
  const bad = await runCli(['cert', 'info', keyOnly]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no certificate \(PEM\) found/);
});
