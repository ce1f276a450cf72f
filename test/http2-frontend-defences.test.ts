/**
 * HTTP/2 through a real tslb (h2c bind): a client's RST_STREAM aborts the exchange and
 * closes the server connection; the frame layer's defences hold in the worker (rapid
 * reset, CONTINUATION flood, a zero-window stall cut at `timeout client` by the session
 * tick), each while a well-behaved client keeps being served; an HPACK bomb is answered
 * 431 and counted, logged and captured as HTTP/1 does an oversized head; `show sess`
 * lists h2 streams; tune.h2.header-table-size gives clients a larger HPACK table; a
 * reload under h2 load sends GOAWAY and loses no stream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { h2Bystander } from './helpers/h2client';
import { RawH2Client } from './helpers/h2raw';
import { unixCommand } from './helpers/runtime-api';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import {
  E_CANCEL, E_COMPRESSION_ERROR, E_ENHANCE_YOUR_CALM, F_END_HEADERS, F_END_STREAM, S_INITIAL_WINDOW_SIZE, T_HEADERS,
} from '../src/http2/frames';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let lb: TslbProcess;
let app: HttpBackend;
let port = 0;
const dir = tempDir('tslb-h2-def-');
const logFile = path.join(dir, 'access.log');
const sock = path.join(dir, 'api.sock');
/** Requests to /hang: held open (never answered) until the connection closes; `closed` counts those closes. */
const hanging = { received: 0, closed: 0 };


function config(delayMs: number): string {
  return `
global:
  workers: 1
  access_log: ${logFile}
  options: ["tune.h2.header-table-size 8192"]
runtime_api: { socket: ${sock} }
frontends:
  - name: h2
    mode: http
    binds: [{ address: 127.0.0.1, port: ${port}, h2c: true }]
    default_backend: app
    timeouts: { client: 1s }
    log: { format: httplog }
backends:
  - name: app
    mode: http
    timeouts: { server: 10s }
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port}, maxconn: 1000 }]
    # delay ${delayMs}
`;
}

before(async () => {
  app = await startHttpBackend('app', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/hang') {
      hanging.received++;
      req.socket.once('close', () => hanging.closed++);
      return true;
    }
    if (req.url?.startsWith('/bytes')) {
      const n = Number(req.url.slice('/bytes?n='.length));
      res.writeHead(200, { 'content-length': n });
      res.end(Buffer.alloc(n, 0x62));
      return true;
    }
    if (req.url === '/slowish') {
      setTimeout(() => res.end('slowish'), 50);
      return true;
    }
    return false;
  });
  cleanups.push(() => app.close());
  port = await freePort();
  lb = await startTslb(config(0));
  cleanups.push(() => lb.stop());
});

function logLines(): string[] {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${logLines().join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connect(): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  return s;
}

function get(session: http2.ClientHttp2Session, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': p });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.setTimeout(10000, () => req.close(http2.constants.NGHTTP2_CANCEL));
  });
}

/** A well-behaved client on its own connection: requests in a loop until stopped; counts 200s. */
function bystander(): { stop(): Promise<number> } {
  const b = h2Bystander(port, '/');
  // Stopped by the test, or at the end of the file if an assertion failed first.
  cleanups.push(() => b.stop());
  return b;
}

async function rawClient(settings: number[] = []): Promise<RawH2Client> {
  const c = await RawH2Client.connect(port, settings);
  cleanups.push(() => c.close());
  return c;
}

test('a client RST_STREAM aborts the exchange: the server connection is closed, the log says CH, the connection keeps serving', async () => {
  const session = connect();
  cleanups.push(() => session.destroy());
  const before = hanging.closed;
  const req = session.request({ ':path': '/hang' });
  req.on('error', () => undefined);
  await until('the request at the server', () => hanging.received > before);
  req.close(http2.constants.NGHTTP2_CANCEL);
  await until('the server connection closed', () => hanging.closed > before);
  await until('the log line', () => logLines().some((l) => l.includes('"GET /hang HTTP/2.0"')));
  assert.match(logLines().find((l) => l.includes('"GET /hang HTTP/2.0"'))!, / -1 .* CH-- /);
  assert.deepEqual(await get(session, '/'), { status: 200, body: 'hello from app\n' });
});

test('rapid reset (CVE-2023-44487) through tslb: streams opened and reset in a loop get ENHANCE_YOUR_CALM; their server connections are closed; another client is served', async () => {
  const other = bystander();
  const c = await rawClient();
  const hangsBefore = hanging.received;
  const closedBefore = hanging.closed;
  await c.rapidReset('/hang');
  const goaway = await c.waitGoaway();
  assert.equal(goaway.code, E_ENHANCE_YOUR_CALM);
  await c.closedPromise;
  // Streams reset before a server connection was made never reach it; those that did are closed.
  await until('every server connection of the reset streams closed', () => hanging.closed - closedBefore >= hanging.received - hangsBefore);
  assert.ok((await other.stop()) > 0, 'the other client was served meanwhile');
});

test('CONTINUATION flood (CVE-2024-27316) through tslb: the header block is capped before decoding; another client is served', async () => {
  const other = bystander();
  const c = await rawClient();
  await c.continuationFlood();
  assert.deepEqual(await c.waitGoaway(), { lastStreamId: 0, code: E_ENHANCE_YOUR_CALM, debug: 'header block too large' });
  await c.closedPromise;
  assert.ok((await other.stop()) > 0);
});

test('zero-window stall through tslb: a stream that cannot send for `timeout client` (1s) is reset, its server connection dropped; another client is served', async () => {
  const other = bystander();
  // A window of 0: the response head goes out, no DATA can.
  const c = await rawClient([S_INITIAL_WINDOW_SIZE, 0]);
  const t0 = Date.now();
  c.request(1, '/bytes?n=100000');
  c.send();
  const code = await c.waitRst(1, 8000);
  const waited = Date.now() - t0;
  assert.equal(code, E_CANCEL);
  // Deadlines run on the worker's coarse clock and a 250 ms tick.
  assert.ok(waited >= 500 && waited < 6000, `reset after ${waited} ms`);
  assert.ok((await other.stop()) > 0);
});

/** An HPACK integer (RFC 7541 §5.1) with `flags` in the first byte's high bits. */
function hpackInt(prefixBits: number, flags: number, value: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return Buffer.from(out);
}

/** A literal field with incremental indexing and a new name (§6.2.1): the decoder stores it. */
function indexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackInt(7, 0, name.length), Buffer.from(name), hpackInt(7, 0, value.length), Buffer.from(value)]);
}

test('HPACK bomb through tslb: 431, counted as a request error, logged <BADREQ> and captured for show errors as HTTP/1 does; the connection stays in sync', async () => {
  const c = await rawClient();
  // One 4,000-byte field stored in the table, then 100 one-byte references to it: 400 KB decoded, over the 64 KiB limit.
  const pseudo = c.block([[':method', 'GET'], [':scheme', 'http'], [':path', '/bomb'], [':authority', 'a']]);
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 1, Buffer.concat([pseudo, indexed('x-bomb', 'a'.repeat(4000)), Buffer.alloc(100, 0x80 | 62)]));
  c.send();
  const refused = await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 1);
  assert.deepEqual(refused.fields![0], [':status', '431']);
  // The entry is still index 62 on both sides: a request referring to it once is served.
  const fine = c.block([[':method', 'GET'], [':scheme', 'http'], [':path', '/after-bomb'], [':authority', 'a']]);
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 3, Buffer.concat([fine, Buffer.from([0x80 | 62])]));
  c.send();
  assert.equal((await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 3)).fields![0][1], '200');
  await until('the 431 log line', () => logLines().some((l) => / 431 /.test(l)));
  const line = logLines().find((l) => / 431 /.test(l))!;
  assert.match(line, / h2 h2\/<NOSRV> .* 431 .* PR-- .*"<BADREQ>"$/);
  const errors = await unixCommand(sock, 'show errors\n');
  assert.match(errors, /frontend h2 \(#\d+\): invalid request\n/);
  assert.match(errors, /GET \/bomb HTTP\/2\.0\\r\\n/);
  assert.match(errors, /x-bomb: aaaa/);
  // Counted as HTTP/1 counts a refused head: ereq and hrsp_4xx (workers report their counters periodically).
  const frontendStat = async (column: string): Promise<number> => {
    const stat = (await unixCommand(sock, 'show stat h2 1 -1\n')).split('\n');
    const row = stat.find((l) => l.startsWith('h2,FRONTEND,'))!.split(',');
    return Number(row[stat[0].replace(/^# /, '').split(',').indexOf(column)]);
  };
  let ereq = 0;
  for (let k = 0; k < 50 && ereq < 1; k++) {
    ereq = await frontendStat('ereq');
    if (ereq < 1) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ereq, 1);
  assert.ok((await frontendStat('hrsp_4xx')) >= 1);
});

test('show sess lists each live h2 stream with its frontend, backend and server (one line per stream, as HAProxy)', async () => {
  const session = connect();
  cleanups.push(() => session.destroy());
  const before = hanging.received;
  const reqs = [session.request({ ':path': '/hang' }), session.request({ ':path': '/hang' })];
  for (const r of reqs) r.on('error', () => undefined);
  await until('both requests at the server', () => hanging.received >= before + 2);
  const out = await unixCommand(sock, 'show sess frontend h2\n');
  const lines = out.split('\n').filter((l) => /fe=h2 be=app srv=s1 /.test(l));
  assert.equal(lines.length, 2, out);
  for (const l of lines) assert.match(l, /^0x[0-9a-f]+: proto=tcpv4 src=127\.0\.0\.1:\d+ fe=h2 be=app srv=s1 age=\d+s$/);
  assert.notEqual(lines[0].split(':')[0], lines[1].split(':')[0], 'each stream has its own id');
  const closedBefore = hanging.closed;
  for (const r of reqs) r.close(http2.constants.NGHTTP2_CANCEL);
  await until('both server connections closed', () => hanging.closed >= closedBefore + 2);
  // The connection is still open, without a stream: nothing to list.
  assert.doesNotMatch(await unixCommand(sock, 'show sess frontend h2\n'), /fe=h2 be=app/);
  session.destroy();
});

test('tune.h2.header-table-size 8192 (a global options line): advertised in SETTINGS, a client may fill 8 KiB of HPACK table, not more', async () => {
  const s = connect();
  const settings = await new Promise<http2.Settings>((resolve) => s.once('remoteSettings', resolve));
  s.destroy();
  assert.equal(settings.headerTableSize, 8192);
  const c = await rawClient();
  const pseudo = (p: string) => c.block([[':method', 'GET'], [':scheme', 'http'], [':path', p], [':authority', 'a']]);
  // Two 3,000-byte entries: both stay in an 8 KiB table (a 4 KiB one would have evicted the first).
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 1, Buffer.concat([hpackInt(5, 0x20, 8192), pseudo('/fill'), indexed('x-a', 'a'.repeat(3000)), indexed('x-b', 'b'.repeat(3000))]));
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 3, Buffer.concat([pseudo('/older'), Buffer.from([0x80 | 63])]));
  c.send();
  assert.equal((await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 1)).fields![0][1], '200');
  assert.equal((await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 3)).fields![0][1], '200');
  // A size update past the setting is a COMPRESSION_ERROR.
  const over = await rawClient();
  over.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 1, Buffer.concat([hpackInt(5, 0x20, 8193), pseudo('/over')]));
  over.send();
  assert.equal((await over.waitGoaway()).code, E_COMPRESSION_ERROR);
});

test('reload (SIGHUP) under h2 load: the draining worker sends GOAWAY, streams in flight finish, none is lost', async () => {
  const before = app.hits;

  let ok = 0;
  let refused = 0;
  const failures: string[] = [];
  let goaways = 0;
  let running = true;
  // Four connections x 5 streams of a 50 ms request, reconnecting after GOAWAY; capped at 20 s.
  const deadline = Date.now() + 20000;
  const loops = Array.from({ length: 4 }, async () => {
    let session = connect();
    let goneAway = false;
    const onGoaway = (): void => {
      goaways++;
      goneAway = true;
    };
    session.on('goaway', onGoaway);
    while (running && Date.now() < deadline) {
      if (goneAway || session.closed || session.destroyed) {
        session.close();
        session = connect();
        goneAway = false;
        session.on('goaway', onGoaway);
      }
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => get(session, '/slowish')));
      for (const r of results) {
        if (r.status === 'fulfilled' && r.value.status === 200 && r.value.body === 'slowish') ok++;
        // Streams the server never took (opened after its GOAWAY) are the client's to retry.
        else if (r.status === 'rejected' && /GOAWAY|REFUSED|session/i.test(String(r.reason))) refused++;
        else failures.push(r.status === 'fulfilled' ? `status ${r.value.status}` : String(r.reason));
      }
    }
    session.close();
  });
  await new Promise((r) => setTimeout(r, 700));
  lb.writeConfig(config(1));
  process.kill(lb.pid, 'SIGHUP');
  await lb.waitForLog((e) => e.event === 'reloaded', 15000);
  await new Promise((r) => setTimeout(r, 1000));
  running = false;
  await Promise.all(loops);
  assert.deepEqual(failures, []);
  assert.ok(goaways >= 1, 'the old worker sent GOAWAY');
  assert.ok(ok > 50, `streams completed: ${ok}`);
  // Every request that reached the server was answered to the client: no stream was lost in flight.
  assert.equal(app.hits - before, ok, `${refused} streams refused before the server saw them`);
});
