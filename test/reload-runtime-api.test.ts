/**
 * Reloads under load, through a real tslb: while clients keep a tracked stick table
 * changing (the primary sends each change to every worker, the draining ones too) and
 * others keep asking the runtime API over its unix socket, SIGHUP reloads one after the
 * other. The primary must survive its messages to workers that exit as they drain (an
 * EPIPE there once killed it: the API then answered ECONNRESET), and every API answer
 * must be complete.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { freePort, startTslb, tempDir } from './helpers/tslb';
import { startHttpBackend } from './helpers/backends';
import { unixCommand } from './helpers/runtime-api';
import { statusFrom } from './helpers/status';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const RELOADS = 8;
/** Bound the load loops whatever happens to the reloads (~700 of each in the 10 s the reloads take). */
const MAX_MS = 60_000;
const MAX_EACH = 5000;

test('the runtime API answers every command completely across reloads while a tracked table changes', async (t) => {
  const backend = await startHttpBackend('app');
  cleanups.push(() => backend.close());
  const port = await freePort();
  const sock = path.join(tempDir('tslb-reload-api-'), 'api.sock');
  const yaml = (n: number) => `
global: { workers: 2 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: app
    stick_table: { type: ip, size: 1k, expire: 30s, store: [http_req_cnt] }
    options:
      - http-request track-sc0 src
backends:
  - name: app
    timeouts: { connect: ${1000 + n}ms }
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
runtime_api: { socket: ${sock}, level: admin }
`;
  const lb = await startTslb(yaml(0));
  cleanups.push(() => lb.stop());
  const deadline = Date.now() + MAX_MS;
  let stop = false;
  const running = (i: number) => !stop && i < MAX_EACH && Date.now() < deadline;

  // Each request from a new source adds a table entry: a change for every worker.
  let requests = 0;
  const traffic = async (from: number) => {
    for (let i = 0; running(i); i++) {
      await statusFrom(port, `127.0.${from}.${(i % 250) + 1}`);
      requests++;
    }
  };
  const answers = { complete: 0, bad: [] as string[] };
  const ask = async () => {
    for (let i = 0; running(i); i++) {
      const command = i % 2 ? 'show table web\n' : 'show info\n';
      const out = await unixCommand(sock, command).catch((err: Error) => `error: ${err.message}`);
      const complete = command.startsWith('show table') ? /^# table: web, type: ip, size:1024, used:\d+\n/.test(out) : /^Name: tslb\n[^]*\nPid: \d+\n/.test(out);
      if (complete && out.endsWith('\n\n')) answers.complete++;
      else answers.bad.push(`${command.trim()} -> ${JSON.stringify(out.slice(0, 200))}`);
    }
  };
  const loops = [traffic(1), traffic(2), traffic(3), ask(), ask()];
  try {
    for (let n = 1; n <= RELOADS; n++) {
      lb.writeConfig(yaml(n));
      process.kill(lb.pid, 'SIGHUP');
      await lb.waitForLog((e) => (e.event === 'reloaded' && e.generation === n + 1) || e.event === 'reload-failed', 20_000);
    }
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  t.diagnostic(`${RELOADS} reloads, ${requests} tracked requests, ${answers.complete} complete API answers`);
  assert.deepEqual(answers.bad, [], 'every answer complete');
  assert.ok(answers.complete > RELOADS, `${answers.complete} answers`);
  assert.equal(lb.child.exitCode, null, `the primary is still running:\n${lb.logs().slice(-3000)}`);
  assert.doesNotMatch(lb.logs(), /"event":"reload-failed"/);
});
