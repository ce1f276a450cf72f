/**
 * Health checks end to end through a real 2-worker tslb, configured from YAML:
 * a stopped server goes DOWN after `fall` checks and gets no new request, comes
 * back UP after `rise`; httpchk + http-check expect fails a 500; an agent-check
 * reply changes the weight and the traffic split; the DOWN is mailed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

let lb: TslbProcess;
let port: number;
let s1: HttpBackend;
let s2: HttpBackend;
let ok1: HttpBackend;
let bad1: HttpBackend;
let w1: HttpBackend;
let w2: HttpBackend;
let agent: net.Server;
let agentConnections = 0;
let sink: SMTPServer;
const mails: string[] = [];
const healthRequests: string[] = [];

function get(path: string): Promise<{ status: number; by: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, by: String(res.headers['x-served-by'] ?? '') }));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

/** `count` sequential requests, each on a new connection; served-by tallies and the 5xx count. */
async function burst(path: string, count: number): Promise<{ by: Record<string, number>; errors: number }> {
  const by: Record<string, number> = {};
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const r = await get(path);
    if (r.status >= 500) errors++;
    else by[r.by] = (by[r.by] ?? 0) + 1;
  }
  return { by, errors };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logStartsWith = (prefix: string) => (e: Record<string, unknown>) => typeof e.msg === 'string' && e.msg.startsWith(prefix);

/** The primary logs a change, then tells the workers over IPC: give the message a moment to land. */
const IPC_SETTLE_MS = 100;

before(async () => {
  [s1, s2, w1, w2] = await Promise.all(['s1', 's2', 'w1', 'w2'].map((n) => startHttpBackend(n)));
  ok1 = await startHttpBackend('ok1', (req) => {
    if (req.url === '/health') healthRequests.push(`${req.method} ${req.url}`);
    return false;
  });
  bad1 = await startHttpBackend('bad1', (req, res) => {
    if (req.url !== '/health') return false;
    res.writeHead(500, { 'content-length': 0 });
    res.end();
    return true;
  });
  agent = net.createServer((sock) => {
    agentConnections++;
    sock.on('error', () => sock.destroy());
    sock.end('50%\n');
  });
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  const agentPort = (agent.address() as net.AddressInfo).port;
  sink = new SMTPServer({
    authOptional: true,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, cb) {
      let body = '';
      stream.on('data', (d: Buffer) => (body += d.toString()));
      stream.on('end', () => {
        mails.push(body);
        cb();
      });
    },
  });
  sink.on('error', () => {});
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.server.address() as net.AddressInfo).port;
  port = await freePort();
  const chk = 'check inter 200ms fall 2 rise 2';
  lb = await startTslb(`
global: { workers: 2 }
defaults:
  mode: http
  timeouts: { connect: 1s, client: 5s, server: 5s }
frontends:
  - name: fe
    binds: ["127.0.0.1:${port}"]
    use_backend:
      - { backend: strict, if: "{ path_beg /strict }" }
      - { backend: weighted, if: "{ path_beg /weighted }" }
    default_backend: app
backends:
  - name: app
    servers:
      - { name: s1, address: 127.0.0.1, port: ${s1.port}, options: "${chk}" }
      - { name: s2, address: 127.0.0.1, port: ${s2.port}, options: "${chk}" }
  - name: strict
    options: ["option httpchk GET /health", "http-check expect status 200"]
    servers:
      - { name: ok1, address: 127.0.0.1, port: ${ok1.port}, options: "${chk}" }
      - { name: bad1, address: 127.0.0.1, port: ${bad1.port}, options: "${chk}" }
  - name: weighted
    servers:
      - { name: w1, address: 127.0.0.1, port: ${w1.port}, options: "weight 100 ${chk}" }
      - { name: w2, address: 127.0.0.1, port: ${w2.port}, options: "weight 100 ${chk} agent-check agent-port ${agentPort} agent-inter 200ms" }
mailers: { host: 127.0.0.1, port: ${sinkPort}, from: lb@test, to: ops@test }
`);
});

after(async () => {
  await lb?.stop();
  await Promise.all([s1, s2, ok1, bad1, w1, w2].map((b) => b?.close()));
  await new Promise<void>((r) => (agent ? agent.close(() => r()) : r()));
  await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
});

test('a stopped server is DOWN after fall checks, gets no new request, and is UP again after rise', async () => {
  const both = await burst('/', 10);
  assert.equal(both.errors, 0);
  assert.ok(both.by.s1 > 0 && both.by.s2 > 0, JSON.stringify(both.by));

  const stoppedAt = Date.now();
  await s2.close();
  const down = await lb.waitForLog(logStartsWith('Server app/s2 is DOWN'), 3000);
  assert.ok(Date.now() - stoppedAt < 1500, `DOWN after ${Date.now() - stoppedAt} ms`);
  assert.match(String(down.msg), /reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 1 active and 0 backup servers left\./);
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  const after = await burst('/', 50);
  assert.equal(after.errors, 0, 'no 5xx once s2 is DOWN');
  assert.deepEqual(after.by, { s1: 50 });

  await new Promise<void>((r) => s2.server.listen(s2.port, '127.0.0.1', r));
  await lb.waitForLog(logStartsWith('Server app/s2 is UP'), 3000);
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  const back = await burst('/', 20);
  assert.equal(back.errors, 0);
  assert.ok((back.by.s2 ?? 0) >= 5, `traffic returns to s2: ${JSON.stringify(back.by)}`);

  // The DOWN went out by mail through the configured mailers.
  await waitFor(() => mails.some((m) => m.includes('Server app/s2 is DOWN')), 3000, 'the DOWN alert mail');
});

test('httpchk with http-check expect status 200 marks a server answering 500 DOWN', async () => {
  const down = await lb.waitForLog(logStartsWith('Server strict/bad1 is DOWN'), 3000);
  assert.match(String(down.msg), /reason: Layer7 wrong status, code: 500/);
  assert.ok(!lb.logs().includes('Server strict/ok1 is DOWN'));
  assert.ok(healthRequests.length > 0 && healthRequests.every((r) => r === 'GET /health'), healthRequests.join(', '));
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  const r = await burst('/strict/x', 10);
  assert.equal(r.errors, 0);
  assert.deepEqual(r.by, { ok1: 10 });
});

test('an agent-check reply of 50% halves the weight and the split follows', async (t) => {
  // Two agent replies seen: the first one has been applied and broadcast.
  await waitFor(() => agentConnections >= 2, 3000, 'two agent checks');
  await new Promise((r) => setTimeout(r, IPC_SETTLE_MS));
  const r = await burst('/weighted', 60);
  t.diagnostic(`split ${JSON.stringify(r.by)}`);
  assert.equal(r.errors, 0);
  // Weights 100:50 → 40:20 (an equal split would be 30:30); two workers balance independently.
  assert.ok(r.by.w2 >= 14 && r.by.w2 <= 25 && r.by.w1 + r.by.w2 === 60, JSON.stringify(r.by));
});
