/**
 * Issue 12 (hostile test) through a real tslb, byte-exact with raw backends: an absolute-form
 * target whose authority differs from Host, response heads over the limit completed by a later
 * read, chunk-size lines (oversized, and extensions not forwarded) both ways, and
 * Transfer-Encoding split over several header lines.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, FIXED_OK, header, RecordingBackend, type BackendReply, type RawRequest } from './helpers/rawhttp';
import { tcpCommand } from './helpers/runtime-api';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

const KiB = 1024;

/** A response head of about `size` bytes (1 KiB header lines), split in two writes 150 ms apart. */
function bigHead(size: number): BackendReply {
  const lines: string[] = [];
  for (let i = 0; lines.length * KiB < size; i++) lines.push(`X-Fill-${String(i).padStart(3, '0')}: ${'f'.repeat(KiB - 16)}\r\n`);
  const bytes = Buffer.from(`HTTP/1.1 200 OK\r\n${lines.join('')}Content-Length: 2\r\n\r\nok`);
  const half = bytes.length >> 1;
  return { bytes, pieces: [bytes.subarray(0, half), bytes.subarray(half)], pauseMs: 150 };
}

const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
const HUGE_EXTENSION = `;x=${'e'.repeat(1024 * KiB)}`;

/** The public backend's answers, by request target. */
function publicReply(req: RawRequest): BackendReply {
  switch (req.target) {
    case '/head-100k':
      return bigHead(100 * KiB);
    case '/head-60k':
      return bigHead(60 * KiB);
    case '/res-ext':
      return { bytes: Buffer.from(`${CHUNKED_HEAD}5;foo=bar\r\nhello\r\n6;a="q;\\"x";b\r\n world\r\n0;z\r\n\r\n`) };
    case '/res-huge-ext':
      return { bytes: Buffer.from(`${CHUNKED_HEAD}5${HUGE_EXTENSION}\r\nhello\r\n0\r\n\r\n`) };
    default:
      return { bytes: FIXED_OK };
  }
}

describe('HTTP/1.1 hardening through tslb', () => {
  let lb: TslbProcess;
  let port = 0;
  let apiPort = 0;
  const pub = new RecordingBackend();
  const internal = new RecordingBackend();

  before(async () => {
    await Promise.all([pub.start(), internal.start()]);
    pub.reply = publicReply;
    internal.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ninternal') });
    [port, apiPort] = await Promise.all([freePort(), freePort()]);
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: fe
    mode: http
    binds: ["127.0.0.1:${port}"]
    use_backend:
      - { backend: internal, if: "hdr(host) -i internal.local" }
    default_backend: public
backends:
  - { name: public, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${pub.port} }] }
  - { name: internal, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${internal.port} }] }
runtime_api:
  tcp: "127.0.0.1:${apiPort}"
`);
  });

  after(async () => {
    await Promise.all([pub.close(), internal.close()]);
    await lb?.stop();
  });

  function resetBackends(): void {
    pub.reset();
    internal.reset();
  }

  /** Sends one request; the response and whether the connection closed. */
  async function send(bytes: string | Buffer, opts: { pieces?: Buffer[]; pauseMs?: number } = {}) {
    const r = await exchange(port, Buffer.from(bytes), { timeoutMs: 3000, until: (rs) => rs.length === 1 && rs[0].status < 400, ...opts });
    return { res: r.responses[0], closed: r.closed, received: r.received };
  }

  async function refused(bytes: string | Buffer, status: number): Promise<void> {
    resetBackends();
    const { res, closed, received } = await send(bytes);
    assert.equal(res?.status, status, `response: ${received.toString('latin1').slice(0, 200)}`);
    assert.ok(closed, 'connection closed after the refusal');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pub.bytesReceived + internal.bytesReceived, 0, 'nothing reached a backend');
  }

  // ---- item 5: absolute-form target and Host

  test('absolute-form target whose authority differs from Host: 400, forwarded to no backend', async () => {
    await refused('GET http://public.example/a HTTP/1.1\r\nHost: internal.local\r\n\r\n', 400);
    await refused('GET http://internal.local/a HTTP/1.1\r\nHost: public.example\r\n\r\n', 400);
    // Only the scheme's own default port is the same origin.
    await refused('GET http://internal.local:443/a HTTP/1.1\r\nHost: internal.local\r\n\r\n', 400);
    await refused('GET http://internal.local:8080/a HTTP/1.1\r\nHost: internal.local\r\n\r\n', 400);
    // Userinfo obscures the authority (RFC 9110 §4.2.4).
    await refused('GET http://internal.local@public.example/a HTTP/1.1\r\nHost: internal.local@public.example\r\n\r\n', 400);
    // Absolute-form does not replace Host on HTTP/1.1.
    await refused('GET http://internal.local/a HTTP/1.1\r\n\r\n', 400);
  });

  test('absolute-form target equal to Host (any case): routed by it and forwarded unchanged', async () => {
    resetBackends();
    const a = await send('GET http://Internal.LOCAL/b?q=1 HTTP/1.1\r\nHost: internal.local\r\n\r\n');
    assert.equal(a.res?.status, 200);
    assert.equal(a.res.body.toString(), 'internal');
    assert.equal(internal.requests[0]?.target, 'http://Internal.LOCAL/b?q=1');
    const b = await send('GET http://public.example HTTP/1.1\r\nHost: public.example\r\n\r\n');
    assert.equal(b.res?.status, 200);
    assert.equal(b.res.body.toString(), 'ok');
    assert.equal(pub.requests[0]?.target, 'http://public.example');
    assert.equal(internal.requests.length, 1);
    // The scheme's default port on either side names the same origin (as HAProxy 2.6 compares).
    const c = await send('GET http://internal.local:80/c HTTP/1.1\r\nHost: internal.local\r\n\r\n');
    assert.equal(c.res?.status, 200);
    const d = await send('GET https://INTERNAL.local:443/d HTTP/1.1\r\nHost: internal.local\r\n\r\n');
    assert.equal(d.res?.status, 200);
    assert.equal(internal.requests.length, 3);
  });

  // ---- item 6: response head limit

  test('a 100 KiB response head completed by a second read: 502, counted as a response error', async () => {
    resetBackends();
    const { res } = await send('GET /head-100k HTTP/1.1\r\nHost: public.example\r\n\r\n');
    assert.equal(res?.status, 502);
    assert.deepEqual(header(res, 'x-fill-000'), []);
    // Workers report their counters to the primary about once a second.
    let eresp = '';
    for (let i = 0; i < 50 && eresp !== '1'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const line = (await tcpCommand(apiPort, 'show stat\n')).split('\n').find((l) => l.startsWith('public,BACKEND,'));
      eresp = line?.split(',')[14] ?? '';
    }
    assert.equal(eresp, '1', 'eresp of the backend');
  });

  test('a 60 KiB response head in two reads still passes', async () => {
    const { res } = await send('GET /head-60k HTTP/1.1\r\nHost: public.example\r\n\r\n');
    assert.equal(res?.status, 200);
    assert.equal(res.body.toString(), 'ok');
    assert.equal(header(res, 'x-fill-059')[0]?.length, KiB - 16);
  });

  // ---- item 9: chunk-size lines

  test('a 1 MiB chunk extension in a request: 400, none of it forwarded', async () => {
    resetBackends();
    const { res } = await send(`POST /up HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\n\r\n5${HUGE_EXTENSION}\r\nhello\r\n0\r\n\r\n`);
    assert.equal(res?.status, 400);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(pub.requests.length, 0);
    assert.ok(pub.bytesReceived < KiB, `backend received ${pub.bytesReceived} bytes`);
  });

  test('request chunk extensions are not forwarded: the server sees <size>CRLF, also when split over reads', async () => {
    resetBackends();
    const head = 'POST /up HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\n\r\n';
    const body = '5;foo=bar\r\nhello\r\n6;a="q;\\"x";b\r\n world\r\n0;last\r\nX-Sum: 11\r\n\r\n';
    const one = await send(head + body);
    assert.equal(one.res?.status, 200);
    const pieces = [head + '5;fo', 'o=bar\r\nhel', 'lo\r\n6;a="q;', '\\"x";b\r\n world\r\n0;la', 'st\r\nX-Sum: 11\r\n\r\n'].map((p) => Buffer.from(p));
    const split = await send(Buffer.concat(pieces), { pieces, pauseMs: 30 });
    assert.equal(split.res?.status, 200);
    assert.equal(pub.requests.length, 2);
    for (const got of pub.requests) {
      assert.equal(got.raw.subarray(got.head.length).toString('latin1'), '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n');
    }
  });

  test('response chunk extensions are not forwarded; a 1 MiB one is answered 502', async () => {
    const ok = await send('GET /res-ext HTTP/1.1\r\nHost: public.example\r\n\r\n');
    assert.equal(ok.res?.status, 200);
    assert.equal(ok.res.raw.subarray(ok.res.head.length).toString('latin1'), '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    const bad = await send('GET /res-huge-ext HTTP/1.1\r\nHost: public.example\r\n\r\n');
    assert.equal(bad.res?.status, 502);
    assert.ok(bad.received.length < 2 * KiB, `client received ${bad.received.length} bytes`);
  });

  // ---- item 10: Transfer-Encoding over several lines

  test('Transfer-Encoding over two lines is one list: gzip + chunked 501, chunked twice 400', async () => {
    const te = (...lines: string[]) => `POST /te HTTP/1.1\r\nHost: public.example\r\n${lines.map((l) => `Transfer-Encoding: ${l}\r\n`).join('')}\r\n0\r\n\r\n`;
    await refused(te('gzip', 'chunked'), 501);
    await refused(te('gzip, chunked'), 501);
    await refused(te('chunked', 'chunked'), 400);
    await refused(te('chunked, gzip', 'chunked'), 400);
    await refused(te('chunked', 'gzip'), 400);
    // With Content-Length: refused as before.
    await refused(`POST /te HTTP/1.1\r\nHost: public.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400);
    await refused(`POST /te HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, 400);
  });
});
