/**
 * The L7 correctness matrix of shared/notes/l7-ceiling.md through a real tslb, byte-exact:
 * streamed chunked bodies with trailers (extensions cut out), 1 MiB bodies by Content-Length and chunked
 * in both directions (sha256), HEAD, 204, close-delimited bodies, hop-by-hop and Connection-listed
 * headers stripped both ways, keep-alive, pipelining, client close, and the malformed requests a
 * strict parser must refuse without forwarding anything.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { exchange, FIXED_OK, header, RawConnection, RecordingBackend, type BackendReply, type RawRequest } from './helpers/rawhttp';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

const MiB = 1024 * 1024;
const big = randomBytes(MiB);
const bigSha = sha256(big);

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const CHUNK_PIECES = [
  Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n'),
  ...['alpha', 'bravo', 'charlie', 'delta', 'echo'].map((w, i) => Buffer.from(`${w.length.toString(16)};n=${i}\r\n${w}\r\n`)),
  Buffer.from('0\r\nX-Trailer: done\r\n\r\n'),
];

/** The backend's answers, by request target. */
function reply(req: RawRequest): BackendReply {
  switch (req.target) {
    case '/chunked-trailers':
      return { bytes: Buffer.alloc(0), pieces: CHUNK_PIECES, pauseMs: 20 };
    case '/big-cl': {
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${MiB}\r\n\r\n`);
      return { bytes: req.method === 'HEAD' ? head : Buffer.concat([head, big]) };
    }
    case '/big-chunked':
      return { bytes: Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked(big, 60_000)]) };
    case '/204':
      return { bytes: Buffer.from('HTTP/1.1 204 No Content\r\nX-Backend: raw\r\n\r\n') };
    case '/close-delimited':
      return { bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the connection closes'), close: true };
    case '/hop':
      return {
        bytes: Buffer.from(
          'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End-To-End: kept\r\nContent-Length: 2\r\n\r\nok',
        ),
      };
    default:
      return { bytes: FIXED_OK };
  }
}

describe('L7 correctness matrix through tslb', () => {
  let lb: TslbProcess;
  let port = 0;
  const backend = new RecordingBackend();

  before(async () => {
    await backend.start();
    backend.reply = reply;
    port = await freePort();
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: fe
    mode: http
    binds: ["127.0.0.1:${port}"]
    forwardfor: true
    default_backend: be
backends:
  - name: be
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${backend.port} }
`);
  });

  after(async () => {
    await backend.close();
    await lb?.stop();
  });

  test('chunked response: 5 chunks 20 ms apart arrive as sent (streamed), trailer kept, extensions cut out', async () => {
    const conn = await RawConnection.open(port);
    const arrivals: number[] = [];
    conn.socket.on('data', () => arrivals.push(Date.now()));
    conn.send('GET /chunked-trailers HTTP/1.1\r\nHost: m\r\n\r\n');
    const r = await conn.next();
    conn.destroy();
    assert.ok(r, 'a response');
    assert.equal(r.status, 200);
    assert.equal(r.framing, 'chunked');
    assert.equal(r.body.toString(), 'alphabravocharliedeltaecho');
    assert.deepEqual(r.trailers, [['X-Trailer', 'done']]);
    assert.ok(r.raw.includes(Buffer.from('\r\n7\r\ncharlie\r\n')) && !r.raw.includes(Buffer.from(';n=')), 'chunk extensions not forwarded (as HAProxy)');
    assert.ok(arrivals.length >= 3 && arrivals[arrivals.length - 1] - arrivals[0] >= 60, `streamed, not buffered: ${arrivals.length} reads over ${arrivals[arrivals.length - 1] - arrivals[0]} ms`);
  });

  test('chunked request with trailers reaches the backend with its chunks and trailer', async () => {
    backend.reset();
    const body = Buffer.from('5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n');
    const r = await exchange(port, Buffer.concat([Buffer.from('POST /up HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n'), body]), { until: (rs) => rs.length === 1 });
    assert.equal(r.responses[0]?.status, 200);
    const got = backend.requests[0];
    assert.equal(got.framing, 'chunked');
    assert.equal(got.body.toString(), 'hello world');
    assert.deepEqual(got.trailers, [['X-Sum', '11']]);
  });

  test('1 MiB response by Content-Length and chunked: sha256 intact', async () => {
    const conn = await RawConnection.open(port);
    conn.send('GET /big-cl HTTP/1.1\r\nHost: m\r\n\r\nGET /big-chunked HTTP/1.1\r\nHost: m\r\n\r\n', ['GET', 'GET']);
    const cl = await conn.next(10_000);
    const ch = await conn.next(10_000);
    conn.destroy();
    assert.equal(cl?.status, 200);
    assert.equal(header(cl!, 'content-length')[0], String(MiB));
    assert.equal(sha256(cl!.body), bigSha);
    assert.equal(ch?.status, 200);
    assert.equal(sha256(ch!.body), bigSha);
  });

  test('1 MiB request by Content-Length and chunked: sha256 intact at the backend', async () => {
    backend.reset();
    const conn = await RawConnection.open(port);
    conn.send(Buffer.concat([Buffer.from(`POST /up HTTP/1.1\r\nHost: m\r\nContent-Length: ${MiB}\r\n\r\n`), big]));
    assert.equal((await conn.next(10_000))?.status, 200);
    conn.send(Buffer.concat([Buffer.from('POST /up HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked(big, 50_000)]));
    assert.equal((await conn.next(10_000))?.status, 200);
    conn.destroy();
    assert.equal(backend.requests.length, 2);
    assert.equal(sha256(backend.requests[0].body), bigSha);
    assert.equal(sha256(backend.requests[1].body), bigSha);
  });

  test('HEAD of a 1 MiB resource: head only with its Content-Length, then keep-alive works', async () => {
    const conn = await RawConnection.open(port);
    conn.send('HEAD /big-cl HTTP/1.1\r\nHost: m\r\n\r\n', ['HEAD']);
    const head = await conn.next();
    assert.equal(head?.status, 200);
    assert.equal(header(head!, 'content-length')[0], String(MiB));
    assert.equal(head!.body.length, 0);
    conn.send('GET /small HTTP/1.1\r\nHost: m\r\n\r\n');
    const next = await conn.next();
    conn.destroy();
    assert.equal(next?.status, 200);
    assert.equal(next!.body.toString(), 'ok', 'no stray body bytes after the HEAD response');
  });

  test('204 then keep-alive', async () => {
    const conn = await RawConnection.open(port);
    conn.send('GET /204 HTTP/1.1\r\nHost: m\r\n\r\n');
    const r = await conn.next();
    assert.equal(r?.status, 204);
    assert.equal(r!.body.length, 0);
    conn.send('GET /small HTTP/1.1\r\nHost: m\r\n\r\n');
    const next = await conn.next();
    conn.destroy();
    assert.equal(next?.body.toString(), 'ok');
  });

  test('close-delimited upstream body reaches the client whole', async () => {
    const conn = await RawConnection.open(port);
    conn.send('GET /close-delimited HTTP/1.1\r\nHost: m\r\n\r\n');
    const r = await conn.next();
    conn.destroy();
    assert.equal(r?.status, 200);
    assert.ok(r!.complete);
    assert.equal(r!.body.toString(), 'until the connection closes');
  });

  // RFC 9110 §7.6.1: Connection-listed fields go, and Proxy-Connection, Keep-Alive, TE and Upgrade are removed too
  // (`TE: trailers` alone is kept on purpose, as HAProxy does: it announces trailer support end to end).
  test('hop-by-hop and Connection-listed headers are stripped from the request; X-Forwarded-For added', async () => {
    backend.reset();
    const r = await exchange(
      port,
      Buffer.from(
        'GET /echo HTTP/1.1\r\nHost: m\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: deflate\r\nUpgrade: foo\r\nX-Keep: 1\r\n\r\n',
      ),
      { until: (rs) => rs.length === 1 },
    );
    assert.equal(r.responses[0]?.status, 200);
    const got = backend.requests[0];
    const names = got.headers.map(([n]) => n.toLowerCase());
    for (const hop of ['x-drop', 'keep-alive', 'proxy-connection', 'te', 'upgrade']) assert.ok(!names.includes(hop), `${hop} stripped; backend got ${got.head.toString('latin1')}`);
    for (const v of header(got, 'connection')) assert.ok(!/x-drop/i.test(v), `Connection no longer lists X-Drop: ${v}`);
    assert.deepEqual(header(got, 'x-keep'), ['1']);
    assert.deepEqual(header(got, 'x-forwarded-for'), ['127.0.0.1']);
  });

  test('TE: trailers is forwarded', async () => {
    backend.reset();
    const r = await exchange(port, Buffer.from('GET /echo HTTP/1.1\r\nHost: m\r\nTE: trailers\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(r.responses[0]?.status, 200);
    assert.deepEqual(header(backend.requests[0], 'te'), ['trailers']);
  });

  test('hop-by-hop and Connection-listed headers are stripped from the response', async () => {
    const r = await exchange(port, Buffer.from('GET /hop HTTP/1.1\r\nHost: m\r\n\r\n'), { until: (rs) => rs.length === 1 });
    const res = r.responses[0];
    assert.equal(res?.status, 200);
    const names = res.headers.map(([n]) => n.toLowerCase());
    for (const hop of ['x-hop', 'keep-alive', 'proxy-connection']) assert.ok(!names.includes(hop), `${hop} stripped; client got ${res.head.toString('latin1')}`);
    for (const v of header(res, 'connection')) assert.ok(!/x-hop/i.test(v), `Connection no longer lists X-Hop: ${v}`);
    assert.deepEqual(header(res, 'x-end-to-end'), ['kept']);
    assert.equal(res.body.toString(), 'ok');
  });

  test('keep-alive: 3 sequential requests on one connection', async () => {
    backend.reset();
    const conn = await RawConnection.open(port);
    for (let i = 0; i < 3; i++) {
      conn.send(`GET /seq/${i} HTTP/1.1\r\nHost: m\r\n\r\n`);
      assert.equal((await conn.next())?.body.toString(), 'ok', `request ${i}`);
    }
    conn.destroy();
    assert.deepEqual(backend.requests.map((q) => q.target), ['/seq/0', '/seq/1', '/seq/2']);
  });

  test('pipelining: 2 requests in one packet are answered in order', async () => {
    backend.reset();
    const conn = await RawConnection.open(port);
    conn.send('GET /204 HTTP/1.1\r\nHost: m\r\n\r\nGET /p2 HTTP/1.1\r\nHost: m\r\n\r\n', ['GET', 'GET']);
    const a = await conn.next();
    const b = await conn.next();
    conn.destroy();
    assert.equal(a?.status, 204);
    assert.equal(b?.status, 200);
    assert.equal(b!.body.toString(), 'ok');
    assert.deepEqual(backend.requests.map((q) => q.target), ['/204', '/p2']);
  });

  test('Connection: close from the client: answered, then closed', async () => {
    const conn = await RawConnection.open(port);
    conn.send('GET /small HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n');
    const r = await conn.next();
    assert.equal(r?.body.toString(), 'ok');
    assert.ok(await conn.closedWithin(2000), 'tslb closed the connection');
    conn.destroy();
  });

  const malformed: [string, string, number][] = [
    ['CL+TE', 'POST /m HTTP/1.1\r\nHost: m\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['duplicate Content-Length', 'POST /m HTTP/1.1\r\nHost: m\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['bare LF in the head', 'GET /m HTTP/1.1\nHost: m\n\n', 400],
    ['obs-fold', 'GET /m HTTP/1.1\r\nHost: m\r\nX-Folded: a\r\n b\r\n\r\n', 400],
    ['space before colon', 'GET /m HTTP/1.1\r\nHost: m\r\nX-Space : a\r\n\r\n', 400],
    ['TE: gzip, chunked', 'POST /m HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
    ['missing Host (HTTP/1.1)', 'GET /m HTTP/1.1\r\nX-A: b\r\n\r\n', 400],
  ];
  for (const [name, bytes, status] of malformed) {
    test(`malformed request refused with ${status}, nothing forwarded: ${name}`, async () => {
      backend.reset();
      const r = await exchange(port, Buffer.from(bytes), { timeoutMs: 3000 });
      assert.equal(r.responses[0]?.status, status, `response: ${r.received.toString('latin1').slice(0, 200)}`);
      assert.ok(r.closed, 'connection closed after the refusal');
      await new Promise((res) => setTimeout(res, 20));
      assert.equal(backend.bytesReceived, 0, 'nothing reached the backend');
    });
  }
});
