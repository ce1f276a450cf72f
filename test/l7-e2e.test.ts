/**
 * The L7 path through a real 2-worker tslb process: WebSocket tunnelling, and each
 * error status with HAProxy's default body (400, 408, 431, 502, 503, 504).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

let lb: TslbProcess;
let port: number;
const servers: net.Server[] = [];

/** One raw request/response exchange; resolves with everything the proxy sent before closing or `waitMs`. */
function raw(bytes: string, waitMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    setTimeout(() => {
      s.destroy();
      resolve(out);
    }, waitMs);
  });
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

before(async () => {
  const okPort = await listen(http.createServer((_req, res) => res.end('ok')));
  const wss = new WebSocketServer({ noServer: true });
  const wsServer = http.createServer();
  wsServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m, bin) => ws.send(m, { binary: bin }))));
  const wsPort = await listen(wsServer);
  // Answers with garbage instead of an HTTP response.
  const badPort = await listen(net.createServer((s) => s.on('data', () => s.end('NOT HTTP AT ALL\r\n\r\n'))));
  // Never answers.
  const silentPort = await listen(net.createServer((s) => s.on('error', () => undefined)));
  const closedPort = await freePort();
  port = await freePort();
  lb = await startTslb(`
global: { workers: 2 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    timeouts: { http_request: 500ms }
    use_backend:
      - { backend: ws, if: "path_beg /ws" }
      - { backend: bad, if: "path_beg /bad" }
      - { backend: silent, if: "path_beg /silent" }
      - { backend: closed, if: "path_beg /closed" }
    default_backend: ok
backends:
  - { name: ok, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${okPort} }] }
  - { name: ws, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${wsPort} }] }
  - { name: bad, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${badPort} }] }
  - name: silent
    mode: http
    timeouts: { server: 500ms }
    servers: [{ name: s1, address: 127.0.0.1, port: ${silentPort} }]
  - { name: closed, mode: http, retries: 1, servers: [{ name: s1, address: 127.0.0.1, port: ${closedPort} }] }
`);
});

after(async () => {
  await lb?.stop();
  for (const s of servers) s.close();
});

test('WebSocket messages are tunnelled both ways', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const replies: string[] = [];
  const got = new Promise<void>((resolve) =>
    ws.on('message', (m) => {
      replies.push(String(m));
      if (replies.length === 3) resolve();
    }),
  );
  for (const m of ['one', 'two', 'x'.repeat(100_000)]) ws.send(m);
  await got;
  assert.deepEqual(replies.map((r) => r.length), [3, 3, 100_000]);
  ws.close();
});

test('400 on a malformed request, with HAProxy\'s body', async () => {
  const out = await raw('GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 400 Bad request\r\n/);
  assert.match(out, /Your browser sent an invalid request\./);
});

test('431 on an oversized head', async () => {
  const out = await raw(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 431 /);
});

test('408 when the request head does not arrive in time (slowloris)', async () => {
  const out = await raw('GET / HTTP/1.1\r\nHost: a\r\n', 3000);
  assert.match(out, /^HTTP\/1\.1 408 Request Time-out\r\n/);
  assert.match(out, /Your browser didn't send a complete request in time\./);
});

test('502 on an invalid server response', async () => {
  const out = await raw('GET /bad HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.match(out, /The server returned an invalid or incomplete response\./);
});

test('503 when no server can be reached', async () => {
  const out = await raw('GET /closed HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(out, /No server is available to handle this request\./);
});

test('504 on timeout server', async () => {
  const out = await raw('GET /silent HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 504 Gateway Time-out\r\n/);
  assert.match(out, /The server didn't respond in time\./);
});

test('a normal request still works on the same proxy', async () => {
  const out = await raw('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
});
