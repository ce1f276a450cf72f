/**
 * Client-initiated TLS renegotiation through a real tslb TLS bind: each renegotiation
 * costs the server a private-key operation, so, as HAProxy (SSL_OP_NO_RENEGOTIATION
 * on its bind contexts), tslb refuses it. Checked with Node's client and with
 * `openssl s_client` (its `R` command); a request on a fresh connection still works.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { issueCert, testCa } from './helpers/certs';
import { startHttpBackend } from './helpers/backends';
import { keepAliveGet, tlsConnect } from './helpers/tls-client';
import { freePort, startTslb, tempDir, type TslbProcess, webToApp } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const HOST = 'reneg.example.test';
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
let lb: TslbProcess;
let port: number;
let caFile: string;

before(async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-reneg-');
  const cert = issueCert([HOST]);
  writeFileSync(path.join(dir, 'site.pem'), cert.cert + cert.key);
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, testCa().cert);
  port = await freePort();
  lb = await startTslb(`
global:
  workers: 1
${webToApp(`[{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${path.join(dir, 'site.pem')}"], max_version: TLSv1.2 } }]`, app.port)}`);
  cleanups.push(() => lb.stop());
});

function connect(): Promise<tls.TLSSocket> {
  return tlsConnect(port, { servername: HOST, ca: testCa().cert, maxVersion: 'TLSv1.2' });
}

function get(sock: tls.TLSSocket, p: string): Promise<string> {
  return keepAliveGet(sock, p, HOST);
}

/** Renegotiates once: null when it completed, else the error (Node's client reports a refusal as a socket error). */
function renegotiate(sock: tls.TLSSocket): Promise<Error | null> {
  return new Promise((resolve) => {
    sock.once('error', resolve);
    const started = sock.renegotiate({ rejectUnauthorized: true }, (err) => {
      sock.off('error', resolve);
      resolve(err ?? null);
    });
    if (!started) resolve(new Error('renegotiate() refused locally'));
  });
}

test('Node client: renegotiation is refused and a new connection still serves', async () => {
  const sock = await connect();
  assert.equal(await get(sock, '/before'), 'HTTP/1.1 200 OK');
  // Before the fix each attempt completed (a full handshake on the server's key); bounded at 5.
  let completed = 0;
  let refusal: Error | null = null;
  for (let i = 0; i < 5 && !refusal; i++) {
    refusal = await renegotiate(sock);
    if (!refusal) completed++;
  }
  sock.destroy();
  assert.equal(completed, 0, 'no renegotiation completed');
  assert.match(String(refusal?.message), /no renegotiation/);
  const fresh = await connect();
  assert.equal(await get(fresh, '/after'), 'HTTP/1.1 200 OK');
  fresh.destroy();
});

test('openssl s_client: the R command fails with no renegotiation', { skip: !hasOpenssl && 'openssl is not installed' }, async () => {
  const child = spawn('openssl', ['s_client', '-tls1_2', '-connect', `127.0.0.1:${port}`, '-servername', HOST, '-CAfile', caFile], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const until = Date.now() + 8000;
    while (!/Verify return code: 0 \(ok\)[\s\S]*---\n/.test(stdout) && child.exitCode === null && Date.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    assert.match(stdout, /Verify return code: 0 \(ok\)/, stderr);
    const handshakes = (stderr.match(/^depth=0 /gm) ?? []).length;
    child.stdin.write('R\n');
    // A completed renegotiation shows the certificate chain verified again and keeps s_client running.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    assert.match(stderr, /RENEGOTIATING/);
    assert.equal((stderr.match(/^depth=0 /gm) ?? []).length, handshakes, `no second handshake:\n${stderr}`);
    assert.match(stderr, /no renegotiation/i, stderr);
    assert.notEqual(child.exitCode, null, 's_client gave up on the connection');
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
  const fresh = await connect();
  assert.equal(await get(fresh, '/after-openssl'), 'HTTP/1.1 200 OK');
  fresh.destroy();
});
