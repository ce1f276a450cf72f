/** HeadParser and BodyFramer unit tests: the request-smuggling matrix and framing. */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { HeadParser } from '../src/http1/parser';
import { BODY_CHUNKED, BodyFramer, MAX_CHUNK_LINE } from '../src/http1/body';
import { buildHead, rewriteHeadInPlace } from '../src/http1/rewrite';
import { defaultErrorResponse } from '../src/http1/errors';

function parseReq(text: string): { n: number; p: HeadParser } {
  const p = new HeadParser(true);
  const buf = Buffer.from(text, 'latin1');
  return { n: p.parse(buf, 0, buf.length), p };
}

function rejects(text: string, status: number): void {
  const { n, p } = parseReq(text);
  assert.equal(n, -1, `accepted: ${JSON.stringify(text)}`);
  assert.equal(p.errorStatus, status, p.errorReason);
}

describe('request head parser', () => {
  it('accepts a valid request and reports framing', () => {
    const text = 'POST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
    const { n, p } = parseReq(text);
    assert.equal(n, text.length - 5);
    assert.equal(p.contentLength, 5);
    assert.equal(p.connClose, true);
    assert.equal(p.count, 3);
    assert.equal(p.versionMinor, 1);
  });

  it('reports an incomplete head as 0', () => {
    assert.equal(parseReq('GET / HTTP/1.1\r\nHost: h\r\n').n, 0);
    assert.equal(parseReq('GET / HTT').n, 0);
  });

  it('rejects the smuggling matrix', () => {
    rejects('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400); // CL+TE
    rejects('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n', 400); // duplicate CL
    rejects('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n', 400); // list CL
    rejects('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n', 400);
    rejects('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n', 400);
    rejects('GET / HTTP/1.1\nHost: h\r\n\r\n', 400); // bare LF in request line
    rejects('GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n', 400); // bare LF in head
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n', 400); // obs-fold
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n', 400); // space before colon
    rejects('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501);
    rejects('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400);
    rejects('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400);
    rejects('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedchunked\r\n\r\n', 400);
    rejects('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400);
    rejects('GET / HTTP/1.1\r\nX: y\r\n\r\n', 400); // missing Host
    rejects('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400);
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n', 400); // NUL
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n', 400); // CTL
    rejects('GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n', 400); // bare CR
    rejects('GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 400);
    rejects('G(T / HTTP/1.1\r\nHost: h\r\n\r\n', 400);
    rejects('GET / HTTP/2.0\r\nHost: h\r\n\r\n', 400);
    rejects('GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 400);
    rejects('GET /a b HTTP/1.1\r\nHost: h\r\n\r\n', 400);
    rejects('GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n', 400);
  });

  it('accepts HTTP/1.0 without Host and a chunked request', () => {
    assert.ok(parseReq('GET / HTTP/1.0\r\n\r\n').n > 0);
    const { n, p } = parseReq('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n');
    assert.ok(n > 0);
    assert.equal(p.chunked, true);
  });

  it('marks hop-by-hop and Connection-listed headers but never framing ones', () => {
    const { p } = parseReq(
      'GET / HTTP/1.1\r\nHost: h\r\nConnection: X-A, content-length, Upgrade\r\nUpgrade: websocket\r\nX-A: 1\r\nKeep-Alive: 1\r\nTE: trailers\r\nContent-Length: 0\r\n\r\n',
    );
    const dropped = [];
    for (let i = 0; i < p.count; i++) if (p.drop[i]) dropped.push(p.buf.toString('latin1', p.hdr[i * 5], p.hdr[i * 5 + 1]));
    assert.deepEqual(dropped, ['Connection', 'X-A', 'Keep-Alive']);
    assert.equal(p.connUpgrade, true);
  });

  it('rewrites a head in place and into a new buffer', () => {
    const p = new HeadParser(false);
    const text = 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok';
    const buf = Buffer.from(text);
    const n = p.parse(buf, 0, buf.length);
    assert.equal(buildHead(p, 'Connection: close\r\n').toString(), 'HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n');
    const start = rewriteHeadInPlace(p, 'Connection: close\r\n');
    assert.equal(buf.toString('latin1', start), 'HTTP/1.1 200 OK\r\nConnection: close\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(n, text.length - 2);
  });

  it('rejects invalid status lines', () => {
    for (const t of ['HTTP/1.1 20 OK\r\n\r\n', 'HTTP/1.1 200 OK\nX: y\r\n\r\n', 'HTTX/1.1 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n']) {
      const p = new HeadParser(false);
      const b = Buffer.from(t);
      assert.equal(p.parse(b, 0, b.length), -1, t);
      assert.equal(p.errorStatus, 502);
    }
  });
});

describe('body framer', () => {
  it('scans chunked bodies with extensions and trailers, byte by byte too; extensions are cut out', () => {
    const text = '5;ext=1;q="a b"\r\nhello\r\n0A\r\n0123456789\r\n000;x\r\nX-T: 1\r\n\r\nNEXT';
    const kept = '5\r\nhello\r\n0A\r\n0123456789\r\n000\r\nX-T: 1\r\n\r\n';
    const f = new BodyFramer();
    f.reset(BODY_CHUNKED, -1);
    const whole = Buffer.from(text);
    assert.equal(f.feed(whole, 0, whole.length), whole.length - 4);
    assert.ok(f.done);
    assert.equal(whole.toString('latin1', 0, f.keptEnd), kept);
    // One byte per feed: each kept byte stays where it was or is cut out.
    f.reset(BODY_CHUNKED, -1);
    const bytes = Buffer.from(text);
    let i = 0;
    let out = '';
    while (!f.done) {
      const r = f.feed(bytes, i, i + 1);
      assert.ok(r >= 0, f.error);
      out += bytes.toString('latin1', i, f.keptEnd);
      i = r;
    }
    assert.equal(i, bytes.length - 4);
    assert.equal(out, kept);
  });

  it('refuses a chunk-size line longer than MAX_CHUNK_LINE', () => {
    const line = (extra: number) => Buffer.from(`5;e=${'x'.repeat(MAX_CHUNK_LINE - 5 + extra)}\r\nhello\r\n0\r\n\r\n`);
    const f = new BodyFramer();
    f.reset(BODY_CHUNKED, -1);
    const fits = line(0);
    assert.equal(f.feed(fits, 0, fits.length), fits.length, f.error);
    assert.equal(fits.toString('latin1', 0, f.keptEnd), '5\r\nhello\r\n0\r\n\r\n');
    f.reset(BODY_CHUNKED, -1);
    const over = line(1);
    assert.equal(f.feed(over, 0, over.length), -1);
    assert.equal(f.error, 'chunk size line too long');
  });

  it('rejects bad chunk framing', () => {
    for (const t of ['5 \r\nhello\r\n0\r\n\r\n', 'x\r\n', '5\r\nhelloX\r\n', '5;\r\nhello\r\n', '5;a="b\r\n', '1\nA']) {
      const f = new BodyFramer();
      f.reset(BODY_CHUNKED, -1);
      const b = Buffer.from(t);
      assert.equal(f.feed(b, 0, b.length), -1, t);
    }
  });
});

describe('default error responses', () => {
  it('match HAProxy 2.6 byte lengths', () => {
    const lengths: Record<number, number> = { 400: 90, 403: 93, 408: 110, 500: 97, 501: 136, 502: 107, 503: 107, 504: 92 };
    for (const [s, len] of Object.entries(lengths)) {
      const text = defaultErrorResponse(Number(s)).toString('latin1');
      const [head, body] = text.split('\r\n\r\n');
      assert.equal(body.length, len, s);
      assert.match(head, new RegExp(`^HTTP/1.1 ${s} .*\r\nContent-length: ${len}\r\nCache-Control: no-cache\r\n`));
      assert.equal(head.includes('Connection: close'), s === '400' || s === '408');
    }
  });
});
