/**
 * A timeout of 0 means no timeout, as in HAProxy, through a real tslb: a slow server
 * is not answered 504, a slow client not 408; an idle keep-alive connection, a PROXY
 * header and a server connection (with its TLS handshake) are not cut at once. `tslb -c`
 * warns about it as HAProxy does and refuses negative timeouts; 0 and unset timeouts
 * resolve in the model as HAProxy's do.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { formatIssue, loadConfig } from '../src/config/load';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { issueCert } from './helpers/certs';
import { exchange, RawConnection } from './helpers/rawhttp';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const SLOW_SERVER_MS = 1500;

let lb: TslbProcess;
let app: HttpBackend;
/** A TLS echo server: the server connection's timer covers its handshake, which takes a few event-loop turns. */
let tlsEcho: tls.Server;
let httpPort: number;
let proxyPort: number;
let tcpPort: number;

before(async () => {
  app = await startHttpBackend('app', (req, res) => {
    if (req.url !== '/slow') return false;
    setTimeout(() => res.end('late'), SLOW_SERVER_MS);
    return true;
  });
  const cert = issueCert(['127.0.0.1']);
  tlsEcho = tls.createServer({ cert: cert.cert, key: cert.key }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((resolve) => tlsEcho.listen(0, '127.0.0.1', resolve));
  const echoPort = (tlsEcho.address() as net.AddressInfo).port;
  [httpPort, proxyPort, tcpPort] = await Promise.all([freePort(), freePort(), freePort()]);
  lb = await startTslb(`
global: { workers: 1 }
defaults:
  timeouts: { connect: 0 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${httpPort}", { address: 127.0.0.1, port: ${proxyPort}, accept_proxy: true }]
    timeouts: { client: 0, http_request: 0, http_keep_alive: 0 }
    default_backend: app
  - name: tcp
    mode: tcp
    binds: ["127.0.0.1:${tcpPort}"]
    default_backend: echo
backends:
  - name: app
    mode: http
    timeouts: { server: 0 }
    servers: [{ name: a, address: 127.0.0.1, port: ${app.port} }]
  - name: echo
    mode: tcp
    servers: [{ name: e, address: 127.0.0.1, port: ${echoPort}, options: ssl }]
`);
});

after(async () => {
  await lb?.stop();
  await app?.close();
  await new Promise((resolve) => tlsEcho?.close(resolve));
});

test('timeout server 0: a server answering after 1.5 s gives 200, not 504', async () => {
  const started = Date.now();
  const r = await exchange(httpPort, Buffer.from('GET /slow HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1, timeoutMs: 8000 });
  assert.equal(r.responses[0]?.status, 200, r.received.toString('latin1'));
  assert.equal(r.responses[0].body.toString(), 'late');
  assert.ok(Date.now() - started >= SLOW_SERVER_MS - 100);
});

test('timeout http-request 0 and client 0: a head sent in pieces over 1.2 s gives 200, not 408', async () => {
  const pieces = ['GET / HTTP/1.1\r\n', 'Host: h\r\n', 'X-Slow: 1\r\n', '\r\n'].map((p) => Buffer.from(p));
  const r = await exchange(httpPort, Buffer.concat(pieces), { pieces, pauseMs: 400, until: (rs) => rs.length === 1, timeoutMs: 8000 });
  assert.equal(r.responses[0]?.status, 200, r.received.toString('latin1'));
  assert.equal(r.responses[0].body.toString(), 'hello from app\n');
});

test('no keep-alive timeout: an idle connection still serves its next request', async () => {
  const c = await RawConnection.open(httpPort);
  try {
    c.send('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal((await c.next())?.status, 200);
    // Several sweeps of the session timer (250 ms) pass while idle.
    assert.equal(await c.closedWithin(800), false);
    c.send('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal((await c.next())?.status, 200);
  } finally {
    c.destroy();
  }
});

test('accept-proxy bind with no http-request timeout: a PROXY header sent late is still read', async () => {
  const pieces = ['PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'].map((p) => Buffer.from(p));
  const r = await exchange(proxyPort, Buffer.concat(pieces), { pieces, pauseMs: 300, until: (rs) => rs.length === 1, timeoutMs: 5000 });
  assert.equal(r.responses[0]?.status, 200, r.received.toString('latin1'));
});

test('timeout connect 0: a tcp session reaches its server, over TLS', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(tcpPort, '127.0.0.1', () => s.write('ping'));
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 3000);
    s.setEncoding('latin1');
    s.on('data', (d) => {
      got += d;
      if (got === 'ping') {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
  assert.equal(reply, 'ping');
});

function write(yaml: string): string {
  const file = path.join(tempDir(), 'lb.yaml');
  writeFileSync(file, yaml);
  return file;
}

function check(yaml: string): ReturnType<typeof runCli> {
  return runCli(['-c', '-f', write(yaml)]);
}

test('a timeout of 0 passes -c with HAProxy\'s "missing timeouts" warning at the 0', async () => {
  const r = await check(`
defaults:
  timeouts: { connect: 0 }
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
    timeouts: { client: 0, http_request: 0 }
backends:
  - name: app
    timeouts: { server: 0, queue: 0, http_keep_alive: 0 }
    servers:
      - { name: a, address: 127.0.0.1, port: 9000 }
`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Configuration file is valid/);
  assert.match(r.stderr, /lb\.yaml:3:\d+: warning: defaults\.timeouts\.connect: missing timeouts for backend "app": connect 0 means no timeout/);
  assert.match(r.stderr, /lb\.yaml:8:\d+: warning: frontends\[0\]\.timeouts\.client: missing timeouts for frontend "web": client 0 means no timeout/);
  assert.match(r.stderr, /lb\.yaml:11:\d+: warning: backends\[0\]\.timeouts\.server: missing timeouts for backend "app": server 0 means no timeout/);
  // Timeouts that fall back (http_request to client...) warn only through the one they fall back to.
  assert.doesNotMatch(r.stderr, /http_request|queue|http_keep_alive/);
});

test('0 or unset timeouts resolve as in HAProxy: 0 is none for connect/client/server, else the fallback', () => {
  const file = write(`
defaults:
  timeouts: { connect: 3s, client: 0, http_request: 0, queue: 0 }
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
  - name: strict
    binds: ["127.0.0.1:18081"]
    default_backend: app
    timeouts: { client: 20s, http_keep_alive: 0 }
backends:
  - name: app
    timeouts: { connect: 1s, server: 0, server_fin: 0 }
    servers:
      - { name: a, address: 127.0.0.1, port: 9000 }
`);
  const r = loadConfig([file]);
  assert.ok(r.model, r.errors.map(formatIssue).join('\n'));
  const [web, strict] = r.model.frontends;
  assert.deepEqual([web.timeouts.client, web.timeouts.httpRequest, web.timeouts.httpKeepAlive, web.timeouts.clientFin], [0, 0, 0, 0]);
  // http_request 0 falls back to client; http_keep_alive 0 to http_request.
  assert.deepEqual([strict.timeouts.httpRequest, strict.timeouts.httpKeepAlive], [20_000, 20_000]);
  const app = r.model.backends[0].timeouts;
  // queue 0 falls back to the backend's own connect (HAProxy: default queue, this connect, default connect).
  assert.deepEqual([app.connect, app.queue, app.server, app.serverFin, app.tunnel, app.check], [1000, 1000, 0, 0, 0, 0]);
});

test('a negative timeout is refused by -c with its path', async () => {
  const r = await check(`
frontends:
  - name: web
    binds: ["127.0.0.1:18080"]
    default_backend: app
    timeouts: { client: -1 }
backends:
  - name: app
    timeouts: { connect: "-5s" }
    servers:
      - { name: a, address: 127.0.0.1, port: 9000 }
`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /lb\.yaml:6:\d+: frontends\[0\]\.timeouts\.client: must be 0\.\.2147483647/);
});
