/**
 * ACME end to end against Debian's pebble (an RFC 8555 test CA) on loopback: pebble's
 * HTTPS listener has a throw-away certificate of the test CA, it validates HTTP-01 on
 * tslb's plain bind and resolves the test name through a DNS server of the test. tslb
 * (2 workers) starts with a placeholder, orders the certificate, serves pebble's chain
 * (verified against pebble's root from /roots/0) on its TLS bind without a restart,
 * and `acme renew` replaces it with a new one. Skipped when pebble is not installed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { startHttpBackend } from './helpers/backends';
import { issueCert } from './helpers/certs';
import { startDnsServer } from './helpers/dns-server';
import { unixCommand } from './helpers/runtime-api';
import { tlsConnect } from './helpers/tls-client';
import { freePort, startTslb, tempDir, webToApp } from './helpers/tslb';

const hasPebble = spawnSync('pebble', ['-h']).error === undefined;
const NAME = 'acme.example.test';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Starts pebble on loopback; resolves with its directory and management URLs once it answers. */
async function startPebble(dir: string, httpPort: number, dnsAddress: string): Promise<{ directory: string; management: string; ca: string; stop: () => Promise<unknown> }> {
  const listener = issueCert(['localhost', '127.0.0.1']);
  const [port, mgmt, tlsPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(path.join(dir, 'pebble.crt'), listener.cert);
  writeFileSync(path.join(dir, 'pebble.key'), listener.key);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: path.join(dir, 'pebble.crt'),
      privateKey: path.join(dir, 'pebble.key'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify(config));
  const child = spawn('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', dnsAddress], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise((r) => child.once('exit', r));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  cleanups.push(stop);
  const directory = `https://127.0.0.1:${port}/dir`;
  const dispatcher = new Agent({ connect: { ca: listener.ca } });
  cleanups.push(() => dispatcher.close());
  for (let i = 0; i < 100; i++) {
    try {
      const res = await request(directory, { dispatcher });
      await res.body.text();
      if (res.statusCode === 200) return { directory, management: `https://127.0.0.1:${mgmt}`, ca: listener.ca, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pebble did not start:\n${output}`);
}

async function fetchText(url: string, ca: string): Promise<string> {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    return await (await request(url, { dispatcher })).body.text();
  } finally {
    await dispatcher.close();
  }
}

/** The certificate new handshakes get, verified against `root` for NAME; polls until `accept` holds. */
async function servedUntil(port: number, root: string, accept: (serial: string) => boolean, withinMs = 20_000): Promise<string> {
  const until = Date.now() + withinMs;
  let last = '';
  for (;;) {
    try {
      const sock = await tlsConnect(port, { servername: NAME, ca: root });
      last = sock.getPeerCertificate().serialNumber;
      sock.destroy();
      if (accept(last)) return last;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`not served within ${withinMs} ms; last: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('pebble issues a certificate over HTTP-01 that every worker serves, and acme renew replaces it', { skip: !hasPebble && 'pebble is not installed (apt-get install pebble)', timeout: 120_000 }, async () => {
  const dir = tempDir('tslb-acme-');
  const state = path.join(dir, 'state');
  const dns = await startDnsServer();
  cleanups.push(() => dns.close());
  dns.set(NAME, { a: ['127.0.0.1'] });
  const [httpPort, tlsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const pebble = await startPebble(dir, httpPort, dns.address);
  writeFileSync(path.join(dir, 'pebble-ca.pem'), pebble.ca);
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const bundle = path.join(state, `${NAME}.pem`);
  const sock = path.join(dir, 'api.sock');
  const lb = await startTslb(`
global:
  workers: 2
  acme: { directory: "${pebble.directory}", email: ops@example.test, names: [${NAME}], state_dir: ${state}, ca_file: ${path.join(dir, 'pebble-ca.pem')} }
${webToApp(`["127.0.0.1:${httpPort}", { address: 127.0.0.1, port: ${tlsPort}, ssl: { certificates: ["${bundle}"] } }]`, app.port)}runtime_api: { socket: ${sock} }
prometheus: { bind: "127.0.0.1:${metricsPort}" }
`);
  cleanups.push(() => lb.stop());
  // The placeholder is announced, then pebble's certificate arrives.
  assert.match(lb.logs(), /not issued by ACME yet/);
  await lb.waitForLog((e) => e.event === 'acme-issued', 60_000);
  const root = await fetchText(`${pebble.management}/roots/0`, pebble.ca);
  assert.match(root, /BEGIN CERTIFICATE/);
  const first = await servedUntil(tlsPort, root, () => true);
  // Every worker: fresh handshakes all verify against pebble's root with the same serial.
  for (let i = 0; i < 8; i++) assert.equal(await servedUntil(tlsPort, root, () => true, 5000), first);
  assert.equal(statSync(bundle).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(state, 'acme-account.key')).mode & 0o777, 0o600);

  const renew = await unixCommand(sock, `acme renew ${bundle}\n`);
  assert.match(renew, /Renewal of .* started/);
  await lb.waitForLog((e) => e.event === 'cert-updated' && e.via === 'acme' && e.serial !== undefined && String(e.serial).toLowerCase() !== first.toLowerCase(), 60_000);
  const second = await servedUntil(tlsPort, root, (s) => s !== first);
  assert.notEqual(second, first);
  for (let i = 0; i < 8; i++) assert.equal(await servedUntil(tlsPort, root, () => true, 5000), second);

  const metrics = await (await request(`http://127.0.0.1:${metricsPort}/metrics`, { reset: true })).body.text();
  assert.match(metrics, /^tslb_acme_renewals_total\{result="success"\} 2$/m);
  assert.match(metrics, /^tslb_acme_renewals_total\{result="failure"\} 0$/m);
  // The expiry gauge follows the issued certificate (pebble's validity is years, the placeholder's 7 days).
  const expiry = Number(/^tslb_frontend_certificate_expiry_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(expiry > Date.now() / 1000 + 30 * 86400, `expiry gauge ${expiry}`);
  // pebble's validation connections are kept alive: gone first, tslb stops without waiting for them.
  await pebble.stop();
});
