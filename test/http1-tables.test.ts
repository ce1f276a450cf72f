/**
 * HeadParser header tables: grown on demand up to MAX_HEADERS with earlier entries
 * kept, given back by release() and reused by later heads without mixing parsers.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { HeadParser } from '../src/http1/parser';
import { MAX_HEADERS } from '../src/http/head';
import { buildHead } from '../src/http1/rewrite';

/** A request with `n` headers: Host first, X-N: N for the rest, one Connection-listed. */
function request(n: number): Buffer {
  let head = 'GET / HTTP/1.1\r\nHost: h\r\n';
  for (let i = 1; i < n; i++) head += i === n - 1 ? 'Connection: X-1\r\n' : `X-${i}: ${i}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}

function parse(p: HeadParser, buf: Buffer): number {
  return p.parse(buf, 0, buf.length);
}

describe('HeadParser header tables', () => {
  for (const n of [1, 23, 24, 25, 48, 49, 97, MAX_HEADERS]) {
    it(`keeps every entry of a ${n}-header head`, () => {
      const p = new HeadParser(true);
      const buf = request(n);
      assert.equal(parse(p, buf), buf.length);
      assert.equal(p.count, n);
      assert.equal(p.value(p.host), 'h');
      for (let i = 1; i < n - 1; i++) assert.equal(p.value(p.find(`x-${i}`)), String(i));
      // The forwarded head drops the Connection line and the header it lists.
      const out = buildHead(p, '').toString('latin1');
      assert.equal(out.includes('\r\nX-1: 1\r\n'), false);
      assert.equal(out.includes('Connection'), false);
      if (n > 3) assert.equal(out.includes(`\r\nX-${n - 2}: ${n - 2}\r\n`), true);
    });
  }

  it('refuses one header more than MAX_HEADERS with 431', () => {
    const p = new HeadParser(true);
    const buf = request(MAX_HEADERS + 1);
    assert.equal(parse(p, buf), -1);
    assert.equal(p.errorStatus, 431);
  });

  it('reuses released tables without mixing two live parsers', () => {
    const a = new HeadParser(true);
    const b = new HeadParser(true);
    const small = Buffer.from('GET /a HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n', 'latin1');
    const other = Buffer.from('GET /b HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n', 'latin1');
    assert.ok(parse(a, small) > 0);
    a.release();
    a.release(); // twice: the tables must enter the pool once
    assert.equal(a.count, 0);
    assert.ok(parse(a, small) > 0);
    assert.ok(parse(b, other) > 0);
    assert.notEqual(a.hdr, b.hdr);
    assert.equal(a.value(a.host), 'a');
    assert.equal(a.drop[a.find('x-a')], 0);
    assert.equal(b.value(b.host), 'b');
    assert.equal(b.drop[b.find('connection')], 1);
    assert.equal(buildHead(a, '').toString('latin1'), small.toString('latin1'));
  });

  it('starts small again after a grown head is released', () => {
    const p = new HeadParser(true);
    const big = request(100);
    assert.equal(parse(p, big), big.length);
    p.release();
    const small = request(3);
    assert.equal(parse(p, small), small.length);
    assert.equal(p.count, 3);
    assert.ok(p.hdr.length < 100 * 5);
  });
});
