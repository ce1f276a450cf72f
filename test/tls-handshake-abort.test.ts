/**
 * Clients that go away before their TLS handshake ends (a port probe, a load balancer's
 * TCP check, a client giving up mid-ClientHello). Binds are half-open for HTTP, and a TLS
 * socket given only a FIN waits for more: without care each such connection stayed
 * counted until the handshake timeout, and a stop waited for it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { issueCert } from './helpers/certs';
import { startHttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';
import { freePort, startTslb, tempDir, type TslbProcess, webToApp } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let lb: TslbProcess;
let port: number;
let sock: string;

before(async () => {
  const app = await startHttpBackend('app');
  cleanups.push(() => app.close());
  const dir = tempDir('tslb-hs-abort-');
  const cert = issueCert(['abort.example.test']);
  writeFileSync(path.join(dir, 'site.pem'), cert.cert + cert.key);
  sock = path.join(dir, 'api.sock');
  port = await freePort();
  // A handshake timeout far beyond the test's bounds: only a prompt close passes.
  lb = await startTslb(`
global: { workers: 1 }
runtime_api: { socket: ${sock}, level: admin }
${webToApp(`[{ address: 127.0.0.1, port: ${port}, ssl: { certificates: ["${path.join(dir, 'site.pem')}"] } }]`, app.port, '    timeouts: { http_request: 60s }\n')}`);
  cleanups.push(() => lb.stop());
});

/** Connects, writes `bytes` (nothing, one byte, the start of a ClientHello) and closes at once. */
function probe(bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      if (bytes.length) s.write(bytes);
      s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

async function currConns(): Promise<number> {
  return Number(/\nCurrConns: (\d+)\n/.exec(await unixCommand(sock, 'show info\n'))?.[1] ?? -1);
}

test('connections closed before the handshake ends are freed at once, and a stop does not wait for them', { timeout: 30_000 }, async () => {
  const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00]);
  for (const bytes of [Buffer.alloc(0), Buffer.from('\n'), partialHello, Buffer.alloc(0), partialHello]) await probe(bytes);
  let conns = -1;
  for (let i = 0; i < 50; i++) {
    conns = await currConns();
    if (conns === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(conns, 0, 'every aborted handshake is gone from CurrConns within 5 s (the handshake timeout is 60 s)');
  const started = Date.now();
  assert.equal(await lb.stop(), 0);
  assert.ok(Date.now() - started < 10_000, `stop took ${Date.now() - started} ms`);
});
