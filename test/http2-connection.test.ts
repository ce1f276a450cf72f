/**
 * H2Connection (src/http2/connection.ts) against Node's own HTTP/2 client (nghttp2), over
 * h2c with prior knowledge and over TLS with ALPN h2: requests and responses, bodies from
 * 1 byte to 16 MiB both ways with backpressure, trailers both ways, many concurrent
 * streams, resets in both directions, graceful GOAWAY with streams in flight. Malformed
 * requests (raw frames) are reset with PROTOCOL_ERROR and the connection stays usable.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import { issueCert } from './helpers/certs';
import { startH2Server, type H2TestServer } from './helpers/h2server';
import { RawH2Client } from './helpers/h2raw';
import { E_CANCEL, E_NO_ERROR, E_PROTOCOL_ERROR, F_END_HEADERS, F_END_STREAM, F_PADDED, F_PRIORITY, T_HEADERS } from '../src/http2/frames';

const servers: H2TestServer[] = [];
const sessions: http2.ClientHttp2Session[] = [];
after(async () => {
  for (const s of sessions) s.destroy();
  for (const s of servers) await s.close();
});

async function server(opts: Parameters<typeof startH2Server>[0] = {}): Promise<H2TestServer> {
  const s = await startH2Server(opts);
  servers.push(s);
  return s;
}

const cert = issueCert(['localhost']);

function connect(s: H2TestServer, secure = false, settings?: http2.Settings): http2.ClientHttp2Session {
  const session = secure
    ? http2.connect(`https://localhost:${s.port}`, { ca: cert.ca, settings })
    : http2.connect(`http://127.0.0.1:${s.port}`, { settings });
  session.on('error', () => undefined);
  sessions.push(session);
  return session;
}

interface Result {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders;
}

function request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer,
  trailers?: Record<string, string>,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: !body && !trailers, waitForTrailers: !!trailers });
    const chunks: Buffer[] = [];
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let resTrailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    req.on('trailers', (t) => (resTrailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status, headers: resHeaders, body: Buffer.concat(chunks), trailers: resTrailers }));
    req.on('error', reject);
    if (trailers) req.on('wantTrailers', () => req.sendTrailers(trailers));
    if (body) writeBody(req, body);
    else if (trailers) req.end();
  });
}

/** The body in 64 KiB writes, each after the previous one drained (backpressure on the client side too). */
function writeBody(req: http2.ClientHttp2Stream, body: Buffer): void {
  let off = 0;
  const next = (): void => {
    while (off < body.length) {
      const piece = body.subarray(off, off + 65536);
      off += piece.length;
      if (off === body.length) return void req.end(piece);
      if (!req.write(piece)) return void req.once('drain', next);
    }
  };
  next();
}

for (const secure of [false, true]) {
  const proto = secure ? 'TLS (ALPN h2)' : 'h2c';

  test(`${proto}: GET answers status, headers and body; unknown paths get 404`, async () => {
    const s = await server(secure ? { tls: cert } : {});
    const c = connect(s, secure);
    const r = await request(c, { ':path': '/hello' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.headers['content-length'], '5');
    assert.equal(r.body.toString(), 'hello');
    assert.equal((await request(c, { ':path': '/nope' })).status, 404);
    // The second request reuses the dynamic table entries of the first response.
    const again = await request(c, { ':path': '/hello' });
    assert.equal(again.headers['content-type'], 'text/plain');
    assert.deepEqual(s.closed.map((x) => x.code), [E_NO_ERROR, E_NO_ERROR, E_NO_ERROR]);
  });

  test(`${proto}: request and response bodies of 1 B to 16 MiB stream both ways with backpressure`, async () => {
    const s = await server(secure ? { tls: cert } : {});
    const c = connect(s, secure);
    for (const size of [1, 65535, 65536 + 1, 1 << 20, 16 << 20]) {
      const body = randomBytes(size);
      const sha = await request(c, { ':method': 'POST', ':path': '/sha' }, body);
      assert.equal(sha.body.toString(), createHash('sha256').update(body).digest('hex'), `upload ${size}`);
      assert.equal(sha.trailers['x-length'], String(size));
      const echo = await request(c, { ':method': 'POST', ':path': '/echo' }, body);
      assert.equal(echo.body.length, size, `echo ${size}`);
      assert.ok(echo.body.equals(body), `echo ${size} bytes`);
      const down = await request(c, { ':path': `/bytes?n=${size}` });
      assert.equal(down.body.length, size, `download ${size}`);
      assert.equal(down.body[size - 1], (size - 1) & 255);
    }
    assert.ok(s.closed.every((x) => x.code === E_NO_ERROR));
  });
}

test('trailers both ways: request trailers reach the server and come back as response trailers', async () => {
  const s = await server();
  const c = connect(s);
  const r = await request(c, { ':method': 'POST', ':path': '/echo' }, undefined, { 'x-checksum': 'abc', 'x-more': '1' });
  assert.equal(r.status, 200);
  assert.equal(r.trailers['x-checksum'], 'abc');
  assert.equal(r.trailers['x-more'], '1');
  const body = randomBytes(200_000);
  const withBody = await new Promise<Result>((resolve, reject) => {
    const req = c.request({ ':method': 'POST', ':path': '/echo' }, { waitForTrailers: true });
    const chunks: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status: 200, headers: {}, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    req.on('wantTrailers', () => req.sendTrailers({ 'x-after-body': 'yes' }));
    writeBody(req, body);
  });
  assert.ok(withBody.body.equals(body));
  assert.equal(withBody.trailers['x-after-body'], 'yes');
  const t = await request(c, { ':path': '/trailers' });
  assert.equal(t.body.toString(), 't');
  assert.equal(t.trailers['x-t1'], 'one');
  assert.equal(t.trailers['x-t2'], 'two');
});

test('a response head parsed by the HTTP/1 HeadParser goes out as is: names lower-cased, hop-by-hop fields left out', async () => {
  const s = await server();
  const c = connect(s);
  const r = await request(c, { ':path': '/h1-head' });
  assert.equal(r.status, 203);
  const names = Object.keys(r.headers).filter((n) => n !== ':status' && n !== 'date');
  assert.deepEqual(names.sort(), ['content-type', 'set-cookie', 'x-mixed-case']);
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(r.headers['x-mixed-case'], 'Value');
});

test('padded HEADERS with a priority, padded DATA and PRIORITY frames are accepted, the padding stripped', async () => {
  const s = await server();
  const raw = await RawH2Client.connect(s.port);
  const block = raw.block([[':method', 'POST'], [':scheme', 'http'], [':path', '/sha'], [':authority', 'a']]);
  // PADDED | PRIORITY: pad length 7, then dependency on stream 0 with weight 16, the block, 7 zero bytes.
  const payload = Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 15]), block, Buffer.alloc(7)]);
  raw.out.frame(T_HEADERS, F_END_HEADERS | F_PADDED | F_PRIORITY, 1, payload);
  raw.out.priority(1, 0, false, 200);
  raw.out.priority(9, 1, true, 1); // an idle stream: ignored
  // 4 × (16,000 data + 255 padding + 1 pad length) = 65,024 bytes: within the initial window.
  for (let k = 0; k < 4; k++) raw.out.data(1, Buffer.alloc(16000, k), 0, 16000, k === 3, 255);
  raw.send();
  const h = await raw.waitFor((f) => f.type === T_HEADERS && f.streamId === 1);
  assert.equal(h.fields![0][1], '200');
  await raw.waitFor((f) => f.type === T_HEADERS && f.streamId === 1 && (f.flags & F_END_STREAM) !== 0);
  const trailers = raw.frames.filter((f) => f.type === T_HEADERS && f.streamId === 1).at(-1)!;
  assert.deepEqual(trailers.fields, [['x-length', '64000']]);
  assert.equal(raw.closed, false);
});

test('300 concurrent streams on one connection (limit 100) all complete', async () => {
  const s = await server({ h2: { maxConcurrentStreams: 100 } });
  const c = connect(s);
  const results = await Promise.all(
    Array.from({ length: 300 }, (_, i) => request(c, { ':path': i % 2 ? '/hello' : `/bytes?n=${1000 + i}` })),
  );
  results.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.body.length, i % 2 ? 5 : 1000 + i);
  });
  assert.equal(s.closed.length, 300);
});

test('resets: a client cancel reaches the handler as CANCEL by the peer; a server reset reaches the client', async () => {
  const s = await server();
  const c = connect(s);
  const req = c.request({ ':path': '/slow' });
  req.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 100));
  req.close(http2.constants.NGHTTP2_CANCEL);
  for (let i = 0; i < 50 && s.closed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(s.closed, [{ id: 1, path: '/slow', code: E_CANCEL, byPeer: true }]);
  // The server resets a stream from inside onRequestHead.
  const req2 = c.request({ ':path': '/reset' });
  const code = new Promise<number>((resolve) => req2.on('close', () => resolve(req2.rstCode)));
  req2.on('error', () => undefined);
  assert.equal(await code, E_PROTOCOL_ERROR);
  assert.deepEqual(s.closed[1], { id: 3, path: '/reset', code: E_PROTOCOL_ERROR, byPeer: false });
  // The connection still serves.
  assert.equal((await request(c, { ':path': '/hello' })).status, 200);
});

test('graceful GOAWAY: streams in flight finish, later streams are not processed, then the connection ends', async () => {
  const s = await server();
  const raw = await RawH2Client.connect(s.port);
  raw.request(1, '/bytes?n=100000');
  raw.request(3, '/bytes?n=100000');
  raw.send();
  await raw.waitFor((f) => f.type === T_HEADERS && f.streamId === 3);
  const conn = [...s.connections][0];
  conn.goaway();
  const goaway = await raw.waitGoaway();
  assert.deepEqual(goaway, { lastStreamId: 3, code: E_NO_ERROR, debug: '' });
  // Stream 5, opened after the GOAWAY, is ignored; 1 and 3 complete once the client grants window.
  raw.request(5, '/hello');
  raw.out.windowUpdate(0, 1 << 20);
  raw.out.windowUpdate(1, 1 << 20);
  raw.out.windowUpdate(3, 1 << 20);
  raw.send();
  await raw.closedPromise;
  assert.equal(raw.dataBytes.get(1), 100000);
  assert.equal(raw.dataBytes.get(3), 100000);
  assert.equal(raw.dataBytes.get(5), undefined);
  assert.deepEqual(s.ends, [E_NO_ERROR]);
  assert.equal(s.heads, 2);
});

test('malformed requests are reset with PROTOCOL_ERROR and the connection keeps serving', async () => {
  const s = await server();
  const raw = await RawH2Client.connect(s.port);
  const cases: [string, [string, string][]][] = [
    ['upper-case name', [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['X-Up', '1']]],
    ['connection header', [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['connection', 'close']]],
    ['transfer-encoding', [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['transfer-encoding', 'chunked']]],
    ['te: gzip', [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['te', 'gzip']]],
    ['keep-alive', [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['keep-alive', '5']]],
    ['missing :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a']]],
    ['empty :path', [[':method', 'GET'], [':scheme', 'http'], [':path', ''], [':authority', 'a']]],
    ['duplicate :method', [[':method', 'GET'], [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]],
    ['pseudo after regular', [[':method', 'GET'], [':scheme', 'http'], ['x-a', '1'], [':path', '/'], [':authority', 'a']]],
    ['unknown pseudo', [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'], [':protocol', 'websocket']]],
    [':status in a request', [[':status', '200'], [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]],
    ['CONNECT with :path', [[':method', 'CONNECT'], [':scheme', 'http'], [':path', '/'], [':authority', 'a:443']]],
    ['CONNECT without :authority', [[':method', 'CONNECT']]],
    ['host differs from :authority', [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'], ['host', 'b']]],
    ['no authority nor host', [[':method', 'GET'], [':scheme', 'http'], [':path', '/']]],
    ['value with CR', [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'], ['x-a', 'a\rb']]],
    ['value with leading space', [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'], ['x-a', ' a']]],
    ['path not absolute', [[':method', 'GET'], [':scheme', 'http'], [':path', 'hello'], [':authority', 'a']]],
  ];
  let id = 1;
  for (const [what, fields] of cases) {
    raw.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, id, raw.block(fields));
    raw.send();
    assert.equal(await raw.waitRst(id), E_PROTOCOL_ERROR, what);
    id += 2;
  }
  // content-length that the DATA frames do not match.
  raw.request(id, '/sha', { method: 'POST', body: true, extra: [['content-length', '10']] });
  raw.out.data(id, Buffer.from('12345'), 0, 5, true);
  raw.send();
  assert.equal(await raw.waitRst(id), E_PROTOCOL_ERROR, 'content-length mismatch');
  id += 2;
  // Valid requests still work on the same connection: CONNECT with :authority only, te: trailers, OPTIONS *.
  for (const fields of [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a'], ['te', 'trailers'], ['host', 'A']],
    [[':method', 'OPTIONS'], [':scheme', 'http'], [':path', '*'], [':authority', 'a']],
    [[':method', 'CONNECT'], [':authority', 'a:443']],
  ] as [string, string][][]) {
    raw.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, id, raw.block(fields));
    raw.send();
    const h = await raw.waitFor((f) => f.type === T_HEADERS && f.streamId === id);
    assert.ok(h.fields![0][0] === ':status', JSON.stringify(fields));
    id += 2;
  }
  // The content-length request reached the handler before its DATA gave it away; the 3 valid ones did.
  assert.equal(s.heads, 4);
  assert.equal(raw.closed, false);
});
