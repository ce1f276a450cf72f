/**
 * The stats page and Prometheus listeners under a slowloris flood, through a real
 * tslb: connections past the cap are closed at once, the others when their head is
 * late, and the primary (which also runs the health checks) keeps answering.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { ADMIN_HEAD_TIMEOUT, ADMIN_MAX_CONNECTIONS } from '../src/primary/admin-http';
import { freePort, idleSite, rss, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { unixCommand } from './helpers/runtime-api';

/** As many connections as the flood that held 36 MB of the primary for 12 s. */
const FLOOD = 4000;
/** Allowed growth of the primary's RSS while the flood is connected. */
const RSS_BUDGET = 16 * 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves with undefined after `ms` without keeping the process alive (for races against sockets). */
const expiry = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref());

interface Slowloris {
  /** Resolves when the server closes the connection: what it sent and how long the connection lived. */
  closed: Promise<{ reply: string; ms: number }>;
  isClosed(): boolean;
  socket: net.Socket;
}

/** A client that sends part of a request head and never finishes it. */
function slowloris(port: number): Slowloris {
  const start = Date.now();
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
  let reply = '';
  let done = false;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (reply += d));
  socket.on('error', () => undefined);
  const closed = new Promise<{ reply: string; ms: number }>((resolve) =>
    socket.on('close', () => {
      done = true;
      resolve({ reply, ms: Date.now() - start });
    }),
  );
  return { closed, isClosed: () => done, socket };
}

/** Status of a GET on a new connection, or 'refused' when the connection is closed without an answer. */
function status(url: string): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve('refused'));
  });
}

describe('admin HTTP listener limits', () => {
  let lb: TslbProcess;
  let sock: string;
  const ports = { stats: 0, prom: 0 };

  before(async () => {
    ports.stats = await freePort();
    ports.prom = await freePort();
    sock = path.join(tempDir('tslb-admin-http-'), 'stats');
    lb = await startTslb(`
${await idleSite()}runtime_api: { socket: ${sock} }
stats: { bind: "127.0.0.1:${ports.stats}" }
prometheus: { bind: "127.0.0.1:${ports.prom}" }
`);
  });
  after(() => lb?.stop());

  it('a slowloris flood: past the cap closed at once, the rest answered 408 after the head timeout; the primary keeps serving', async (t) => {
    assert.equal(await status(`http://127.0.0.1:${ports.stats}/stats`), 200);
    const base = rss(lb.pid);
    const promLoris = slowloris(ports.prom);
    const flood: Slowloris[] = [];
    try {
      for (let i = 0; i < FLOOD; i++) flood.push(slowloris(ports.stats));
      await sleep(1500);
      const held = flood.filter((c) => !c.isClosed()).length;
      t.diagnostic(`${held} of ${FLOOD} connections held, primary RSS +${((rss(lb.pid) - base) / 1048576).toFixed(1)} MiB`);
      assert.ok(held <= ADMIN_MAX_CONNECTIONS, `${held} connections held`);
      assert.ok(rss(lb.pid) - base < RSS_BUDGET, `primary RSS grew by ${((rss(lb.pid) - base) / 1048576).toFixed(1)} MiB`);
      // The other listener and the runtime API answer; the flooded one is full.
      assert.equal(await status(`http://127.0.0.1:${ports.prom}/metrics`), 200);
      assert.match(await unixCommand(sock, 'show info\n'), /\nPid: /);
      assert.equal(await status(`http://127.0.0.1:${ports.stats}/stats`), 'refused');

      const deadline = ADMIN_HEAD_TIMEOUT + 4000;
      const lived = await Promise.race([Promise.all([promLoris.closed, ...flood.map((c) => c.closed)]), expiry(deadline)]);
      assert.ok(lived, `slowloris connections still open after ${deadline} ms`);
      for (const { reply, ms } of [lived[0], ...lived.slice(1).filter((c) => c.reply !== '')]) {
        assert.match(reply, /^HTTP\/1\.1 408 /);
        assert.ok(ms >= ADMIN_HEAD_TIMEOUT - 100, `closed after ${ms} ms, before the head timeout`);
      }
      assert.equal(await status(`http://127.0.0.1:${ports.stats}/stats`), 200);
    } finally {
      promLoris.socket.destroy();
      for (const c of flood) c.socket.destroy();
    }
  });
});
