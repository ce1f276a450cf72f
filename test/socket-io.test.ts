/**
 * socket-io: the shared read buffer and direct writes keep every byte in order even when
 * the receiver stalls (partial writes, queued remainders), on this Node's fast path and on
 * the `'data'` fallback.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { forward, readThrough, type ChunkHandler } from '../src/worker/socket-io';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

/** A relay built only from socket-io: client → relay → sink, and the sink's reply back. */
async function startRelay(sinkPort: number): Promise<{ port: number; fastPaths: () => number }> {
  let fast = 0;
  // Half-closes are forwarded, not answered by Node's automatic end (as tcp.ts does).
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    client.pause();
    const toSink: ChunkHandler = function (n, buf) {
      if (!forward(upstream, buf, 0, n)) this.pause();
    };
    const toClient: ChunkHandler = function (n, buf) {
      if (!forward(client, buf, 0, n)) this.pause();
    };
    const upstream = net.connect({ port: sinkPort, host: '127.0.0.1' });
    readThrough(client, toSink);
    if (client.listenerCount('data') === 0) fast++;
    upstream.on('connect', () => {
      readThrough(upstream, toClient);
      client.resume();
    });
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, fastPaths: () => fast };
}

/** Echoes everything back, pausing its reads now and then so the relay's writes back up. */
async function startStallingEcho(): Promise<number> {
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      if (!s.write(d)) s.pause();
    });
    s.on('drain', () => s.resume());
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** Sends `payload`, reads the echo slowly (paused 20 ms every 1 MiB), returns its sha256. */
function roundTrip(port: number, payload: Buffer): Promise<{ digest: string; length: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let length = 0;
    let nextStall = 1 << 20;
    const sock = net.connect({ port, host: '127.0.0.1' }, () => sock.end(payload));
    sock.on('data', (d: Buffer) => {
      hash.update(d);
      length += d.length;
      if (length >= nextStall) {
        nextStall += 1 << 20;
        sock.pause();
        setTimeout(() => sock.resume(), 20);
      }
    });
    sock.on('end', () => resolve({ digest: hash.digest('hex'), length }));
    sock.on('error', reject);
    sock.setTimeout(30_000, () => reject(new Error('round trip timed out')));
  });
}

test('a relay on the shared buffer and direct writes returns 16 MiB intact through stalled readers', async () => {
  const relay = await startRelay(await startStallingEcho());
  const payload = randomBytes(16 << 20);
  const [a, b] = await Promise.all([roundTrip(relay.port, payload), roundTrip(relay.port, payload.subarray(0, 5 << 20))]);
  assert.equal(a.length, payload.length);
  assert.equal(a.digest, createHash('sha256').update(payload).digest('hex'));
  assert.equal(b.digest, createHash('sha256').update(payload.subarray(0, 5 << 20)).digest('hex'));
  // On Node 20 and 24 accepted sockets take the fast path; a Node without the slots would fall back.
  assert.equal(relay.fastPaths(), 2, 'accepted sockets read through the shared buffer');
});

test('a socket with bytes already buffered in its stream falls back to data events and loses none', async () => {
  const received: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    const server = net.createServer((s) => {
      s.pause();
      // Let the first bytes land in the paused stream's buffer, then switch.
      setTimeout(() => {
        s.read(0);
        setTimeout(() => {
          assert.ok(s.readableLength > 0, 'bytes wait in the stream');
          readThrough(s, function (n, buf) {
            received.push(Buffer.from(buf.subarray(0, n)));
          });
          assert.equal(s.listenerCount('data'), 1, 'fell back to data events');
          s.on('end', () => resolve());
          s.resume();
        }, 50);
      }, 50);
    });
    server.listen(0, '127.0.0.1', () => {
      cleanups.push(() => server.close());
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => {
        c.write('first-');
        setTimeout(() => c.end('second'), 200);
      });
    });
  });
  await done;
  assert.equal(Buffer.concat(received).toString(), 'first-second');
});
