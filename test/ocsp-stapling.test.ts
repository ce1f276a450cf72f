/**
 * OCSP stapling through a real 2-worker tslb: a response made with `openssl ocsp`
 * against a test CA's index, stored as `<crt>.ocsp` next to the bundle (HAProxy's
 * place), is stapled for `openssl s_client -status`; replacing the response file
 * (the certificate stays) is picked up by the certificate watch, and new handshakes
 * staple the new one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startHttpBackend } from './helpers/backends';
import { freePort, startTslb, tempDir, webToApp } from './helpers/tslb';

const HOST = 'ocsp.example.test';
const SERIAL = '1001';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function openssl(args: string[], cwd: string, input = ''): string {
  const r = spawnSync('openssl', args, { cwd, input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

/** An OCSP response for the leaf, signed by the CA, from an index saying it is `V`alid or `R`evoked. */
function ocspResponse(dir: string, status: 'V' | 'R', out: string): void {
  const expiry = '491231235959Z';
  const revoked = status === 'R' ? '240101000000Z' : '';
  writeFileSync(path.join(dir, 'index.txt'), `${status}\t${expiry}\t${revoked}\t${SERIAL}\tunknown\t/CN=${HOST}\n`);
  openssl(['ocsp', '-issuer', 'ca.crt', '-cert', 'leaf.crt', '-reqout', 'req.der', '-no_nonce'], dir);
  openssl(['ocsp', '-index', 'index.txt', '-rsigner', 'ca.crt', '-rkey', 'ca.key', '-CA', 'ca.crt', '-reqin', 'req.der', '-respout', out, '-ndays', '1'], dir);
}

/** What `openssl s_client -status` says about the stapled response. */
function stapled(port: number, dir: string): string {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', HOST, '-status', '-CAfile', 'ca.crt'], { cwd: dir, input: '', encoding: 'utf8', timeout: 10_000 });
  return r.stdout + r.stderr;
}

test('an OCSP response next to the bundle is stapled, and a replaced one is stapled without a restart', { timeout: 60_000 }, async () => {
  const dir = tempDir('tslb-ocsp-');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tslb OCSP test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${HOST}`], dir);
  writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=DNS:${HOST}\n`);
  openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${SERIAL}`, '-days', '2', '-out', 'leaf.crt', '-extfile', 'ext.cnf'], dir);
  const bundle = path.join(dir, 'site.pem');
  writeFileSync(bundle, readFileSync(path.join(dir, 'leaf.crt'), 'utf8') + readFileSync(path.join(dir, 'leaf.key'), 'utf8'));
  ocspResponse(dir, 'V', 'site.pem.ocsp');

  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 2, cert_watch: 200ms }
${webToApp(`[{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${bundle}"] } }]`, app.port)}`);
  cleanups.push(() => lb.stop());
  // Several handshakes: some land on each worker.
  for (let i = 0; i < 4; i++) {
    const out = stapled(port, dir);
    assert.match(out, /OCSP Response Status: successful/);
    assert.match(out, /Cert Status: good/);
    assert.match(out, /Verify return code: 0 \(ok\)/);
  }

  ocspResponse(dir, 'R', 'next.ocsp');
  renameSync(path.join(dir, 'next.ocsp'), `${bundle}.ocsp`);
  await lb.waitForLog((e) => e.event === 'cert-updated' && e.via === 'watch', 10_000);
  const until = Date.now() + 5000;
  let revoked = 0;
  while (revoked < 4) {
    if (/Cert Status: revoked/.test(stapled(port, dir))) revoked++;
    else assert.ok(Date.now() < until, 'the replaced response was not stapled within 5 s');
  }
});
