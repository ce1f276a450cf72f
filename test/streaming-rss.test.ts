/**
 * Large bodies stream through a real tslb with backpressure: while the receiving
 * side stalls, the worker's memory stays bounded (nothing buffers the whole body),
 * and once it reads again every byte arrives.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { freePort, rss, startTslb } from './helpers/tslb';

const TOTAL = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 'z');
/** Allowed growth of the worker's RSS while a 256 MiB body is stalled in flight. */
const RSS_BUDGET = 64 * 1024 * 1024;

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Write TOTAL bytes respecting backpressure. */
function pump(out: NodeJS.WritableStream, done: () => void): void {
  let sent = 0;
  const more = () => {
    while (sent < TOTAL) {
      sent += CHUNK.length;
      if (!out.write(CHUNK)) return void out.once('drain', more);
    }
    done();
  };
  more();
}

async function startLb(backendPort: number): Promise<{ port: number; worker: number }> {
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 1 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app, log: { enabled: false } }
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${backendPort} }
`);
  cleanups.push(() => lb.stop());
  const ready = await lb.waitForLog((e) => e.event === 'ready');
  return { port, worker: (ready.workers as number[])[0] };
}

test('a 256 MiB download to a stalled client keeps the worker bounded, then arrives whole', async () => {
  const backend = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': TOTAL });
    pump(res, () => res.end());
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => backend.close(r)));
  const { port, worker } = await startLb((backend.address() as net.AddressInfo).port);
  const before = rss(worker);

  const client = net.connect(port, '127.0.0.1');
  client.write('GET /big HTTP/1.1\r\nHost: t\r\n\r\n');
  client.pause();
  await sleep(1500);
  const stalled = rss(worker);
  assert.ok(stalled - before < RSS_BUDGET, `worker RSS grew by ${((stalled - before) / 1048576).toFixed(1)} MiB while the client stalled`);

  let received = 0;
  await new Promise<void>((resolve, reject) => {
    client.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= TOTAL) resolve();
    });
    client.on('error', reject);
    client.resume();
  });
  client.destroy();
  assert.ok(received >= TOTAL, `received ${received}`);
});

test('a 256 MiB upload to a stalled server keeps the worker bounded, then arrives whole', async () => {
  let resumeServer!: () => void;
  let receivedByServer = 0;
  const backend = http.createServer((req, res) => {
    req.pause();
    resumeServer = () => {
      req.on('data', (d: Buffer) => (receivedByServer += d.length));
      req.on('end', () => res.end(String(receivedByServer)));
      req.resume();
    };
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => backend.close(r)));
  const { port, worker } = await startLb((backend.address() as net.AddressInfo).port);
  const before = rss(worker);

  const answer = new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', headers: { 'content-length': TOTAL } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    pump(req, () => req.end());
  });
  await sleep(1500);
  const stalled = rss(worker);
  assert.ok(stalled - before < RSS_BUDGET, `worker RSS grew by ${((stalled - before) / 1048576).toFixed(1)} MiB while the server stalled`);
  resumeServer();
  assert.equal(await answer, String(TOTAL));
});
