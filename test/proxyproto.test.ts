import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { encodeProxyHeader, parseProxyHeader, readProxyHeader, type ProxyAddresses } from '../src/proxyproto';
import { listenTracked } from './helpers/backends';
import { server, startL4Proxy, tcpModel } from './helpers/l4-model';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = verCmd;
  head[1] = fam;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function ipv4Body(tlvs: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([10, 0, 0, 1, 192, 168, 1, 2, 0x30, 0x39, 0x01, 0xbb]), tlvs]);
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}

describe('PROXY header parsing', () => {
  it('parses v1 TCP4, TCP6 and UNKNOWN', () => {
    const four = parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET'));
    assert.deepEqual(four, { length: 45, addr: { src: '192.0.2.1', srcPort: 56324, dst: '198.51.100.2', dstPort: 443 } });
    const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 65535 0\r\n'));
    assert.deepEqual(six, { length: 36, addr: { src: '2001:db8::1', srcPort: 65535, dst: '::1', dstPort: 0 } });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ::1 1 2\r\n')), { length: 31, addr: null });
  });

  it('asks for more bytes on a partial header', () => {
    assert.equal(parseProxyHeader(Buffer.from('PROX')), undefined);
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r')), undefined);
    assert.equal(parseProxyHeader(SIG.subarray(0, 7)), undefined);
    assert.equal(parseProxyHeader(v2(0x21, 0x11, ipv4Body()).subarray(0, 20)), undefined);
  });

  it('rejects malformed v1 headers', () => {
    for (const text of [
      'GET / HTTP/1.1\r\n',
      'PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP4 1.2.3.4 ::1 1 2\r\n',
      'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n',
      'PROXY TCP4 ' + 'x'.repeat(100),
    ]) {
      const r = parseProxyHeader(Buffer.from(text));
      assert.ok(r instanceof Error, `refused: ${JSON.stringify(text)}`);
    }
  });

  it('parses v2 IPv4 and IPv6, skipping TLVs', () => {
    const withTlvs = v2(0x21, 0x11, ipv4Body(Buffer.concat([tlv(0x02, Buffer.from('example.com')), tlv(0xe1, Buffer.alloc(0))])));
    assert.deepEqual(parseProxyHeader(Buffer.concat([withTlvs, Buffer.from('rest')])), {
      length: withTlvs.length,
      addr: { src: '10.0.0.1', srcPort: 12345, dst: '192.168.1.2', dstPort: 443 },
    });
    const six = Buffer.alloc(36);
    six.writeUInt16BE(0x2001, 0);
    six.writeUInt16BE(0x0db8, 2);
    six.writeUInt16BE(0x0001, 14);
    six[16 + 10] = 0xff;
    six[16 + 11] = 0xff;
    six.set([127, 0, 0, 1], 16 + 12);
    six.writeUInt16BE(80, 32);
    six.writeUInt16BE(8080, 34);
    assert.deepEqual(parseProxyHeader(v2(0x21, 0x21, six)), {
      length: 52,
      addr: { src: '2001:db8::1', srcPort: 80, dst: '::ffff:127.0.0.1', dstPort: 8080 },
    });
  });

  it('keeps the socket addresses for v2 LOCAL, UNSPEC and UNIX', () => {
    assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))), { length: 16, addr: null });
    assert.deepEqual(parseProxyHeader(v2(0x20, 0x11, ipv4Body())), { length: 28, addr: null });
    assert.deepEqual(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))), { length: 232, addr: null });
  });

  it('rejects malformed v2 headers', () => {
    const cases: [string, Buffer][] = [
      ['bad signature', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540b', 'hex'), Buffer.alloc(4)])],
      ['version 1', v2(0x11, 0x11, ipv4Body())],
      ['command 2', v2(0x22, 0x11, ipv4Body())],
      ['family 4', v2(0x21, 0x41, ipv4Body())],
      ['short address block', v2(0x21, 0x11, Buffer.alloc(8))],
      ['TLV overrun', v2(0x21, 0x11, ipv4Body(Buffer.from([0x02, 0x00, 0x10, 0x41])))],
      ['truncated TLV header', v2(0x21, 0x11, ipv4Body(Buffer.from([0x02, 0x00])))],
    ];
    for (const [name, buf] of cases) assert.ok(parseProxyHeader(buf) instanceof Error, name);
  });

  it('round-trips encoded v1 and v2 headers for IPv4, IPv6 and mixed families', () => {
    const samples: [ProxyAddresses, ProxyAddresses][] = [
      [
        { src: '203.0.113.7', srcPort: 40000, dst: '127.0.0.1', dstPort: 443 },
        { src: '203.0.113.7', srcPort: 40000, dst: '127.0.0.1', dstPort: 443 },
      ],
      [
        { src: '2001:db8:0:0:1:0:0:1', srcPort: 1, dst: 'fe80::1:2', dstPort: 65535 },
        { src: '2001:db8::1:0:0:1', srcPort: 1, dst: 'fe80::1:2', dstPort: 65535 },
      ],
      [
        { src: '192.0.2.9', srcPort: 5, dst: '::1', dstPort: 6 },
        { src: '::ffff:192.0.2.9', srcPort: 5, dst: '::1', dstPort: 6 },
      ],
    ];
    for (const [addr, expected] of samples) {
      const one = parseProxyHeader(encodeProxyHeader(1, addr));
      assert.ok(one && !(one instanceof Error));
      // v1 carries the text as given (mapped prefix added for mixed families).
      assert.equal(one.addr?.srcPort, addr.srcPort);
      assert.equal(net.isIP(one.addr!.src), net.isIP(expected.src));
      const two = parseProxyHeader(encodeProxyHeader(2, addr));
      assert.ok(two && !(two instanceof Error));
      assert.deepEqual(two.addr, expected);
    }
  });
});

interface Received {
  err: Error | null;
  addr: ProxyAddresses | null;
  rest: Promise<Buffer>;
}

/** A server that reads a PROXY header from each connection, then collects what follows until FIN. */
async function startReader(timeoutMs: number): Promise<{ port: number; next(): Promise<Received> }> {
  const queue: Received[] = [];
  const waiters: ((r: Received) => void)[] = [];
  const srv = net.createServer((s) => {
    readProxyHeader(s, timeoutMs, (err, addr) => {
      if (err) s.destroy();
      const rest = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        s.on('data', (c) => chunks.push(c));
        s.on('error', () => undefined);
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('end', () => s.end());
        if (!err) s.resume();
      });
      const r = { err, addr, rest };
      const w = waiters.shift();
      if (w) w(r);
      else queue.push(r);
    });
  });
  const listening = await listenTracked(srv);
  cleanups.push(listening.close);
  return {
    port: listening.port,
    next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))),
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function send(port: number, parts: Buffer[], gapMs: number): net.Socket {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  sock.on('error', () => undefined);
  void (async () => {
    await new Promise((r) => sock.once('connect', r));
    for (const p of parts) {
      if (sock.destroyed) return;
      sock.write(p);
      await pause(gapMs);
    }
    sock.end();
  })();
  return sock;
}

describe('readProxyHeader on sockets', () => {
  it('reads a header split across packets and keeps the bytes after it', async () => {
    const reader = await startReader(2000);
    const header = encodeProxyHeader(2, { src: '198.51.100.20', srcPort: 1234, dst: '127.0.0.1', dstPort: 80 });
    const payload = Buffer.from('payload after the header');
    // Split inside the signature, inside the address block, and with the payload glued to the header's tail.
    send(reader.port, [header.subarray(0, 5), header.subarray(5, 20), Buffer.concat([header.subarray(20), payload.subarray(0, 7)]), payload.subarray(7)], 30);
    const r = await reader.next();
    assert.equal(r.err, null);
    assert.deepEqual(r.addr, { src: '198.51.100.20', srcPort: 1234, dst: '127.0.0.1', dstPort: 80 });
    assert.equal((await r.rest).toString(), payload.toString());
  });

  it('keeps leftover bytes that arrive with a v1 header in one packet', async () => {
    const reader = await startReader(2000);
    send(reader.port, [Buffer.from('PROXY TCP4 192.0.2.1 192.0.2.2 1000 2000\r\nhello')], 0);
    const r = await reader.next();
    assert.deepEqual(r.addr, { src: '192.0.2.1', srcPort: 1000, dst: '192.0.2.2', dstPort: 2000 });
    assert.equal((await r.rest).toString(), 'hello');
  });

  it('fails a malformed header at once and a slow one on timeout', async () => {
    const reader = await startReader(300);
    const started = Date.now();
    send(reader.port, [Buffer.from('PROXY TCP9 x\r\n')], 0);
    const bad = await reader.next();
    assert.ok(bad.err);
    assert.ok(Date.now() - started < 250);
    const slow = send(reader.port, [Buffer.from('PROXY TCP4 1.2.3.4')], 2000);
    const t0 = Date.now();
    const timedOut = await reader.next();
    assert.match(String(timedOut.err), /timeout/);
    assert.ok(Date.now() - t0 >= 250);
    slow.destroy();
  });

  it('fails when the connection ends before the header does', async () => {
    const reader = await startReader(2000);
    send(reader.port, [SIG.subarray(0, 10)], 0);
    const r = await reader.next();
    assert.ok(r.err);
  });
});

describe('send-proxy to servers', () => {
  for (const version of [1, 2] as const) {
    it(`sends a PROXY v${version} header carrying the client's addresses before the payload`, async () => {
      const reader = await startReader(2000);
      const p = await startL4Proxy(tcpModel([server('pp', reader.port, { sendProxy: version })]));
      cleanups.push(p.close);
      const client = net.connect({ port: p.port, host: '127.0.0.1' });
      client.on('error', () => undefined);
      await new Promise((r) => client.once('connect', r));
      client.end('data after header');
      const r = await reader.next();
      assert.equal(r.err, null);
      assert.deepEqual(r.addr, { src: '127.0.0.1', srcPort: client.localPort, dst: '127.0.0.1', dstPort: p.port });
      assert.equal((await r.rest).toString(), 'data after header');
      client.destroy();
    });
  }
});
