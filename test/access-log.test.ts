/**
 * Access logs through a real tslb writing to a file: an httplog line for a known
 * request field by field, the seed's custom log-format, a 503 with `<NOSRV>`/`SC--`
 * and a refused server with `SC--`, a tcplog line per TCP connection, a frontend with
 * logging off, JSON lines, and log rotation on SIGUSR1 (once the primary forwards it).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startEchoBackend, startHttpBackend } from './helpers/backends';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const SEED_FORMAT = '%H %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r';

let lb: TslbProcess;
let logFile: string;
const ports: Record<string, number> = {};

before(async () => {
  const app = await startHttpBackend('app');
  const echo = await startEchoBackend();
  cleanups.push(() => app.close(), () => echo.close());
  for (const n of ['web', 'seed', 'nosrv', 'refused', 'tcp', 'quiet', 'json', 'closed', 'addr']) ports[n] = await freePort();
  logFile = path.join(tempDir('tslb-access-'), 'access.log');
  lb = await startTslb(`
global:
  workers: 1
  access_log: ${logFile}
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${ports.web}"], default_backend: app, log: { format: httplog } }
  - { name: seed, mode: http, binds: ["127.0.0.1:${ports.seed}"], default_backend: app, log: { format: "${SEED_FORMAT}" } }
  - { name: nosrv, mode: http, binds: ["127.0.0.1:${ports.nosrv}"], default_backend: empty, log: { format: httplog } }
  - { name: refused, mode: http, binds: ["127.0.0.1:${ports.refused}"], default_backend: dead, log: { format: httplog } }
  - { name: tcpfe, mode: tcp, binds: ["127.0.0.1:${ports.tcp}"], default_backend: echo, log: { format: tcplog } }
  - { name: quiet, mode: http, binds: ["127.0.0.1:${ports.quiet}"], default_backend: app, log: { format: httplog, enabled: false } }
  - { name: jsonfe, mode: http, binds: ["127.0.0.1:${ports.json}"], default_backend: app, log: { format: json, dontlognull: true } }
  - { name: addr, mode: http, binds: ["127.0.0.1:${ports.addr}"], default_backend: app, log: { format: "addr %fi:%fp %[dst]:%[dst_port] %ci %{+Q}r" } }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
  - name: empty
    mode: http
    servers: [{ name: off, address: 127.0.0.1, port: ${app.port}, disabled: true }]
  - name: dead
    mode: http
    retries: 1
    servers: [{ name: gone, address: 127.0.0.1, port: ${ports.closed} }]
  - name: echo
    mode: tcp
    servers: [{ name: e1, address: 127.0.0.1, port: ${echo.port} }]
`);
  cleanups.push(() => lb.stop());
});

function lines(file = logFile): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function waitForLine(pred: (l: string) => boolean, file = logFile, timeoutMs = 5000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = lines(file).find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no matching log line; file has:\n${lines(file).join('\n')}\nprocess output:\n${lb.logs()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${p}`, { reset: true });
  return { status: res.statusCode, body: await res.body.text() };
}

const DATE = String.raw`\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}`;

test('httplog: a known request matches HAProxy\'s layout field for field', async () => {
  const r = await get(ports.web, '/known?x=1');
  assert.equal(r.status, 200);
  const line = await waitForLine((l) => l.includes('/known?x=1'));
  const fields = line.split(' ');
  const expected: [string, RegExp][] = [
    ['%ci:%cp', /^127\.0\.0\.1:\d+$/],
    ['[%tr]', new RegExp(`^\\[${DATE}\\]$`)],
    ['%ft', /^web$/],
    ['%b/%s', /^app\/s1$/],
    ['%TR/%Tw/%Tc/%Tr/%Ta', /^\d+\/\d+\/\d+\/\d+\/\d+$/],
    ['%ST', /^200$/],
    ['%B', /^\d+$/],
    ['%CC', /^-$/],
    ['%CS', /^-$/],
    ['%tsc', /^----$/],
    ['%ac/%fc/%bc/%sc/%rc', /^\d+\/\d+\/\d+\/\d+\/0$/],
    ['%sq/%bq', /^0\/0$/],
    ['"%r', /^"GET$/],
    ['uri', /^\/known\?x=1$/],
    ['version"', /^HTTP\/1\.1"$/],
  ];
  assert.equal(fields.length, expected.length, line);
  for (let i = 0; i < expected.length; i++) assert.match(fields[i], expected[i][1], `${expected[i][0]} in ${line}`);
  // Head and body went to the client.
  assert.ok(Number(fields[6]) > r.body.length, line);
  // The timers add up: Ta covers TR + Tw + Tc + Tr.
  const [tR, tw, tc, tr, ta] = fields[4].split('/').map(Number);
  assert.ok(ta >= tR + tw + tc + tr, line);
});

test("the seed's https_log_format renders", async () => {
  await get(ports.seed, '/seeded');
  const line = await waitForLine((l) => l.includes('/seeded'));
  assert.match(
    line,
    new RegExp(`^${hostname().replace(/\./g, '\\.')} 127\\.0\\.0\\.1:\\d+ \\[${DATE}\\] seed app/s1 \\d+/\\d+/\\d+ \\d+ -- \\d+/\\d+/\\d+/\\d+/0 0/0 "GET /seeded HTTP/1\\.1"$`),
  );
});

test('503 without a server: <NOSRV> and SC--; refused server: its name, Tc -1, SC--', async () => {
  assert.equal((await get(ports.nosrv, '/none')).status, 503);
  const none = await waitForLine((l) => l.includes('/none'));
  assert.match(none, / nosrv empty\/<NOSRV> \d+\/-1\/-1\/-1\/\d+ 503 \d+ - - SC-- /);
  assert.equal((await get(ports.refused, '/dead')).status, 503);
  const dead = await waitForLine((l) => l.includes('/dead'));
  assert.match(dead, / refused dead\/gone \d+\/\d+\/-1\/-1\/\d+ 503 \d+ - - SC-- \d+\/\d+\/\d+\/\d+\/1 /);
});

test('%fi:%fp and dst/dst_port name the bind the client connected to', async () => {
  // A bind on one IPv4 address takes them from the bind instead of a getsockname() per connection.
  await get(ports.addr, '/where');
  const line = await waitForLine((l) => l.startsWith('addr ') && l.includes('/where'));
  assert.equal(line, `addr 127.0.0.1:${ports.addr} 127.0.0.1:${ports.addr} 127.0.0.1 "GET /where HTTP/1.1"`);
});

test('tcplog: one line per TCP connection at close', async () => {
  const sock = net.connect(ports.tcp, '127.0.0.1');
  const payload = 'x'.repeat(1234);
  let echoed = 0;
  let localPort = 0;
  await new Promise<void>((resolve, reject) => {
    sock.on('connect', () => {
      localPort = sock.localPort!;
      sock.write(payload);
    });
    sock.on('data', (d) => {
      echoed += d.length;
      if (echoed >= payload.length) sock.end();
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
  const line = await waitForLine((l) => / tcpfe echo\/e1 /.test(l));
  assert.match(line, new RegExp(`^127\\.0\\.0\\.1:${localPort} \\[${DATE}\\] tcpfe echo/e1 \\d+/\\d+/\\d+ 1234 -- \\d+/\\d+/\\d+/\\d+/0 0/0$`));
});

test('a frontend with logging disabled writes nothing; JSON frontends write objects', async () => {
  await get(ports.quiet, '/hush');
  await get(ports.json, '/as-json');
  const json = JSON.parse(await waitForLine((l) => l.includes('/as-json')));
  assert.equal(json.msg, 'access');
  assert.equal(json.frontend_name, 'jsonfe');
  assert.equal(json.server_name, 's1');
  assert.equal(json.status_code, 200);
  assert.equal(json.request_line, 'GET /as-json HTTP/1.1');
  assert.ok(!lines().some((l) => l.includes('/hush')));
});

/** SIGUSR1 reaches workers only once the primary forwards it as `reopen-logs`. */
const primaryForwardsReopen = (() => {
  try {
    return readFileSync(path.resolve(__dirname, '../src/primary/main.js'), 'utf8').includes('reopen-logs');
  } catch {
    return false;
  }
})();

test('SIGUSR1 reopens the log file: N lines in the rotated file, M in the new one', { skip: !primaryForwardsReopen && 'primary does not forward SIGUSR1 yet' }, async () => {
  const N = 20;
  const M = 15;
  for (let i = 0; i < N; i++) await get(ports.web, `/rot-a-${i}`);
  await waitForLine((l) => l.includes(`/rot-a-${N - 1} `));
  const rotated = logFile + '.1';
  renameSync(logFile, rotated);
  process.kill(lb.pid, 'SIGUSR1');
  await waitFor(() => existsSync(logFile), 5000);
  for (let i = 0; i < M; i++) await get(ports.web, `/rot-b-${i}`);
  await waitForLine((l) => l.includes(`/rot-b-${M - 1} `));
  assert.equal(lines(rotated).filter((l) => l.includes('/rot-a-')).length, N);
  assert.equal(lines(rotated).filter((l) => l.includes('/rot-b-')).length, 0);
  assert.equal(lines().filter((l) => l.includes('/rot-b-')).length, M);
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
