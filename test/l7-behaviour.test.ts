/** L7 session behaviours: streaming, chunked/trailers, HEAD/204, errors, XFF, pipelining, WebSocket, draining. */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { httpModel, server, startL7Proxy, type L7Proxy } from './helpers/l7-model';
import { exchange, header, RawConnection, RecordingBackend } from './helpers/rawhttp';
import { defaultErrorResponse } from '../src/http1/errors';

const MiB = 1024 * 1024;

function defaultBody(status: number): string {
  return defaultErrorResponse(status).toString('latin1').split('\r\n\r\n')[1];
}

describe('L7 streaming bodies', () => {
  let be: HttpBackend;
  let proxy: L7Proxy;
  before(async () => {
    // Echoes the request body back, streamed (chunked response), with the request's sha256 as a trailer.
    be = await startHttpBackend('echo', (req, res) => {
      const hash = crypto.createHash('sha256');
      res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-sha256' });
      req.on('data', (d: Buffer) => {
        hash.update(d);
        if (!res.write(d)) {
          req.pause();
          res.once('drain', () => req.resume());
        }
      });
      req.on('end', () => {
        res.addTrailers({ 'x-sha256': hash.digest('hex') });
        res.end();
      });
      return true;
    });
    proxy = await startL7Proxy(httpModel([server('echo', be.port)]));
  });
  after(async () => {
    await proxy.close();
    await be.close();
  });

  it('streams a 5 MiB chunked upload and chunked download with trailers, sha256 equal', async () => {
    const payload = crypto.randomBytes(5 * MiB);
    const want = crypto.createHash('sha256').update(payload).digest('hex');
    const got = await new Promise<{ sha: string; trailer: string | undefined }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        const h = crypto.createHash('sha256');
        res.on('data', (d) => h.update(d));
        res.on('end', () => resolve({ sha: h.digest('hex'), trailer: res.trailers['x-sha256'] }));
      });
      req.on('error', reject);
      for (let i = 0; i < payload.length; i += 256 * 1024) req.write(payload.subarray(i, i + 256 * 1024));
      req.end();
    });
    assert.equal(got.sha, want);
    assert.equal(got.trailer, want);
  });

  it('streams a 5 MiB Content-Length upload', async () => {
    const payload = crypto.randomBytes(5 * MiB);
    const want = crypto.createHash('sha256').update(payload).digest('hex');
    const sha = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'PUT', path: '/', headers: { 'content-length': payload.length } }, (res) => {
        const h = crypto.createHash('sha256');
        res.on('data', (d) => h.update(d));
        res.on('end', () => resolve(h.digest('hex')));
      });
      req.on('error', reject);
      req.end(payload);
    });
    assert.equal(sha, want);
  });
});

describe('L7 framing and errors with a raw backend', () => {
  const rec = new RecordingBackend();
  let proxy: L7Proxy;
  let closedPort: number;
  before(async () => {
    await rec.start();
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    proxy = await startL7Proxy(
      httpModel([server('r', rec.port)], {
        timeouts: { httpRequest: 300, server: 400 },
        frontend: { maxHeaderBytes: 1024, forwardFor: { header: 'X-Forwarded-For', ifNone: true, except: ['10.0.0.0/8', '::1'] } },
      }),
    );
  });
  after(async () => {
    await proxy.close();
    await rec.close();
  });

  it('forwards chunked responses with trailers byte for byte less extensions, then keeps alive', async () => {
    const body = '4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: t\r\n\r\n';
    rec.reply = () => ({ bytes: Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n${body}`) });
    const r = await exchange(proxy.port, Buffer.from('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 2 });
    assert.equal(r.responses.length, 2);
    for (const res of r.responses) {
      assert.equal(res.body.toString(), 'abcdefg');
      assert.deepEqual(res.trailers, [['X-Trailer', 't']]);
      assert.ok(res.raw.toString().endsWith(body.replace(';x=y', '')));
      assert.deepEqual(header(res, 'x-hop'), []);
      assert.deepEqual(header(res, 'connection'), []);
    }
  });

  it('answers HEAD and 204 without a body and keeps the connection', async () => {
    rec.reply = (req) =>
      req.method === 'HEAD'
        ? { bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n') }
        : { bytes: Buffer.from('HTTP/1.1 204 No Content\r\n\r\n') };
    const r = await exchange(proxy.port, Buffer.from('HEAD / HTTP/1.1\r\nHost: h\r\n\r\nDELETE / HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.1\r\nHost: h\r\n\r\n'), {
      methods: ['HEAD', 'DELETE', 'HEAD'],
      until: (rs) => rs.length === 3,
    });
    assert.deepEqual(r.responses.map((x) => x.status), [200, 204, 200]);
    assert.equal(header(r.responses[0], 'content-length')[0], '1000');
    assert.equal(r.closed, false);
  });

  it('closes the client after a close-delimited response', async () => {
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil-close'), close: true });
    const r = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(r.responses[0].body.toString(), 'until-close');
    assert.deepEqual(header(r.responses[0], 'connection'), ['close']);
    assert.ok(r.closed);
  });

  it('applies forwardfor if-none and except', async () => {
    rec.reset();
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') });
    await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n'), { until: (rs) => rs.length === 2 });
    assert.deepEqual(header(rec.requests[0], 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(header(rec.requests[1], 'x-forwarded-for'), ['1.2.3.4']);
  });

  it('rejects malformed requests with 400 and forwards nothing', async () => {
    rec.reset();
    for (const bad of [
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n',
    ]) {
      const r = await exchange(proxy.port, Buffer.from(bad));
      assert.equal(r.responses[0]?.status, 400, bad);
      assert.equal(r.responses[0].body.toString(), defaultBody(400));
      assert.ok(r.closed);
    }
    const te = await exchange(proxy.port, Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'));
    assert.equal(te.responses[0]?.status, 501);
    assert.equal(rec.heads.length, 0);
  });

  it('answers 431 to an oversized head and 408 to a slow one', async () => {
    const big = await exchange(proxy.port, Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`));
    assert.equal(big.responses[0]?.status, 431);
    const slow = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n'), { timeoutMs: 2000 });
    assert.equal(slow.responses[0]?.status, 408);
    assert.equal(slow.responses[0].body.toString(), defaultBody(408));
    assert.equal(rec.heads.length, 0);
  });

  it('answers 502 to an invalid response and 504 when the server is silent', async () => {
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nBad Header\r\n\r\n') });
    const bad = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(bad.responses[0]?.status, 502);
    assert.equal(bad.responses[0].body.toString(), defaultBody(502));
    rec.reply = () => ({ bytes: Buffer.alloc(0) });
    const silent = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), { timeoutMs: 2000 });
    assert.equal(silent.responses[0]?.status, 504);
    assert.equal(silent.responses[0].body.toString(), defaultBody(504));
  });

  it('answers 503 when every connect attempt fails (retries, then redispatch)', async () => {
    const p = await startL7Proxy(httpModel([server('dead', closedPort)], { retries: 2, redispatch: true }));
    try {
      const r = await exchange(p.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
      assert.equal(r.responses[0].status, 503);
      assert.equal(r.responses[0].body.toString(), defaultBody(503));
      const c = p.runtime.backends.get('be_http')!.counters;
      assert.equal(c.errConn, 3);
      assert.equal(c.retries, 2);
      assert.equal(c.redispatches, 1);
    } finally {
      await p.close();
    }
  });

  it('uses an errorfile override, and an empty one closes without a response', async () => {
    const p = await startL7Proxy(
      httpModel([server('dead', closedPort)], { frontend: { errorFiles: { '503': 'HTTP/1.0 503 Custom\r\nContent-Type: text/plain\r\n\r\nsorry\n', '400': '' } } }),
    );
    try {
      const r = await exchange(p.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
      assert.equal(r.received.toString(), 'HTTP/1.0 503 Custom\r\nContent-Type: text/plain\r\n\r\nsorry\n');
      const e = await exchange(p.port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
      assert.equal(e.received.length, 0);
      assert.ok(e.closed);
    } finally {
      await p.close();
    }
  });

  it('relays 100 Continue and honours Connection: close', async () => {
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') });
    const r = await exchange(proxy.port, Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'));
    assert.deepEqual(r.responses.map((x) => x.status), [100, 200]);
    assert.deepEqual(header(r.responses[1], 'connection'), ['close']);
    assert.ok(r.closed);
  });
});

describe('L7 draining', () => {
  let be: HttpBackend;
  let proxy: L7Proxy;
  before(async () => {
    be = await startHttpBackend('d');
    proxy = await startL7Proxy(httpModel([server('d', be.port)]));
  });
  after(async () => {
    await proxy.close();
    await be.close();
  });

  it('keeps an idle keep-alive connection open and answers its next request with Connection: close', async () => {
    const sock = net.connect(proxy.port, '127.0.0.1');
    const received: Buffer[] = [];
    sock.on('data', (d) => received.push(d));
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!Buffer.concat(received).toString().includes('onnection: close'));
    proxy.worker.draining = true;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false);
    sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const text = Buffer.concat(received).toString();
    assert.equal(text.match(/HTTP\/1.1 200/g)?.length, 2);
    assert.match(text, /Connection: close\r\n/);
    assert.equal(closed, true);
    proxy.worker.draining = false;
  });
});

describe('L7 WebSocket', () => {
  let wss: WebSocketServer;
  let port: number;
  let proxy: L7Proxy;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    port = (wss.address() as net.AddressInfo).port;
    wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary })));
    proxy = await startL7Proxy(httpModel([server('ws', port)]));
  });
  after(async () => {
    await proxy.close();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });

  it('tunnels a WebSocket echo through the proxy', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const replies: string[] = [];
    for (const m of ['one', 'two', 'x'.repeat(100000)]) {
      ws.send(m);
      replies.push(await new Promise<string>((r) => ws.once('message', (d) => r(d.toString()))));
    }
    assert.deepEqual(replies.map((r) => r.length), [3, 3, 100000]);
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });
});

describe('L7 rules, HTTP/1.0 and keep-alive timeout', () => {
  const rec = new RecordingBackend();
  let proxy: L7Proxy;
  before(async () => {
    await rec.start();
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: raw\r\n\r\nok') });
    const adminPath = { kind: 'match' as const, fetch: 'path', args: [], converters: [], method: 'beg' as const, ignoreCase: false, patterns: ['/admin'], text: 'path_beg /admin' };
    const oldPath = { ...adminPath, patterns: ['/old'], text: 'path_beg /old' };
    proxy = await startL7Proxy(
      httpModel([server('r', rec.port)], {
        timeouts: { httpKeepAlive: 300 },
        httpRules: [
          { when: 'request', act: { action: 'deny', status: 403 }, condition: adminPath, text: 'deny if admin' },
          { when: 'request', act: { action: 'redirect-scheme', scheme: 'https', code: 301 }, condition: oldPath, text: 'redirect scheme https' },
          { when: 'request', act: { action: 'set-header', name: 'X-Set', value: 'v' }, text: 'set-header' },
          { when: 'request', act: { action: 'del-header', name: 'X-Secret' }, text: 'del-header' },
          { when: 'response', act: { action: 'del-header', name: 'Server' }, text: 'del-header Server' },
          { when: 'response', act: { action: 'add-header', name: 'X-Via', value: 'tslb' }, text: 'add-header' },
        ],
      }),
    );
  });
  after(async () => {
    await proxy.close();
    await rec.close();
  });

  it('applies deny, redirect-scheme and header rules', async () => {
    rec.reset();
    const denied = await exchange(proxy.port, Buffer.from('GET /admin/x HTTP/1.1\r\nHost: h\r\n\r\n'));
    assert.equal(denied.responses[0].status, 403);
    assert.equal(denied.responses[0].body.toString(), defaultBody(403));
    const moved = await exchange(proxy.port, Buffer.from('GET /old/p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(moved.responses[0].status, 301);
    assert.deepEqual(header(moved.responses[0], 'location'), ['https://example.com/old/p?q=1']);
    const ok = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nX-Set: old\r\nX-Secret: s\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.deepEqual(header(ok.responses[0], 'server'), []);
    assert.deepEqual(header(ok.responses[0], 'x-via'), ['tslb']);
    assert.equal(rec.requests.length, 1);
    assert.deepEqual(header(rec.requests[0], 'x-set'), ['v']);
    assert.deepEqual(header(rec.requests[0], 'x-secret'), []);
  });

  it('keeps no request state between connections that take turns with pooled exchanges', async () => {
    // Idle connections give their parsers and sample context back to a per-worker pool; interleaved
    // requests on many connections must each see only their own head, rules and response.
    rec.reset();
    const conns = await Promise.all(Array.from({ length: 12 }, () => RawConnection.open(proxy.port)));
    try {
      for (let round = 0; round < 4; round++) {
        conns.forEach((c, i) => {
          const secret = i % 2 ? 'X-Secret: s\r\n' : '';
          c.send(`GET /c${i}/r${round}?q=${i} HTTP/1.1\r\nHost: h${i}\r\nX-Conn: ${i}\r\n${secret}\r\n`);
        });
        const responses = await Promise.all(conns.map((c) => c.next()));
        for (const r of responses) {
          assert.equal(r?.status, 200);
          assert.deepEqual(header(r!, 'x-via'), ['tslb']);
          assert.deepEqual(header(r!, 'server'), []);
        }
        // The next round starts after every connection went idle (its exchange back in the pool).
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(rec.requests.length, 48);
      for (const req of rec.requests) {
        const i = Number(/^\/c(\d+)\//.exec(req.target)![1]);
        assert.match(req.target, new RegExp(`^/c${i}/r\\d\\?q=${i}$`));
        assert.deepEqual(header(req, 'host'), [`h${i}`]);
        assert.deepEqual(header(req, 'x-conn'), [String(i)]);
        assert.deepEqual(header(req, 'x-set'), ['v']);
        assert.deepEqual(header(req, 'x-secret'), []);
      }
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });

  it('serves HTTP/1.0: close by default, keep-alive on request', async () => {
    const plain = await exchange(proxy.port, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    assert.deepEqual(header(plain.responses[0], 'connection'), ['close']);
    assert.ok(plain.closed);
    const ka = await exchange(proxy.port, Buffer.from('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.deepEqual(header(ka.responses[0], 'connection'), ['keep-alive']);
    assert.equal(ka.closed, false);
  });

  it('closes an idle keep-alive connection silently after timeout http-keep-alive', async () => {
    const r = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), { timeoutMs: 2000 });
    assert.equal(r.responses.length, 1);
    assert.ok(r.closed);
    assert.ok(!r.timedOut);
  });
});
