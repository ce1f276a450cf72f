/**
 * TLS passthrough routed by SNI (HAProxy's `tcp-request inspect-delay` +
 * `use_backend X if { req_ssl_sni -i host }`): the ClientHello parser on its own,
 * then a real tslb whose tcp frontend routes TLS it does not terminate to TLS
 * servers by SNI, byte-for-byte, and a seed-shaped config doing the same.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { HELLO_INVALID, HELLO_PARTIAL, MAX_CLIENT_HELLO_BYTES, parseClientHello, type HelloParse } from '../src/worker/clienthello';
import { loadConfig, formatIssue } from '../src/config/load';
import { issueCert, testCa } from './helpers/certs';
import { freePort, startTslb, tempDir } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** The first bytes a real Node TLS client sends (its ClientHello), captured by a plain TCP server. */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      srv.once('connection', (s) => {
        let data = Buffer.alloc(0);
        const timer = setTimeout(() => reject(new Error('no ClientHello')), 3000);
        s.on('data', (d) => {
          data = Buffer.concat([data, d]);
          if (parseClientHello(data) === HELLO_PARTIAL) return;
          clearTimeout(timer);
          s.destroy();
          resolve(data);
        });
      });
    });
    const client = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false });
    client.on('error', () => {});
    const hello = await got;
    client.destroy();
    return hello;
  } finally {
    srv.close();
  }
}

function record(type: number, body: Buffer, version = 0x0301): Buffer {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(body.length, 3);
  return Buffer.concat([h, body]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function serverNameExt(names: { type: number; name: Buffer }[]): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([n.type]), u16(n.name.length), n.name])));
  const body = Buffer.concat([u16(list.length), list]);
  return Buffer.concat([u16(0), u16(body.length), body]);
}

/** A minimal ClientHello handshake message (header included) with the given extensions. */
function helloMessage(extensions: Buffer[] | undefined, type = 1): Buffer {
  const parts = [u16(0x0303), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), u16(0x1301), Buffer.from([1, 0])];
  if (extensions) {
    const ext = Buffer.concat(extensions);
    parts.push(u16(ext.length), ext);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.from([type, 0, 0, 0]);
  head.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([head, body]);
}

function sniHello(host: string): Buffer {
  return record(0x16, helloMessage([serverNameExt([{ type: 0, name: Buffer.from(host) }])]));
}

/** The handshake message of `hello` cut into records of at most `size` bytes each. */
function rerecord(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += size) out.push(record(0x16, message.subarray(i, i + size)));
  return Buffer.concat(out);
}

function sni(r: HelloParse): string | undefined {
  assert.ok(typeof r === 'object', `expected a hello, got ${String(r)}`);
  return r.sni;
}

describe('ClientHello parser', () => {
  let real: Buffer;
  before(async () => {
    real = await captureClientHello('a.example');
  });

  test("a real client's hello, whole and cut at every byte", () => {
    assert.deepEqual(parseClientHello(real), { type: 1, sni: 'a.example' });
    for (let i = 0; i < real.length; i++) assert.equal(parseClientHello(real.subarray(0, i)), HELLO_PARTIAL, `cut at ${i}`);
    // Bytes after the hello (early data, a second record) change nothing.
    assert.equal(sni(parseClientHello(Buffer.concat([real, Buffer.from('tail')]))), 'a.example');
  });

  test('a hello fragmented over several records, and each prefix of them', () => {
    for (const size of [1, 3, 50, 200]) {
      const multi = rerecord(real, size);
      assert.equal(sni(parseClientHello(multi)), 'a.example', `records of ${size}`);
      for (let i = 0; i < multi.length; i += 7) assert.equal(parseClientHello(multi.subarray(0, i)), HELLO_PARTIAL, `records of ${size}, cut at ${i}`);
    }
    // A non-handshake record before the message is complete is not a hello.
    const multi = rerecord(real, 50);
    const broken = Buffer.concat([multi.subarray(0, 55), record(0x14, Buffer.from([1])), multi.subarray(55)]);
    assert.equal(parseClientHello(broken), HELLO_INVALID);
  });

  test('no SNI, empty server_name, several names, bad host names', async () => {
    assert.deepEqual(parseClientHello(await captureClientHello(undefined)), { type: 1, sni: undefined });
    assert.deepEqual(parseClientHello(record(0x16, helloMessage(undefined))), { type: 1, sni: undefined });
    assert.deepEqual(parseClientHello(record(0x16, helloMessage([u16(0), u16(0)]))), { type: 1, sni: undefined });
    const two = serverNameExt([
      { type: 1, name: Buffer.from('other') },
      { type: 0, name: Buffer.from('b.example') },
      { type: 0, name: Buffer.from('c.example') },
    ]);
    assert.equal(sni(parseClientHello(record(0x16, helloMessage([two])))), 'b.example');
    for (const bad of ['a b.example', 'a.example.', 'é.example', 'a\0.example', 'x'.repeat(256)]) {
      assert.equal(sni(parseClientHello(record(0x16, helloMessage([serverNameExt([{ type: 0, name: Buffer.from(bad) }])])))), undefined, bad);
    }
    assert.equal(sni(parseClientHello(sniHello('Mixed-Case_1.Example'))), 'Mixed-Case_1.Example');
  });

  test('garbage and malformed hellos are not hellos, and never throw', () => {
    assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), HELLO_INVALID);
    assert.equal(parseClientHello(Buffer.from([0x16])), HELLO_PARTIAL);
    assert.equal(parseClientHello(Buffer.from([0x16, 0x02])), HELLO_INVALID);
    assert.equal(parseClientHello(Buffer.from([0x15, 0x03, 0x01, 0, 2, 2, 40])), HELLO_INVALID);
    assert.equal(parseClientHello(record(0x16, Buffer.alloc(0))), HELLO_INVALID);
    // Another handshake type first: its type, no SNI.
    assert.deepEqual(parseClientHello(record(0x16, helloMessage(undefined, 2))), { type: 2, sni: undefined });
    const good = record(0x16, helloMessage([serverNameExt([{ type: 0, name: Buffer.from('a.example') }])]));
    // Every length field corrupted in turn, and every truncation of the message inside a well-framed record.
    for (let i = 5; i < good.length; i++) {
      for (const v of [0x00, 0xff]) {
        const bad = Buffer.from(good);
        bad[i] = v;
        const r = parseClientHello(bad);
        assert.ok(r === HELLO_INVALID || r === HELLO_PARTIAL || typeof r === 'object', `byte ${i}`);
      }
      const msg = good.subarray(5, i);
      const head = Buffer.from(msg.subarray(0, 4));
      if (head.length === 4) {
        head.writeUIntBE(msg.length - 4, 1, 3);
        const r = parseClientHello(record(0x16, Buffer.concat([head, msg.subarray(4)])));
        assert.ok(r === HELLO_INVALID || (typeof r === 'object' && r.sni === undefined), `truncated to ${i}`);
      }
    }
    // Duplicate server_name extensions.
    const dup = serverNameExt([{ type: 0, name: Buffer.from('a.example') }]);
    assert.equal(parseClientHello(record(0x16, helloMessage([dup, dup]))), HELLO_INVALID);
    // Random bytes behind a handshake record header.
    let seed = 1;
    for (let n = 0; n < 200; n++) {
      const body = Buffer.alloc(60 + (n % 40));
      for (let i = 0; i < body.length; i++) body[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
      body[0] = 1;
      body.writeUIntBE(body.length - 4, 1, 3);
      parseClientHello(record(0x16, body));
    }
  });

  test('oversized: a declared message beyond the limit, or a stream that never completes within it', () => {
    const head = Buffer.from([1, 0, 0, 0]);
    head.writeUIntBE(MAX_CLIENT_HELLO_BYTES, 1, 3);
    assert.equal(parseClientHello(record(0x16, Buffer.concat([head, Buffer.alloc(100)]))), HELLO_INVALID);
    const big = Buffer.from([1, 0, 0x30, 0]);
    const tiny = Buffer.concat(Array.from({ length: Math.ceil(MAX_CLIENT_HELLO_BYTES / 6) }, (_, i) => record(0x16, i === 0 ? big : Buffer.from([0]))));
    assert.equal(parseClientHello(tiny.subarray(0, MAX_CLIENT_HELLO_BYTES - 1)), HELLO_PARTIAL);
    assert.equal(parseClientHello(tiny), HELLO_INVALID);
  });
});
