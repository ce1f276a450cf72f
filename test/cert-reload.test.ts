/**
 * Hot certificate reload through a real 2-worker tslb: a replaced PEM file (watched),
 * HAProxy's runtime API transaction (set / commit / abort / show ssl cert, through
 * socat with the `<<` payload syntax), and SIGHUP. New handshakes see the new
 * certificate on every worker (several fresh connections), a keep-alive connection
 * made before keeps working, and a broken bundle is refused with the old one served.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { issueCert, testCa } from './helpers/certs';
import { request } from 'undici';
import { startHttpBackend } from './helpers/backends';
import { hasSocat, socat } from './helpers/runtime-api';
import { keepAliveGet, tlsConnect } from './helpers/tls-client';
import { freePort, runCli, startTslb, tempDir } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const HOST = 'reload.example.test';
/** Fresh connections per check: with 2 workers, some land on each. */
const CONNECTIONS = 12;

function lbConfig(port: number, appPort: number, bundle: string, extra = ''): string {
  return `
global: { workers: 2${extra} }
frontends:
  - name: web
    mode: http
    binds: [{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${bundle}"] } }]
    default_backend: app
    timeouts: { http_keep_alive: 30s }
    log: { enabled: false }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${appPort} }]
`;
}

/** The serial numbers that `CONNECTIONS` new handshakes (no session reuse) see, each once. */
async function servedSerials(port: number, ca: string | Buffer): Promise<string[]> {
  const serials = new Set<string>();
  for (let i = 0; i < CONNECTIONS; i++) {
    const sock = await tlsConnect(port, { servername: HOST, ca });
    serials.add(sock.getPeerCertificate().serialNumber);
    sock.destroy();
  }
  return [...serials];
}

/** Polls until every new handshake sees `serial` (the workers get the new certificate asynchronously). */
async function untilServed(port: number, ca: string | Buffer, serial: string, withinMs = 5000): Promise<string[]> {
  const until = Date.now() + withinMs;
  let seen: string[] = [];
  while (Date.now() < until) {
    seen = await servedSerials(port, ca);
    if (seen.length === 1 && seen[0] === serial) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}

test('a replaced file is served by every worker, a keep-alive connection survives, a broken one is refused', async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-cert-reload-');
  const bundle = path.join(dir, 'site.pem');
  const first = issueCert([HOST]);
  const second = issueCert([HOST, 'www.reload.example.test']);
  writeFileSync(bundle, first.cert + first.key);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const lb = await startTslb(lbConfig(port, app.port, bundle, ', cert_watch: 200ms') + `prometheus: { bind: "127.0.0.1:${metricsPort}" }\n`);
  cleanups.push(() => lb.stop());
  const ca = testCa().cert;

  const kept = await tlsConnect(port, { servername: HOST, ca });
  assert.equal(await keepAliveGet(kept, '/before', HOST), 'HTTP/1.1 200 OK');
  assert.deepEqual(await servedSerials(port, ca), [serialOf(first.cert)]);

  // In place, as `cp new.pem site.pem` does.
  writeFileSync(bundle, second.cert + second.key);
  const updated = await lb.waitForLog((e) => e.event === 'cert-updated', 5000);
  assert.equal(updated.file, bundle);
  assert.equal(updated.via, 'watch');
  assert.deepEqual(await untilServed(port, ca, serialOf(second.cert)), [serialOf(second.cert)]);
  assert.equal(await keepAliveGet(kept, '/after', HOST), 'HTTP/1.1 200 OK', 'the connection made before still serves');
  assert.equal(kept.getPeerCertificate().serialNumber, serialOf(first.cert));
  kept.destroy();

  // A certificate with a key that is not its own: refused, the previous one stays.
  writeFileSync(bundle, first.cert + testCa().key);
  const refused = await lb.waitForLog((e) => e.event === 'cert-refused', 5000);
  assert.match(String(refused.msg), /refused: the private key does not match the certificate; still serving the previous one/);
  assert.deepEqual(await servedSerials(port, ca), [serialOf(second.cert)]);

  // Renamed into place (tslb cert writes so), expiring soon: a warning, and the expiry gauge follows.
  assert.equal((await runCli(['cert', 'self-signed', '--cn', HOST, '--days', '5', '-o', bundle])).code, 0);
  const expiring = await lb.waitForLog((e) => e.event === 'cert-expiring', 5000);
  assert.match(String(expiring.msg), /site\.pem: certificate expires in 4 day\(s\)/);
  const metrics = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
  const notAfter = Date.parse(new X509Certificate(readFileSync(bundle)).validTo) / 1000;
  assert.match(metrics, new RegExp(`^tslb_frontend_certificate_expiry_timestamp_seconds\\{proxy="web",source="${bundle}",cn="${HOST}"\\} ${notAfter}$`, 'm'));
});

test('runtime API: set ssl cert <<, show ssl cert, commit; a bad payload or key is refused; abort', { skip: !hasSocat && 'socat is not installed' }, async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-cert-api-');
  const bundle = path.join(dir, 'site.pem');
  const sock = path.join(dir, 'stats');
  const first = issueCert([HOST]);
  const next = issueCert([HOST, 'api.reload.example.test']);
  writeFileSync(bundle, first.cert + first.key);
  const port = await freePort();
  const lb = await startTslb(lbConfig(port, app.port, bundle, ', cert_watch: 0') + `runtime_api: { socket: ${sock} }\n`);
  cleanups.push(() => lb.stop());
  const ca = testCa().cert;
  const serial = serialOf(next.cert);

  assert.equal(await socat(sock, 'show ssl cert\n'), `# filename\n${bundle}\n\n`);
  assert.equal(
    await socat(sock, `set ssl cert ${bundle} <<\n${next.cert}${next.key}\n`),
    `Transaction created for certificate ${bundle}!\n\n`,
  );
  assert.equal(await socat(sock, 'show ssl cert\n'), `# transaction\n*${bundle}\n# filename\n${bundle}\n\n`);
  const pending = await socat(sock, `show ssl cert *${bundle}\n`);
  assert.match(pending, new RegExp(`^Filename: \\*${bundle}\nStatus: Uncommitted\nSerial: ${serial}\n`));
  assert.match(pending, /^Subject Alternative Name: DNS:reload\.example\.test, DNS:api\.reload\.example\.test$/m);
  assert.match(pending, /^Issuer: \/CN=tslb test CA$/m);
  assert.deepEqual(await servedSerials(port, ca), [serialOf(first.cert)], 'nothing changes before the commit');

  assert.equal(await socat(sock, `commit ssl cert ${bundle}\n`), `Committing ${bundle}.\nSuccess!\n\n`);
  assert.deepEqual(await untilServed(port, ca, serial), [serial]);
  const shown = await socat(sock, `show ssl cert ${bundle}\n`);
  assert.match(shown, new RegExp(`^Filename: ${bundle}\nStatus: Used\nSerial: ${serial}\nnotBefore: \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4} GMT\nnotAfter: `));
  assert.match(shown, /^Algorithm: RSA2048$/m);

  // A payload that is no certificate, then a certificate with someone else's key.
  assert.equal(
    await socat(sock, `set ssl cert ${bundle} <<\nnot a certificate\n\n`),
    `unable to load certificate from file '${bundle}'.\nCan't load the payload\nCan't update ${bundle}!\n\n`,
  );
  assert.equal(await socat(sock, `set ssl cert ${bundle} <<\n${first.cert}${testCa().key}\n`), `Transaction created for certificate ${bundle}!\n\n`);
  assert.equal(
    await socat(sock, `commit ssl cert ${bundle}\n`),
    `inconsistencies between private key and certificate loaded '${bundle}'.\nCan't commit ${bundle}!\n\n`,
  );
  assert.equal(await socat(sock, `abort ssl cert ${bundle}\n`), `Transaction aborted for certificate '${bundle}'!\n\n`);
  assert.equal(await socat(sock, `commit ssl cert ${bundle}\n`), `No ongoing transaction! !\nCan't commit ${bundle}!\n\n`);
  assert.equal(
    await socat(sock, `set ssl cert /etc/other.pem <<\n${next.cert}${next.key}\n`),
    "Can't replace a certificate which is not referenced by the configuration!\nCan't update /etc/other.pem!\n\n",
  );
  assert.deepEqual(await servedSerials(port, ca), [serial], 'the committed certificate is still served');
});

test('SIGHUP serves the replaced file from new workers while the old ones finish; expiring soon is a warning', async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-cert-hup-');
  const bundle = path.join(dir, 'site.pem');
  const first = issueCert([HOST]);
  writeFileSync(bundle, first.cert + first.key);
  const port = await freePort();
  const lb = await startTslb(lbConfig(port, app.port, bundle, ', cert_watch: 0'));
  cleanups.push(() => lb.stop());
  const kept = await tlsConnect(port, { servername: HOST, ca: testCa().cert });
  assert.equal(await keepAliveGet(kept, '/before', HOST), 'HTTP/1.1 200 OK');

  // A self-signed replacement valid for 5 days: clients trust it as their CA.
  const made = await runCli(['cert', 'self-signed', '--cn', HOST, '--days', '5', '-o', bundle]);
  assert.equal(made.code, 0, made.stderr);
  const pem = readFileSync(bundle, 'utf8');
  process.kill(lb.pid, 'SIGHUP');
  const warning = await lb.waitForLog((e) => e.event === 'config-warning' && /site\.pem: certificate expires in 4 day\(s\)/.test(String(e.msg)));
  assert.ok(warning);
  await lb.waitForLog((e) => e.event === 'reloaded');
  // Old workers stop accepting once their drain message arrives.
  assert.deepEqual(await untilServed(port, pem, serialOf(pem)), [serialOf(pem)]);
  assert.equal(await keepAliveGet(kept, '/after', HOST), 'HTTP/1.1 200 OK', 'the old generation still serves its connection');
  kept.destroy();
});
