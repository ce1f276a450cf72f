/**
 * HTTP/2 through a real tslb (h2c bind): a client's RST_STREAM aborts the exchange and
 * closes the server connection; the frame layer's defences hold in the worker (rapid
 * reset, CONTINUATION flood, a zero-window stall cut at `timeout client` by the session
 * tick), each while a well-behaved client keeps being served; a reload under h2 load
 * sends GOAWAY and loses no stream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { RawH2Client } from './helpers/h2raw';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { E_CANCEL, E_ENHANCE_YOUR_CALM, S_INITIAL_WINDOW_SIZE, T_CONTINUATION, T_HEADERS } from '../src/http2/frames';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let lb: TslbProcess;
let app: HttpBackend;
let port = 0;
const logFile = path.join(tempDir('tslb-h2-def-'), 'access.log');
/** Requests to /hang: held open (never answered) until the connection closes; `closed` counts those closes. */
const hanging = { received: 0, closed: 0 };


function config(delayMs: number): string {
  return `
global:
  workers: 1
  access_log: ${logFile}
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
  // Stopped by the test, or at the end of the file if an assertion failed first.
  const session = connect();
  let ok = 0;
  let running = true;
  const loop = (async () => {
    for (let n = 0; running && n < 100000; n++) {
      try {
        if ((await get(session, '/')).status === 200) ok++;
      } catch {
        return;
      }
    }
  })();
  cleanups.push(() => {
    running = false;
    return loop;
  });
  return {
    async stop() {
      running = false;
      await loop;
      session.destroy();
      return ok;
    },
  };
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
  let id = 1;
  // 1,000 HEADERS + RST_STREAM pairs in batches of 50 (bounded: the connection ends long before).
  for (let batch = 0; batch < 20 && !c.closed; batch++) {
    for (let k = 0; k < 50; k++, id += 2) {
      c.request(id, '/hang');
      c.out.rstStream(id, E_CANCEL);
    }
    c.send();
    await new Promise((r) => setTimeout(r, 5));
  }
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
  c.out.frame(T_HEADERS, 0, 1, c.block([[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]));
  c.send();
  const fragment = Buffer.alloc(16384, 0x40);
  for (let k = 0; k < 100 && !c.closed; k++) {
    c.out.frame(T_CONTINUATION, 0, 1, fragment);
    c.send();
    await new Promise((r) => setImmediate(r));
  }
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
