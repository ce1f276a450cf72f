/**
 * Passive health through a real tslb (one worker, so one process counts the
 * consecutive errors): `observe layer7` marks a server answering 500s DOWN after
 * `error-limit` of them while its checks pass, and checks bring it back;
 * `observe layer4` counts refused connections; `on-marked-down shutdown-sessions`
 * cuts a hanging request when checks mark its server DOWN; `on-marked-up
 * shutdown-backup-sessions` cuts a tunnel on a backup server when the active
 * server comes UP. Plus the primary's on-error modes on a HealthMonitor, and the
 * config keywords.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { formatIssue, loadConfig } from '../src/config/load';
import { HealthMonitor } from '../src/primary/health';
import { backend, captureLog, listen, close, model, server } from './services/fixtures';
import { startEchoBackend, startHttpBackend, type HttpBackend } from './helpers/backends';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const dir = tempDir('tslb-passive-');
let lb: TslbProcess;
let httpPort: number;
let tcpPort: number;
let failing: HttpBackend;
let good: HttpBackend;
let l4good: HttpBackend;
let hanging: HttpBackend;
let hangHealthy = true;
const hangingResponses: http.ServerResponse[] = [];
let activeEcho: Awaited<ReturnType<typeof startEchoBackend>>;
let backupEcho: Awaited<ReturnType<typeof startEchoBackend>>;
/** The active tcp server's check port: closed at first (DOWN), opened to bring it UP. */
let activeCheck: net.Server;
let activeCheckPort: number;
let refusedPort: number;
let tcpRefusedFePort: number;
/** Closes every request's connection without answering. */
let closer: net.Server;
let closerPort: number;
/** Client sockets a test may leave open when it fails. */
const clients: net.Socket[] = [];

function get(urlPath: string): Promise<{ status: number; by: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: urlPath, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, by: String(res.headers['x-served-by'] ?? '') }));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

async function burst(urlPath: string, count: number): Promise<Record<string, number>> {
  const by: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const r = await get(urlPath);
    const k = `${r.status} ${r.by}`;
    by[k] = (by[k] ?? 0) + 1;
  }
  return by;
}

const logStartsWith = (prefix: string) => (e: Record<string, unknown>) => typeof e.msg === 'string' && e.msg.startsWith(prefix);
const IPC_SETTLE_MS = 100;

before(async () => {
  failing = await startHttpBackend('failing', (req, res) => {
    if (req.url === '/health') return false;
    res.writeHead(500, { 'x-served-by': 'failing', 'content-length': 0 });
    res.end();
    return true;
  });
  good = await startHttpBackend('good');
  l4good = await startHttpBackend('l4good');
  hanging = await startHttpBackend('hanging', (req, res) => {
    if (req.url === '/health') {
      res.writeHead(hangHealthy ? 200 : 503, { 'content-length': 0 });
      res.end();
      return true;
    }
    if (req.url !== '/hang') return false;
    hangingResponses.push(res);
    return true;
  });
  activeEcho = await startEchoBackend();
  backupEcho = await startEchoBackend();
  activeCheckPort = await freePort();
  refusedPort = await freePort();
  activeCheck = net.createServer((s) => s.destroy());
  closer = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.destroy());
  });
  await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
  closerPort = (closer.address() as net.AddressInfo).port;
  tcpRefusedFePort = await freePort();
  httpPort = await freePort();
  tcpPort = await freePort();
  lb = await startTslb(`
global: { workers: 1 }
defaults:
  mode: http
  timeouts: { connect: 1s, client: 5s, server: 5s }
frontends:
  - name: fe
    binds: ["127.0.0.1:${httpPort}"]
    use_backend:
      - { backend: l4, if: "{ path_beg /l4 }" }
      - { backend: cut, if: "{ path_beg /hang }" }
      - { backend: broken, if: "{ path_beg /broken }" }
    default_backend: app
  - name: tcpfe
    mode: tcp
    binds: ["127.0.0.1:${tcpPort}"]
    default_backend: tunnels
  - name: tcprefused
    mode: tcp
    binds: ["127.0.0.1:${tcpRefusedFePort}"]
    default_backend: tcpl4
backends:
  - name: app
    options: ["option httpchk GET /health"]
    servers:
      - { name: s1, address: 127.0.0.1, port: ${failing.port}, options: "check inter 300ms fastinter 1500ms fall 3 rise 2 observe layer7 error-limit 3 on-error mark-down" }
      - { name: s2, address: 127.0.0.1, port: ${good.port}, options: "check inter 300ms" }
  - name: l4
    options: ["option redispatch"]
    retries: 1
    servers:
      - { name: s3, address: 127.0.0.1, port: ${refusedPort}, options: "check port ${l4good.port} inter 300ms fastinter 3s observe layer4 error-limit 2 on-error mark-down" }
      - { name: s4, address: 127.0.0.1, port: ${l4good.port}, options: "check inter 300ms" }
  - name: broken
    retries: 0
    servers:
      - { name: c1, address: 127.0.0.1, port: ${closerPort}, options: "check inter 300ms fastinter 3s observe layer7 error-limit 2 on-error mark-down" }
  - name: tcpl4
    mode: tcp
    retries: 0
    servers:
      - { name: t1, address: 127.0.0.1, port: ${refusedPort}, options: "check port ${l4good.port} inter 300ms fastinter 3s observe layer4 error-limit 2 on-error mark-down" }
  - name: cut
    options: ["option httpchk GET /health"]
    servers:
      - { name: h1, address: 127.0.0.1, port: ${hanging.port}, options: "check inter 150ms fall 2 rise 2 on-marked-down shutdown-sessions" }
  - name: tunnels
    mode: tcp
    timeouts: { tunnel: 30s }
    servers:
      - { name: a1, address: 127.0.0.1, port: ${activeEcho.port}, options: "check port ${activeCheckPort} inter 150ms fall 1 rise 2 on-marked-up shutdown-backup-sessions" }
      - { name: b1, address: 127.0.0.1, port: ${backupEcho.port}, options: "backup check inter 150ms" }
`);
});

after(async () => {
  for (const c of clients) c.destroy();
  await lb?.stop();
  for (const res of hangingResponses) res.destroy();
  await Promise.all([failing, good, l4good, hanging].map((b) => b?.close()));
  await Promise.all([activeEcho, backupEcho].map((b) => b?.close()));
  await new Promise<void>((r) => (activeCheck.listening ? activeCheck.close(() => r()) : r()));
  await new Promise<void>((r) => closer.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

test('observe layer7 error-limit 3 on-error mark-down: three 500s mark the server DOWN, traffic moves, checks bring it back', async () => {
  // Round robin: s1 answers every other request with a 500; its checks (GET /health) pass.
  const before = await burst('/', 6);
  assert.equal(before['500 failing'], 3, JSON.stringify(before));
  const down = await lb.waitForLog(logStartsWith('Server app/s1 is DOWN'), 3000);
  assert.equal(
    down.msg,
    'Server app/s1 is DOWN, reason: Health analyze, info: "Detected 3 consecutive errors, last one was: Wrong http response". 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
  );
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  assert.deepEqual(await burst('/', 6), { '200 good': 6 });
  // Passing checks (rise 2, the second at fastinter) bring it back.
  const up = await lb.waitForLog(logStartsWith('Server app/s1 is UP'), 4000);
  assert.match(String(up.msg), /reason: Layer7 check passed, code: 200/);
});

test('observe layer4: refused connections count; on-error mark-down takes the server out', async () => {
  // retries 1 + redispatch: each request to s3 fails twice there... or once, then goes to s4.
  const r = await burst('/l4/x', 4);
  assert.equal(r['200 l4good'], 4, JSON.stringify(r));
  const down = await lb.waitForLog(logStartsWith('Server l4/s3 is DOWN'), 3000);
  assert.match(String(down.msg), /^Server l4\/s3 is DOWN, reason: Health analyze, info: "Detected 2 consecutive errors, last one was: L4 unsuccessful connection"\. 1 active/);
});

test('observe layer7: a server closing before its response counts as "Close from server (http)"', async () => {
  assert.deepEqual(await burst('/broken', 2), { '502 ': 2 });
  const down = await lb.waitForLog(logStartsWith('Server broken/c1 is DOWN'), 3000);
  assert.match(String(down.msg), /info: "Detected 2 consecutive errors, last one was: Close from server \(http\)"\. 0 active/);
});

test('observe layer4 on a tcp backend: refused connections mark the server DOWN', async () => {
  for (let i = 0; i < 2; i++) {
    const c = net.connect({ host: '127.0.0.1', port: tcpRefusedFePort });
    clients.push(c);
    c.on('error', () => undefined);
    await new Promise<void>((r) => c.once('close', () => r()));
  }
  const down = await lb.waitForLog(logStartsWith('Server tcpl4/t1 is DOWN'), 3000);
  assert.match(String(down.msg), /info: "Detected 2 consecutive errors, last one was: L4 unsuccessful connection"/);
});

test('on-marked-down shutdown-sessions: a hanging request is cut when checks mark its server DOWN', async () => {
  const result = new Promise<string>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/hang', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(`response ${res.statusCode}`));
      res.on('error', () => resolve('response cut'));
    });
    req.on('error', (err) => resolve(`cut: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.on('socket', (s) => clients.push(s));
    req.end();
  });
  const deadline = Date.now() + 2000;
  while (hangingResponses.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(hangingResponses.length, 1, 'the request reached h1');
  hangHealthy = false;
  const downAt = Date.now();
  await lb.waitForLog(logStartsWith('Server cut/h1 is DOWN'), 3000);
  const outcome = await Promise.race([result, new Promise<string>((r) => setTimeout(() => r('still hanging'), 2000))]);
  assert.match(outcome, /^cut: (ECONNRESET|socket hang up)/);
  assert.ok(Date.now() - downAt < 1500);
});

test('on-marked-up shutdown-backup-sessions: a tunnel on the backup is cut when the active server comes UP', async () => {
  // a1's check port is closed: DOWN after one check (fall 1); the backup b1 serves.
  await lb.waitForLog(logStartsWith('Server tunnels/a1 is DOWN'), 3000);
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  // Checks connect to both echo servers too (without sending bytes): count tunnels, as a difference.
  const backupBefore = backupEcho.tunnels;
  const activeBefore = activeEcho.tunnels;
  const client = net.connect({ host: '127.0.0.1', port: tcpPort });
  clients.push(client);
  let closed = false;
  client.on('error', () => undefined);
  client.on('close', () => (closed = true));
  client.write('ping');
  await new Promise<void>((resolve) => client.once('data', () => resolve()));
  assert.equal(backupEcho.tunnels - backupBefore, 1, 'the tunnel goes through the backup');
  await new Promise<void>((r) => activeCheck.listen(activeCheckPort, '127.0.0.1', r));
  await lb.waitForLog(logStartsWith('Server tunnels/a1 is UP'), 3000);
  const deadline = Date.now() + 1500;
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed, 'the backup tunnel was cut');
  // New tunnels go to the active server.
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  const next = net.connect({ host: '127.0.0.1', port: tcpPort });
  clients.push(next);
  next.write('pong');
  await new Promise<void>((resolve) => next.once('data', () => resolve()));
  next.destroy();
  assert.equal(activeEcho.tunnels - activeBefore, 1);
});

/** A config file whose frontend `fe` routes to backend `app` with the server lines `appServers` (then any further backends). */
function writeConfig(file: string, appServers: string): void {
  writeFileSync(
    file,
    `
frontends:
  - name: fe
    binds: ["127.0.0.1:18080"]
    default_backend: app
backends:
  - name: app
    servers:
${appServers}`,
  );
}

test('config: the keywords land in server.check; bad values and useless combinations are reported', () => {
  const file = path.join(dir, 'c.yaml');
  writeConfig(
    file,
    `      - { name: a, address: 127.0.0.1, port: 1, options: "check observe layer7 error-limit 5 on-error sudden-death on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions" }
      - { name: b, address: 127.0.0.1, port: 2, options: "check observe layer4" }
      - { name: c, address: 127.0.0.1, port: 3, options: "observe layer4" }
      - { name: d, address: 127.0.0.1, port: 4, options: "check error-limit 3" }
  - name: t
    mode: tcp
    servers:
      - { name: e, address: 127.0.0.1, port: 5, options: "check observe layer7" }
`,
  );
  const r = loadConfig([file]);
  assert.deepEqual(r.errors.map(formatIssue), []);
  assert.deepEqual(r.model!.pending, []);
  const [a, b, c, d] = r.model!.backends[0].servers;
  assert.deepEqual(a.check.observe, { layer: 'layer7', errorLimit: 5, onError: 'sudden-death' });
  assert.equal(a.check.onMarkedDown, 'shutdown-sessions');
  assert.equal(a.check.onMarkedUp, 'shutdown-backup-sessions');
  assert.deepEqual(b.check.observe, { layer: 'layer4', errorLimit: 10, onError: 'fail-check' });
  assert.equal(c.check.observe, undefined);
  assert.equal(d.check.observe, undefined);
  assert.deepEqual(r.model!.backends[1].servers[0].check.observe, { layer: 'layer4', errorLimit: 10, onError: 'fail-check' });
  const warnings = r.warnings.map((w) => w.message);
  assert.ok(warnings.some((w) => /observe layer4 needs check/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /error-limit\/on-error without observe/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /observe layer7 in a tcp backend/.test(w)), warnings.join('\n'));

  writeConfig(
    file,
    `      - { name: a, address: 127.0.0.1, port: 1, options: "check observe layer5 error-limit 0 on-error explode on-marked-down kill" }
`,
  );
  const bad = loadConfig([file]).errors.map((e) => e.message);
  assert.ok(bad.some((m) => /observe: must be none, layer4, layer7, not "layer5"/.test(m)), bad.join('\n'));
  assert.ok(bad.some((m) => /error-limit: must be 1\.\./.test(m)), bad.join('\n'));
  assert.ok(bad.some((m) => /on-error: must be fastinter, fail-check, sudden-death, mark-down/.test(m)), bad.join('\n'));
  assert.ok(bad.some((m) => /on-marked-down: must be shutdown-sessions/.test(m)), bad.join('\n'));
});

test('HealthMonitor.observed: fail-check counts one failed check, sudden-death leaves one, fastinter brings the next check forward', async () => {
  let checks = 0;
  const srv = net.createServer((sock) => {
    checks++;
    sock.destroy();
  });
  const port = await listen(srv);
  const cap = captureLog();
  // Long inter: the checks themselves change nothing during the test.
  const chk = { inter: 20_000, fastinter: 50, rise: 2, fall: 3 };
  const m = model([
    backend(
      'b',
      [
        server('fc', port, {}, { ...chk, observe: { layer: 'layer7', errorLimit: 10, onError: 'fail-check' } }),
        server('sd', port, {}, { ...chk, observe: { layer: 'layer7', errorLimit: 10, onError: 'sudden-death' } }),
        server('fi', port, {}, { ...chk, observe: { layer: 'layer4', errorLimit: 10, onError: 'fastinter' } }),
      ],
      {},
      ['log-health-checks'],
    ),
  ]);
  const mon = new HealthMonitor(m, cap.log, () => undefined);
  try {
    mon.start();
    const state = (name: string) => mon.health().find((h) => h.server === name)!;

    mon.observed('b', 'fc', 10, 'Wrong http response');
    assert.equal(state('fc').status, 'UP 2/3');
    assert.equal(state('fc').checkStatus, 'HANA');
    assert.equal(state('fc').chkfail, 1);
    assert.equal(state('fc').hanafail, 1);
    assert.ok(
      cap.messages().includes('Health check for server b/fc failed, reason: Health analyze, info: "Detected 10 consecutive errors, last one was: Wrong http response", status: 2/3 UP.'),
      cap.messages().join('\n'),
    );

    mon.observed('b', 'sd', 10, 'Read timeout (http)');
    assert.equal(state('sd').status, 'UP 1/3');
    mon.observed('b', 'sd', 10, 'Read timeout (http)');
    assert.equal(state('sd').up, false);
    assert.ok(
      cap.messages().some((msg) => msg.startsWith('Server b/sd is DOWN, reason: Health analyze, info: "Detected 10 consecutive errors, last one was: Read timeout (http)". 2 active')),
      cap.messages().join('\n'),
    );

    const before = checks;
    mon.observed('b', 'fi', 10, 'L4 unsuccessful connection');
    assert.equal(state('fi').status, 'UP');
    assert.equal(state('fi').hanafail, 1);
    const deadline = Date.now() + 1000;
    while (checks === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(checks > before, 'a check ran at fastinter');

    // Unknown servers and servers in maintenance are left alone.
    mon.observed('b', 'nope', 10, 'x');
    mon.setAdmin('b', 'fc', 'maint');
    mon.observed('b', 'fc', 10, 'Wrong http response');
    assert.equal(state('fc').hanafail, 1);
  } finally {
    mon.stop();
    await close(srv);
  }
});
