/**
 * The runtime API under hostile clients, through a real tslb: long lines of unknown
 * commands and floods of commands from clients that never read must not grow the
 * primary's memory or stall it (it also runs health checks and supervises workers).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { idleSite, rss, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { unixCommand } from './helpers/runtime-api';

const CLIENTS = 60;
/** Allowed growth of the primary's RSS while the hostile clients are connected. */
const RSS_BUDGET = 50 * 1024 * 1024;
/** How long the hostile clients stay connected while the primary is sampled. */
const FLOOD_MS = 3000;
/** One 64 KiB line of 32,768 unknown commands (`x;x;…;x`). */
const UNKNOWN_LINE = 'x;'.repeat(32767) + 'x\n';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Resolves with '' after `ms` without keeping the process alive (for races against sockets). */
const expiry = (ms: number) => new Promise<string>((r) => setTimeout(() => r(''), ms).unref());

/** Milliseconds until `show info` is answered on a new connection (Infinity after 2 s). */
async function showInfoLatency(sock: string): Promise<number> {
  const start = Date.now();
  const answer = await Promise.race([unixCommand(sock, 'show info\n'), expiry(2000)]);
  return answer.includes('\nPid: ') ? Date.now() - start : Infinity;
}

/** Clients that send `input` and never read; the primary is sampled while they stay connected. */
async function flood(lb: TslbProcess, sock: string, input: string): Promise<{ growth: number; slowest: number }> {
  await showInfoLatency(sock);
  const base = rss(lb.pid);
  const clients: net.Socket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = net.connect(sock, () => c.write(input));
    c.on('error', () => undefined);
    clients.push(c);
  }
  let peak = base;
  let slowest = 0;
  try {
    for (const end = Date.now() + FLOOD_MS; Date.now() < end; ) {
      await sleep(250);
      slowest = Math.max(slowest, await showInfoLatency(sock));
      peak = Math.max(peak, rss(lb.pid));
    }
  } finally {
    for (const c of clients) c.destroy();
  }
  return { growth: peak - base, slowest };
}

describe('runtime API limits', () => {
  let lb: TslbProcess;
  let sock: string;

  before(async () => {
    sock = path.join(tempDir('tslb-api-limits-'), 'stats');
    lb = await startTslb(`
${await idleSite()}runtime_api: { socket: ${sock}, level: admin }
`);
  });
  after(() => lb?.stop());

  it('60 non-reading clients sending 64 KiB lines of unknown commands: RSS within +50 MB, show info within 1 s', async (t) => {
    const { growth, slowest } = await flood(lb, sock, UNKNOWN_LINE);
    t.diagnostic(`primary RSS +${(growth / 1048576).toFixed(1)} MiB, slowest show info ${slowest} ms`);
    assert.ok(growth < RSS_BUDGET, `primary RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
    assert.ok(slowest < 1000, `show info took ${slowest} ms during the flood`);
  });

  it('60 interactive clients that send `help` floods and never read: RSS within +50 MB, show info within 1 s', async (t) => {
    // 256 lines of 64 `help`s: ~26 MB of replies per client if the primary kept running them.
    const line = 'help;'.repeat(63) + 'help\n';
    const { growth, slowest } = await flood(lb, sock, 'prompt\n' + line.repeat(256));
    t.diagnostic(`primary RSS +${(growth / 1048576).toFixed(1)} MiB, slowest show info ${slowest} ms`);
    assert.ok(growth < RSS_BUDGET, `primary RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
    assert.ok(slowest < 1000, `show info took ${slowest} ms during the flood`);
  });

  it('refuses an over-long line and a line of too many commands; an unknown command gets a short reply', async () => {
    assert.equal(await unixCommand(sock, 'x'.repeat(20000) + '\n'), 'Command line too long (max 16384 bytes).\n\n');
    const many = 'show info;'.repeat(65) + '\n';
    assert.equal(await unixCommand(sock, many), 'Too many commands on one line (max 64).\n\n');
    const unknown = await unixCommand(sock, 'frobnicate\n');
    assert.match(unknown, /^Unknown command: 'frobnicate'\n/);
    assert.ok(unknown.length < 200, `unknown command reply of ${unknown.length} bytes:\n${unknown}`);
    // A known first word: the commands that start with it, as HAProxy suggests them.
    const near = await unixCommand(sock, 'show frob\n');
    assert.match(near, /^Unknown command: 'show frob'\n/);
    assert.match(near, /\n {2}show info /);
    assert.doesNotMatch(near, /\n {2}disable server /);
    // A client that half-closes at once still gets the reply of a command the workers answer.
    assert.equal(await unixCommand(sock, 'show sess\n'), '\n');
    // 64 commands on a line still run, each with its reply.
    const info = await unixCommand(sock, 'show info;'.repeat(63) + 'show info\n');
    assert.equal(info.match(/\nPid: /g)?.length, 64);
  });
});
