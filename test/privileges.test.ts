/**
 * Privileges: started as root with `user`/`group`, workers bind first and then run
 * as that user; a missing user is a clear startup error.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { freePort, startTslb } from './helpers/tslb';
import { startHttpBackend } from './helpers/backends';

const isRoot = process.getuid?.() === 0;
const hasNobody = (() => {
  try {
    execFileSync('getent', ['passwd', 'nobody']);
    return true;
  } catch {
    return false;
  }
})();
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

function config(port: number, backendPort: number, user: string): string {
  return `
global: { workers: 2, user: ${user} }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${backendPort} }] }
`;
}

test('workers drop to the configured user after binding', { skip: (!isRoot && 'needs root') || (!hasNobody && 'no user "nobody"') }, async () => {
  const a = await startHttpBackend('a');
  cleanups.push(() => a.close());
  const port = await freePort();
  const lb = await startTslb(config(port, a.port, 'nobody'));
  cleanups.push(() => lb.stop());
  const ready = await lb.waitForLog((e) => e.event === 'ready');
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  for (const pid of ready.workers as number[]) assert.equal(uidOf(pid), nobody, `worker ${pid} runs as nobody`);
  const res = await request(`http://127.0.0.1:${port}/`);
  assert.equal(res.statusCode, 200);
  await res.body.text();
});

test('a missing user is a clear startup error', async () => {
  const a = await startHttpBackend('a');
  cleanups.push(() => a.close());
  const port = await freePort();
  await assert.rejects(startTslb(config(port, a.port, 'no-such-user-tslb')), /user "no-such-user-tslb" does not exist/);
});
