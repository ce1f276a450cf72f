/**
 * TLS passthrough routed by SNI (HAProxy's `tcp-request inspect-delay` +
 * `use_backend X if { req_ssl_sni -i host }`): the ClientHello parser on its own,
 * then a real tslb whose tcp frontend routes TLS it does not terminate to TLS
 * servers by SNI, byte-for-byte, and a seed-shaped config doing the same.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { HELLO_INVALID, HELLO_PARTIAL, MAX_CLIENT_HELLO_BYTES, parseClientHello, type HelloParse } from '../src/worker/clienthello';
import { loadConfig, formatIssue } from '../src/config/load';
import { listenTracked } from './helpers/backends';
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

/** A TLS server holding a certificate for `host`; it answers `<host>:<bytes received>` to each line. */
async function startTlsSite(host: string): Promise<number> {
  const cert = issueCert([host]);
  const srv = tls.createServer({ cert: cert.cert, key: cert.key }, (s) => {
    s.on('error', () => s.destroy());
    s.on('data', (d) => s.write(`${host}:${d}`));
  });
  const listening = await listenTracked(srv);
  cleanups.push(listening.close);
  return listening.port;
}

/** A plain TCP server that greets first (`<name>>`) and echoes what it receives; it records every byte. */
async function startPlainEcho(name: string): Promise<{ port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const srv = net.createServer((s) => {
    let got = Buffer.alloc(0);
    s.on('close', () => received.push(got));
    s.on('error', () => s.destroy());
    s.write(`${name}>`);
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      s.write(d);
    });
    s.on('end', () => s.end());
  });
  const listening = await listenTracked(srv);
  cleanups.push(listening.close);
  return { port: listening.port, received };
}

/** TLS through the proxy with `servername`: the certificate's CN and the site's answer to `ping`. */
async function tlsExchange(port: number, servername: string): Promise<{ cn: string; reply: string }> {
  const sock = tls.connect({ port, host: '127.0.0.1', servername, ca: testCa().cert });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', resolve);
      sock.once('error', reject);
    });
    const cn = String(sock.getPeerCertificate().subject.CN);
    const reply = new Promise<string>((resolve, reject) => {
      sock.once('data', (d) => resolve(String(d)));
      sock.once('error', reject);
    });
    sock.write('ping');
    return { cn, reply: await reply };
  } finally {
    sock.destroy();
  }
}

/** Raw bytes written in `segments` (a pause between each); resolves with everything received until `expect` bytes came or the server closed. */
function rawExchange(port: number, segments: Buffer[], expect: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out with ${JSON.stringify(String(got))}`));
    }, 5000);
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= expect) done();
    });
    sock.on('close', done);
    sock.on('error', reject);
    let i = 0;
    const next = () => {
      if (i < segments.length) sock.write(segments[i++], () => setTimeout(next, 20));
    };
    sock.once('connect', next);
  });
}

describe('SNI routing of TLS passed through, through a real tslb', () => {
  const ports = { native: 0, seed: 0 };
  let raw: { port: number; received: Buffer[] };
  const INSPECT_MS = 1000;
  let logFile = '';

  before(async () => {
    const a = await startTlsSite('a.example');
    const b = await startTlsSite('b.example');
    raw = await startPlainEcho('raw');
    const fallback = await startPlainEcho('fallback');
    ports.native = await freePort();
    ports.seed = await freePort();
    logFile = path.join(tempDir('tslb-sni-'), 'access.log');
    const lb = await startTslb(`
global: { workers: 1, access_log: ${logFile} }
frontends:
  - name: sni
    mode: tcp
    binds: ["127.0.0.1:${ports.native}"]
    inspect_delay: ${INSPECT_MS}ms
    log: { format: tcplog }
    use_backend:
      - { backend: site_a, if: "{ req_ssl_sni -i a.example }" }
      - { backend: site_b, if: "{ req.ssl_sni -i B.EXAMPLE }" }
      - { backend: raw, if: "{ req_ssl_hello_type 1 } { req_ssl_sni -m end .raw.example }" }
    default_backend: fallback
backends:
  - { name: site_a, mode: tcp, servers: [{ name: a1, address: 127.0.0.1, port: ${a} }] }
  - { name: site_b, mode: tcp, servers: [{ name: b1, address: 127.0.0.1, port: ${b} }] }
  - { name: raw, mode: tcp, servers: [{ name: r1, address: 127.0.0.1, port: ${raw.port} }] }
  - { name: fallback, mode: tcp, servers: [{ name: f1, address: 127.0.0.1, port: ${fallback.port} }] }
`);
    cleanups.push(() => lb.stop());
    const seed = await startTslb(`
proxy:
  https_in_binds: [{ ip: "127.0.0.1", port: ${ports.seed} }]
  https_options: ["tcplog"]
  backends:
    - { name: site_a, ssl_sni: a.example, mode: tcp, balance: roundrobin, server_name: a1, server_host_ip: 127.0.0.1, server_port: ${a}, server_ops: "" }
    - { name: site_b, ssl_sni: b.example, mode: tcp, balance: roundrobin, server_name: b1, server_host_ip: 127.0.0.1, server_port: ${b}, server_ops: "" }
`);
    cleanups.push(() => seed.stop());
  });

  test('the ClientHello reaches the site its SNI names: end-to-end TLS with that site', async () => {
    assert.deepEqual(await tlsExchange(ports.native, 'a.example'), { cn: 'a.example', reply: 'a.example:ping' });
    assert.deepEqual(await tlsExchange(ports.native, 'b.example'), { cn: 'b.example', reply: 'b.example:ping' });
    assert.deepEqual(await tlsExchange(ports.native, 'a.example'), { cn: 'a.example', reply: 'a.example:ping' });
  });

  test('the inspected bytes are forwarded byte-for-byte, even split over segments and records', async () => {
    const hello = rerecord(sniHello('x.raw.example'), 40);
    const tail = Buffer.from('after the hello');
    const segments = [hello.subarray(0, 3), hello.subarray(3, 50), hello.subarray(50), tail];
    const sent = Buffer.concat(segments);
    const before = raw.received.length;
    const got = await rawExchange(ports.native, segments, 4 + sent.length);
    assert.equal(String(got.subarray(0, 4)), 'raw>');
    assert.deepEqual(got.subarray(4), sent);
    // The server saw exactly the client's bytes.
    for (let i = 0; i < 50 && raw.received.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(raw.received[before], sent);
  });

  test('an unknown SNI and a non-TLS client go to the default backend at once', async () => {
    const hello = sniHello('c.example');
    const got = await rawExchange(ports.native, [hello], 'fallback>'.length + hello.length);
    assert.deepEqual(got, Buffer.concat([Buffer.from('fallback>'), hello]));
    const t0 = Date.now();
    const plain = await rawExchange(ports.native, [Buffer.from('HELLO\r\n')], 'fallback>HELLO\r\n'.length);
    assert.equal(String(plain), 'fallback>HELLO\r\n');
    assert.ok(Date.now() - t0 < INSPECT_MS, 'not TLS: no need to wait');
  });

  test('a client that sends nothing is routed to the default backend after inspect_delay', async () => {
    const t0 = Date.now();
    const got = await rawExchange(ports.native, [], 'fallback>'.length);
    const waited = Date.now() - t0;
    assert.equal(String(got), 'fallback>');
    assert.ok(waited >= INSPECT_MS - 50 && waited < INSPECT_MS + 1500, `waited ${waited} ms`);
  });

  test('a FIN right after the ClientHello: routed by it, bytes then FIN forwarded', async () => {
    const hello = sniHello('fin.raw.example');
    const sock = net.connect({ port: ports.native, host: '127.0.0.1', allowHalfOpen: true });
    const got = await new Promise<Buffer>((resolve, reject) => {
      let data = Buffer.alloc(0);
      sock.on('data', (d) => (data = Buffer.concat([data, d])));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
      sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
      sock.end(hello);
    });
    sock.destroy();
    assert.deepEqual(got, Buffer.concat([Buffer.from('raw>'), hello]));
  });

  test('a client gone while its ClientHello is awaited is logged CR', async () => {
    const sock = net.connect({ port: ports.native, host: '127.0.0.1' });
    await new Promise((resolve) => sock.once('connect', resolve));
    const localPort = sock.localPort;
    sock.write(sniHello('a.example').subarray(0, 20));
    await new Promise((r) => setTimeout(r, 100));
    sock.resetAndDestroy();
    const until = Date.now() + 5000;
    let line: string | undefined;
    while (!line && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      line = (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '').split('\n').find((l) => l.startsWith(`127.0.0.1:${localPort} `));
    }
    assert.ok(line, 'no log line');
    assert.match(line, / sni fallback\/<NOSRV> .* CR /);
  });

  test('a seed-shaped config (tcp backends with ssl_sni, no ssl section) routes the same way', async () => {
    assert.deepEqual(await tlsExchange(ports.seed, 'b.example'), { cn: 'b.example', reply: 'b.example:ping' });
    assert.deepEqual(await tlsExchange(ports.seed, 'a.example'), { cn: 'a.example', reply: 'a.example:ping' });
    // Unknown names go to the default backend: the first one, as config/README.md says.
    const sock = tls.connect({ port: ports.seed, host: '127.0.0.1', servername: 'c.example', rejectUnauthorized: false });
    await new Promise((resolve, reject) => {
      sock.once('secureConnect', resolve);
      sock.once('error', reject);
    });
    assert.equal(sock.getPeerCertificate().subject.CN, 'a.example');
    sock.destroy();
  });
});

test('seed adapter: https-in in tcp mode gets one req_ssl_sni rule per backend with ssl_sni', () => {
  const dir = tempDir();
  const file = path.join(dir, 'seed.yaml');
  writeFileSync(
    file,
    `proxy:
  https_in_binds: [{ ip: "127.0.0.1", port: 9443 }]
  backends:
    - { name: site_a, ssl_sni: a.example, mode: tcp, server_name: a1, server_host_ip: 127.0.0.1, server_port: 1001 }
    - { name: site_a, ssl_sni: a.example, mode: tcp, server_name: a2, server_host_ip: 127.0.0.1, server_port: 1002 }
    - { name: site_b, ssl_sni: b.example, mode: tcp, server_name: b1, server_host_ip: 127.0.0.1, server_port: 1003 }
`,
  );
  const r = loadConfig([file]);
  assert.deepEqual(r.errors.map(formatIssue), []);
  assert.deepEqual(r.warnings.map(formatIssue), []);
  const fe = r.model!.frontends.find((f) => f.name === 'https-in')!;
  assert.equal(fe.mode, 'tcp');
  assert.equal(fe.defaultBackend, 'site_a');
  assert.deepEqual(
    fe.useBackend.map((u) => [u.backend, u.text]),
    [
      ['site_a', 'if { req_ssl_sni -i "a.example" }'],
      ['site_b', 'if { req_ssl_sni -i "b.example" }'],
    ],
  );
});

test('seed adapter: with ssl.enabled, a tcp https-in routes by the SNI of the TLS it terminates', () => {
  const dir = tempDir();
  const site = issueCert(['lb.example']);
  writeFileSync(path.join(dir, 'site.pem'), site.cert + site.key);
  const file = path.join(dir, 'seed.yaml');
  writeFileSync(
    file,
    `proxy:
  https_in_binds: [{ ip: "127.0.0.1", port: 443 }]
  ssl: { enabled: true, certificate_path: "${dir}", certificate_file: site.pem }
  backends:
    - { name: site_a, ssl_sni: a.example, mode: tcp, server_name: a1, server_host_ip: 127.0.0.1, server_port: 1001 }
`,
  );
  const r = loadConfig([file]);
  assert.deepEqual(r.errors.map(formatIssue), []);
  const fe = r.model!.frontends.find((f) => f.name === 'https-in')!;
  assert.deepEqual(
    fe.useBackend.map((u) => [u.backend, u.text]),
    [['site_a', 'if { ssl_fc_sni -i "a.example" }']],
  );
});

test('config: inspect_delay, and req_ssl_sni only where a ClientHello can be read', () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const ok = loadConfig([
    write(
      'ok.yaml',
      `frontends:
  - { name: t, mode: tcp, binds: ["127.0.0.1:9001"], inspect_delay: 2s, use_backend: [{ backend: b, if: "{ req_ssl_sni -i a.example }" }] }
  - { name: idle, mode: tcp, binds: ["127.0.0.1:9002"], inspect_delay: 2s, default_backend: b }
backends:
  - { name: b, mode: tcp, servers: [{ name: s, address: 127.0.0.1, port: 1000 }] }
`,
    ),
  ]);
  assert.deepEqual(ok.errors.map(formatIssue), []);
  assert.equal(ok.model!.frontends[0].inspectDelay, 2000);
  assert.ok(ok.warnings.some((w) => w.path === 'frontends[1].inspect_delay' && /no effect/.test(w.message)), ok.warnings.map(formatIssue).join('\n'));
  const http = loadConfig([
    write(
      'http.yaml',
      `frontends:
  - { name: h, mode: http, binds: ["127.0.0.1:9003"], use_backend: [{ backend: b, if: "{ req_ssl_sni -i a.example }" }] }
backends:
  - { name: b, mode: http, servers: [{ name: s, address: 127.0.0.1, port: 1000 }] }
`,
    ),
  ]);
  assert.ok(http.errors.some((e) => /req_ssl_sni/.test(e.message)), http.errors.map(formatIssue).join('\n'));
});
