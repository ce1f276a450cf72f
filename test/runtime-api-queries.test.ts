/**
 * Runtime API commands answered by the workers (Supervisor.query), through a real
 * 2-worker tslb and `socat`: show sess, show table / clear table, show errors,
 * set maxconn frontend|global (held connections start when a slot frees).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startEchoBackend, startHttpBackend } from './helpers/backends';
import { hasSocat, socat } from './helpers/runtime-api';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

/** Sends raw bytes, resolves with everything the peer sent until it closed (or 2 s). */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
    setTimeout(() => s.destroy(), 2000).unref();
  });
}

/** An open TCP connection through tslb. */
async function tcpClient(port: number) {
  const s = net.connect(port, '127.0.0.1');
  cleanups.push(() => s.destroy());
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.setEncoding('latin1');
  let buffered = '';
  s.on('data', (d: string) => (buffered += d));
  s.on('error', () => undefined);
  const take = () => {
    const out = buffered;
    buffered = '';
    return out;
  };
  return {
    socket: s,
    /** Writes `text`, resolves with what came back once it is echoed, or after `ms`. */
    async echo(text: string, ms: number): Promise<string> {
      s.write(text);
      return this.expect(text, ms);
    },
    /** Resolves with what came back once it holds `text`, or after `ms`. */
    async expect(text: string, ms: number): Promise<string> {
      const deadline = Date.now() + ms;
      while (!buffered.includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return take();
    },
    /** What arrived so far. */
    take,
  };
}

let lb: TslbProcess;
let sock = '';
const ports = { web: 0, raw: 0, bad: 0 };

before(async () => {
  if (!hasSocat) return;
  const a = await startHttpBackend('a', (req, res) => {
    // /slow answers after 1.5 s (a live session to show).
    if (req.url !== '/slow') return false;
    setTimeout(() => res.end('slow'), 1500).unref();
    return true;
  });
  const echo = await startEchoBackend();
  // A server whose response is not HTTP.
  const bad = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end('HTTP/1.1 abc nonsense\r\n\r\n'));
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  cleanups.push(() => a.close(), () => echo.close(), () => bad.close());
  ports.web = await freePort();
  ports.raw = await freePort();
  ports.bad = await freePort();
  sock = path.join(tempDir('tslb-queries-'), 'stats');
  lb = await startTslb(`
global: { workers: 2 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${ports.web}"], default_backend: app }
  - { name: raw, mode: tcp, binds: ["127.0.0.1:${ports.raw}"], default_backend: echo }
  - { name: badweb, mode: http, binds: ["127.0.0.1:${ports.bad}"], default_backend: bad }
backends:
  - name: app
    mode: http
    stick_on: hdr(x-user)
    stick_table: type string size 100 expire 30m
    servers:
      - { name: s1, address: 127.0.0.1, port: ${a.port} }
  - name: echo
    mode: tcp
    servers:
      - { name: e1, address: 127.0.0.1, port: ${echo.port} }
  - name: bad
    mode: http
    servers:
      - { name: b1, address: 127.0.0.1, port: ${(bad.address() as net.AddressInfo).port} }
runtime_api: { socket: ${sock}, level: admin }
`);
  cleanups.push(() => lb.stop());
});

test('show table lists and dumps the stick table (held by the primary); clear table removes entries', { skip: !hasSocat && 'socat is not installed' }, async () => {
  for (const user of ['alice', 'bob', 'alice']) {
    const res = await request(`http://127.0.0.1:${ports.web}/`, { headers: { 'x-user': user }, reset: true });
    await res.body.text();
  }
  assert.equal(await socat(sock, 'show table\n'), '# table: app, type: string, size:100, used:2\n\n');
  const dump = await socat(sock, 'show table app\n');
  const lines = dump.trimEnd().split('\n');
  assert.equal(lines[0], '# table: app, type: string, size:100, used:2');
  assert.deepEqual(lines.slice(1).map((l) => /key=(\w+) /.exec(l)?.[1]).sort(), ['alice', 'bob']);
  for (const l of lines.slice(1)) {
    assert.match(l, /^0x[0-9a-f]{12}: key=\w+ use=0 exp=\d+ shard=0 server_id=1 server_key=s1$/);
    const exp = Number(/exp=(\d+)/.exec(l)![1]);
    assert.ok(exp > 29 * 60_000 && exp <= 30 * 60_000, l);
  }
  // As HAProxy: the head counts the whole table; an absent key prints nothing.
  assert.match(await socat(sock, 'show table app key bob\n'), /^# table: app, .*used:2\n0x[0-9a-f]+: key=bob /);
  assert.equal(await socat(sock, 'show table app key nobody\n'), '\n');
  assert.equal(await socat(sock, 'show table nope\n'), 'No such table\n\n');

  assert.equal(await socat(sock, 'clear table app key alice\n'), '\n');
  assert.match(await socat(sock, 'show table app\n'), /used:1\n0x[0-9a-f]+: key=bob /);
  assert.equal(await socat(sock, 'clear table app\n'), '\n');
  assert.equal(await socat(sock, 'show table\n'), '# table: app, type: string, size:100, used:0\n\n');
  assert.equal(await socat(sock, 'clear table echo\n'), 'No such table\n\n');
});

test('show sess lists live HTTP and TCP sessions with their frontend, backend and server', { skip: !hasSocat && 'socat is not installed' }, async () => {
  const tcp = await tcpClient(ports.raw);
  assert.equal(await tcp.echo('ping', 2000), 'ping');
  const slow = request(`http://127.0.0.1:${ports.web}/slow`, { reset: true }).then((r) => r.body.text());
  await new Promise((r) => setTimeout(r, 300));
  const out = await socat(sock, 'show sess\n');
  assert.match(out, /^0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=raw be=echo srv=e1 age=\d+s$/m);
  assert.match(out, /^0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=web be=app srv=s1 age=\d+s$/m);
  const ids = [...out.matchAll(/^(0x[0-9a-f]+):/gm)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  const onlyRaw = await socat(sock, 'show sess frontend raw\n');
  assert.match(onlyRaw, /fe=raw/);
  assert.doesNotMatch(onlyRaw, /fe=web/);
  assert.match(await socat(sock, 'show sess server echo/e1\n'), /srv=e1/);
  assert.equal(await socat(sock, 'show sess older 3600\n'), '\n');
  assert.equal(await socat(sock, 'show sess frontend nope\n'), 'No such frontend.\n\n');
  assert.equal(await slow, 'slow');
  tcp.socket.destroy();
});

test('show errors shows the last invalid request per frontend and response per backend', { skip: !hasSocat && 'socat is not installed' }, async () => {
  assert.match(await raw(ports.web, 'GET / HTTP/1.1\r\nBad Header\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await raw(ports.bad, 'GET /x HTTP/1.1\r\nHost: b\r\n\r\n'), /^HTTP\/1\.1 502 /);
  const out = await socat(sock, 'show errors\n');
  assert.match(out, /^Total events captured on \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] : 2\n/);
  assert.match(out, /\n\[[^\]]+\] frontend web \(#\d+\): invalid request\n  backend <NONE> \(#-1\), server <NONE> \(#-1\), event #\d+, src 127\.0\.0\.1:\d+\n/);
  assert.match(out, /\n  00000  GET \/ HTTP\/1\.1\\r\\n\n  00016  Bad Header\\r\\n\n/);
  assert.match(out, /\n\[[^\]]+\] backend bad \(#\d+\): invalid response\n  frontend badweb \(#\d+\), server b1 \(#1\), event #\d+, src 127\.0\.0\.1:\d+\n/);
  assert.match(out, /\n  00000  HTTP\/1\.1 abc nonsense\\r\\n\n/);
  const onlyResponses = await socat(sock, 'show errors response\n');
  assert.doesNotMatch(onlyResponses, /invalid request/);
  assert.match(onlyResponses, /invalid response/);
  assert.match(await socat(sock, 'show errors web\n'), /frontend web .*invalid request/);
  assert.equal(await socat(sock, 'show errors nope\n'), 'No such proxy.\n\n');
});

test('set maxconn frontend holds connections over the limit until one ends (both workers)', { skip: !hasSocat && 'socat is not installed' }, async () => {
  assert.equal(await socat(sock, 'set maxconn frontend raw 1\n'), '\n');
  assert.match(await socat(sock, 'show stat raw 1 -1\n'), /\nraw,FRONTEND,,,\d+,\d+,1,/);
  // Several connections: with SO_REUSEPORT some land on the other worker, which must wait too.
  const first = await tcpClient(ports.raw);
  assert.equal(await first.echo('one', 2000), 'one');
  const waiting = [await tcpClient(ports.raw), await tcpClient(ports.raw), await tcpClient(ports.raw)];
  for (const w of waiting) assert.equal(await w.echo('held', 150), '', 'held while the frontend is full');
  first.socket.destroy();
  // One at a time: each starts when the one before it ends.
  const remaining = [...waiting];
  while (remaining.length) {
    let started: typeof waiting = [];
    for (let t = 0; started.length === 0 && t < 100; t++) {
      await new Promise((r) => setTimeout(r, 20));
      started = remaining.filter((w) => w.take().includes('held'));
    }
    assert.equal(started.length, 1, `one of ${remaining.length} started`);
    remaining.splice(remaining.indexOf(started[0]), 1);
    await new Promise((r) => setTimeout(r, 50));
    for (const w of remaining) assert.equal(w.take(), '', 'the others still wait');
    started[0].socket.destroy();
  }
  assert.equal(await socat(sock, 'set maxconn frontend raw 0\n'), '\n');
  const free = [await tcpClient(ports.raw), await tcpClient(ports.raw)];
  for (const c of free) assert.equal(await c.echo('free', 2000), 'free');
  for (const c of free) c.socket.destroy();

  assert.equal(await socat(sock, 'set maxconn frontend nope 1\n'), 'No such frontend.\n\n');
  assert.equal(await socat(sock, 'set maxconn frontend raw -1\n'), 'Value out of range.\n\n');
  assert.equal(await socat(sock, 'set maxconn frontend raw\n'), 'Integer value expected.\n\n');
});

test('set maxconn global limits every frontend together; 0 restores the configured limit', { skip: !hasSocat && 'socat is not installed' }, async () => {
  // Every client connection counts (HAProxy's CurrConns): the earlier tests closed theirs.
  assert.equal(await socat(sock, 'set maxconn global 1\n'), '\n');
  assert.match(await socat(sock, 'show info\n'), /\nMaxconn: 1\n/);
  const first = await tcpClient(ports.raw);
  assert.equal(await first.echo('one', 2000), 'one');
  const second = await tcpClient(ports.raw);
  assert.equal(await second.echo('two', 150), '');
  first.socket.destroy();
  assert.equal(await second.expect('two', 2000), 'two');
  second.socket.destroy();
  assert.equal(await socat(sock, 'set maxconn global 0\n'), '\n');
  assert.match(await socat(sock, 'show info\n'), /\nMaxconn: 0\n/);
  assert.equal(await socat(sock, 'set maxconn global x\n'), 'Expects an integer value.\n\n');
});
