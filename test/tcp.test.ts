import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { startEchoBackend } from './helpers/backends';
import { freePort } from './helpers/tslb';
import { server, startL4Proxy, tcpModel, type L4Proxy } from './helpers/l4-model';

type Closer = () => Promise<void>;
const cleanups: Closer[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Connects, writes `data`, half-closes, and collects everything until the proxy's FIN. */
function exchange(port: number, data: Buffer): Promise<{ reply: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let ended = false;
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => {
      ended = true;
      sock.end();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve({ reply: Buffer.concat(chunks), ended }));
    sock.setTimeout(5000, () => sock.destroy(new Error('test exchange timed out')));
    sock.end(data);
  });
}

/** Resolves with how long the proxy took to close a connection that sends nothing. */
function timeUntilClosed(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(Date.now() - start));
    sock.setTimeout(5000, () => {
      sock.destroy();
      reject(new Error('proxy never closed the connection'));
    });
  });
}

async function listen(srv: net.Server): Promise<number> {
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  return (srv.address() as net.AddressInfo).port;
}

async function proxy(model: Parameters<typeof startL4Proxy>[0]): Promise<L4Proxy> {
  const p = await startL4Proxy(model);
  cleanups.push(p.close);
  return p;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('L4 tunnel', () => {
  let echoPort = 0;
  before(async () => {
    const echo = await startEchoBackend();
    cleanups.push(echo.close);
    echoPort = echo.port;
  });

  it('echoes a small message and 1 MiB intact, counting bytes', async () => {
    const p = await proxy(tcpModel([server('echo', echoPort)]));
    const small = await exchange(p.port, Buffer.from('hello tslb\n'));
    assert.equal(small.reply.toString(), 'hello tslb\n');
    const big = randomBytes(1 << 20);
    const r = await exchange(p.port, big);
    assert.equal(r.reply.length, big.length);
    assert.equal(sha(r.reply), sha(big));
    const be = p.runtime.backends.get('be_tcp')!;
    assert.equal(be.counters.bytesIn, big.length + 11);
    assert.equal(be.counters.bytesOut, big.length + 11);
    assert.equal(be.counters.sessTotal, 2);
    assert.equal(be.servers[0].counters.lbTotal, 2);
    // Sessions are accounted as closed once both sockets are gone.
    for (let i = 0; i < 50 && be.counters.sessCur !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(be.counters.sessCur, 0);
    assert.equal(p.runtime.frontends[0].counters.sessCur, 0);
    assert.equal(be.servers[0].active, 0);
  });

  it('applies backpressure: a client that stops reading stops the server side', async () => {
    const total = 24 << 20;
    let written = 0;
    const firehose = net.createServer((s) => {
      s.on('error', () => s.destroy());
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    const port = await listen(firehose);
    const p = await proxy(tcpModel([server('firehose', port)]));
    const client = net.connect({ port: p.port, host: '127.0.0.1' });
    client.on('error', () => undefined);
    client.pause();
    await new Promise((r) => setTimeout(r, 400));
    // Loopback socket buffers may absorb several MiB; the proxy itself keeps only about one chunk queued.
    for (const s of p.worker.live) assert.ok(s.writableLength <= 256 * 1024, `proxy queued ${s.writableLength} bytes`);
    let received = 0;
    client.on('data', (d) => (received += d.length));
    client.resume();
    await new Promise((r) => client.once('end', r));
    assert.equal(received, total);
    client.destroy();
  });

  it('forwards a client half-close as FIN and still delivers the reply', async () => {
    // Replies only after the request's FIN arrives: proves the FIN went through.
    const backend = net.createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (c) => (n += c.length));
      s.on('end', () => setTimeout(() => s.end(`got ${n} bytes after FIN\n`), 50));
      s.on('error', () => s.destroy());
    });
    const port = await listen(backend);
    const p = await proxy(tcpModel([server('fin', port)]));
    const r = await exchange(p.port, Buffer.alloc(1000, 1));
    assert.equal(r.reply.toString(), 'got 1000 bytes after FIN\n');
    assert.equal(r.ended, true);
  });

  it('retries a refused server, then redispatches to a live one on the last retry', async () => {
    const dead = await freePort();
    const p = await proxy(
      tcpModel([server('dead', dead), server('live', echoPort)], { retries: 2, redispatch: true, timeouts: { connect: 100 } }),
    );
    const r = await exchange(p.port, Buffer.from('ping'));
    assert.equal(r.reply.toString(), 'ping');
    const be = p.runtime.backends.get('be_tcp')!;
    assert.equal(be.counters.retries, 1);
    assert.equal(be.counters.redispatches, 1);
    assert.equal(be.counters.errConn, 0);
    assert.equal(be.byName.get('dead')!.active, 0);
  });

  it('closes the client when retries are exhausted without redispatch', async () => {
    const dead = await freePort();
    const p = await proxy(tcpModel([server('dead', dead), server('live', echoPort)], { retries: 1, timeouts: { connect: 50 } }));
    const r = await exchange(p.port, Buffer.from('ping'));
    assert.equal(r.reply.length, 0);
    const be = p.runtime.backends.get('be_tcp')!;
    assert.equal(be.counters.retries, 1);
    assert.equal(be.counters.errConn, 1);
    assert.equal(be.byName.get('dead')!.counters.errConn, 1);
  });

  it('closes the client when no server is usable', async () => {
    const p = await proxy(tcpModel([server('off', echoPort, { disabled: true })]));
    const elapsed = await timeUntilClosed(p.port);
    assert.ok(elapsed < 1000, `closed after ${elapsed} ms`);
  });

  it('closes both sides on timeout server when the server stays silent', async () => {
    let serverSideClosed = false;
    const silent = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('close', () => (serverSideClosed = true));
    });
    const port = await listen(silent);
    const p = await proxy(tcpModel([server('silent', port)], { timeouts: { server: 200, client: 5000 } }));
    const elapsed = await timeUntilClosed(p.port);
    assert.ok(elapsed >= 180 && elapsed < 2000, `closed after ${elapsed} ms`);
    for (let i = 0; i < 50 && !serverSideClosed; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(serverSideClosed, true);
  });

  it('uses timeout tunnel instead of client/server timeouts once connected', async () => {
    const silent = net.createServer((s) => s.on('error', () => undefined));
    const port = await listen(silent);
    const p = await proxy(tcpModel([server('silent', port)], { timeouts: { server: 100, client: 100, tunnel: 600 } }));
    const elapsed = await timeUntilClosed(p.port);
    assert.ok(elapsed >= 550 && elapsed < 2500, `closed after ${elapsed} ms`);
  });
});
