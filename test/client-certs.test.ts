/**
 * Client certificates on TLS binds through a real tslb: `verify required` refuses a
 * client without a certificate (the handshake fails) or with an untrusted or revoked
 * one, and rules see the certificate of one that has it (ssl_c_* fetches in an ACL
 * and in `%[…]` header values); `verify optional` lets a client without one through.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { issueCert, issueClientCert, revocationList, testCa } from './helpers/certs';
import { startHttpBackend } from './helpers/backends';
import { keepAliveGet, tlsConnect } from './helpers/tls-client';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const HOST = 'mtls.example.test';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const alice = issueClientCert([['C', 'FR'], ['O', 'Example'], ['CN', 'alice']]);
const mallory = issueClientCert([['O', 'Example'], ['CN', 'mallory']]);
const stranger = issueClientCert([['CN', 'stranger']], { selfSigned: true });
const revoked = issueClientCert([['CN', 'revoked']]);

let lb: TslbProcess;
/** Binds: verify required; verify optional; verify required with a CRL. */
let required: number;
let optional: number;
let withCrl: number;
/** The request headers the backend saw last. */
let seen: Record<string, string | string[] | undefined> = {};

before(async () => {
  const app = await startHttpBackend('app', (req, res) => {
    seen = req.headers;
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
    return true;
  });
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-mtls-');
  const site = issueCert([HOST]);
  writeFileSync(path.join(dir, 'site.pem'), site.cert + site.key);
  writeFileSync(path.join(dir, 'clients-ca.pem'), testCa().cert);
  if (hasOpenssl) writeFileSync(path.join(dir, 'revoked.crl'), revocationList([revoked]));
  [required, optional, withCrl] = [await freePort(), await freePort(), await freePort()];
  const ssl = (extra: string) => `{ certificates: ["${dir}/site.pem"], ca_file: "${dir}/clients-ca.pem"${extra} }`;
  lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: mtls
    mode: http
    binds:
      - { address: 127.0.0.1, port: ${required}, ssl: ${ssl(', verify: required')} }
      - { address: 127.0.0.1, port: ${optional}, ssl: ${ssl(', verify: optional')} }
${hasOpenssl ? `      - { address: 127.0.0.1, port: ${withCrl}, ssl: ${ssl(`, verify: required, crl_file: "${dir}/revoked.crl"`)} }` : ''}
    default_backend: app
    log: { enabled: false }
    http_request:
      - { deny: { status: 403 }, if: "{ ssl_c_s_dn(CN) -m str mallory }" }
      - { set_header: { name: X-SSL-Client-Used, value: "%[ssl_c_used]" } }
      - { set_header: { name: X-SSL-Client-Verify, value: "%[ssl_c_verify]" } }
      - { set_header: { name: X-SSL-Client-DN, value: "%[ssl_c_s_dn]" } }
      - { set_header: { name: X-SSL-Client-CN, value: "CN is %[ssl_c_s_dn(cn)]" } }
      - { set_header: { name: X-SSL-Issuer, value: "%[ssl_c_i_dn]" } }
      - { set_header: { name: X-SSL-Client-SHA1, value: "%[ssl_c_sha1,hex]" } }
      - { set_header: { name: X-SSL-Client-Serial, value: "%[ssl_c_serial,hex]" } }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
`);
  cleanups.push(() => lb.stop());
});

/** One request over a new connection: the status line, or the error that ended the connection. */
async function request(port: number, client?: { cert: string; key: string }): Promise<string> {
  let sock: tls.TLSSocket | undefined;
  try {
    sock = await tlsConnect(port, { servername: HOST, ca: testCa().cert, ...(client ? { cert: client.cert, key: client.key } : {}) });
    return await keepAliveGet(sock, '/', HOST);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  } finally {
    sock?.destroy();
  }
}

test('verify required: no certificate, no handshake', async () => {
  const r = await request(required);
  assert.match(r, /^error: .*(certificate required|handshake failure|alert number 116)/i);
});

test('verify required: rules and header values see the client certificate', async () => {
  assert.equal(await request(required, alice), 'HTTP/1.1 200 OK');
  const x = new X509Certificate(alice.cert);
  assert.equal(seen['x-ssl-client-used'], '1');
  assert.equal(seen['x-ssl-client-verify'], '0');
  assert.equal(seen['x-ssl-client-dn'], '/C=FR/O=Example/CN=alice');
  assert.equal(seen['x-ssl-client-cn'], 'CN is alice');
  assert.equal(seen['x-ssl-issuer'], '/CN=tslb test CA');
  assert.equal(seen['x-ssl-client-sha1'], x.fingerprint.replace(/:/g, ''));
  assert.equal(seen['x-ssl-client-serial'], x.serialNumber);
  // An ACL on the subject's CN.
  assert.equal(await request(required, mallory), 'HTTP/1.1 403 Forbidden');
});

test('a certificate the CA did not sign is refused, with verify required and optional', async () => {
  for (const port of [required, optional]) {
    const r = await request(port, stranger);
    assert.match(r, /^error: /, `port ${port}: ${r}`);
  }
});

test('verify optional: a client without a certificate passes, with ssl_c_used 0', async () => {
  assert.equal(await request(optional), 'HTTP/1.1 200 OK');
  assert.equal(seen['x-ssl-client-used'], '0');
  assert.equal(seen['x-ssl-client-dn'], '-');
  assert.equal(await request(optional, alice), 'HTTP/1.1 200 OK');
  assert.equal(seen['x-ssl-client-dn'], '/C=FR/O=Example/CN=alice');
});

test('crl_file: a revoked certificate is refused, others pass', { skip: !hasOpenssl && 'openssl makes the CRL' }, async () => {
  assert.match(await request(withCrl, revoked), /^error: /);
  assert.equal(await request(withCrl, alice), 'HTTP/1.1 200 OK');
  assert.equal(await request(required, revoked), 'HTTP/1.1 200 OK', 'the bind without the CRL takes it');
});

test('a TLS 1.2 session resumes on its bind with the certificate it verified, not on a bind verifying otherwise', async () => {
  const opts = { servername: HOST, ca: testCa().cert, cert: alice.cert, key: alice.key, maxVersion: 'TLSv1.2' as const };
  const first = await tlsConnect(required, opts);
  const session = first.getSession();
  first.destroy();
  const again = await tlsConnect(required, { ...opts, session });
  assert.equal(again.isSessionReused(), true);
  assert.equal(await keepAliveGet(again, '/', HOST), 'HTTP/1.1 200 OK');
  again.destroy();
  assert.equal(seen['x-ssl-client-dn'], '/C=FR/O=Example/CN=alice', 'the resumed session keeps its client certificate');
  const elsewhere = await tlsConnect(optional, { ...opts, session });
  assert.equal(elsewhere.isSessionReused(), false);
  elsewhere.destroy();
});

test('-c: verify without ca_file, and an unknown fetch in a header value, are errors', async () => {
  const dir = tempDir('tslb-mtls-check-');
  const site = issueCert([HOST]);
  writeFileSync(path.join(dir, 'site.pem'), site.cert + site.key);
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(
    file,
    `frontends:
  - name: web
    mode: http
    binds: [{ port: 8443, ssl: { certificates: [site.pem], verify: required } }]
    http_request:
      - { set_header: { name: X-Client, value: "%[ssl_c_nope]" } }
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 9000 }] }
`,
  );
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /binds\[0\]\.ssl\.verify: verify required needs ca_file/);
  assert.match(r.stderr, /set_header\.value: %\[ssl_c_nope\]: unknown fetch 'ssl_c_nope'/);
});
