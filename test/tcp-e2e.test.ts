/**
 * The L4 path through a real multi-worker tslb: PROXY v1 accepted on the bind, TLS
 * terminated there with SNI, the client's address forwarded with send-proxy-v2,
 * and TLS re-encryption to a verified server.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { readProxyHeader, type ProxyAddresses } from '../src/proxyproto';
import { listenTracked } from './helpers/backends';
import { issueCert, testCa } from './helpers/certs';
import { freePort, startTslb, tempDir } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A backend that reads a PROXY header, then answers `<src>:<port> <bytes received>` after the client's FIN. */
async function startProxyAwareBackend(): Promise<number> {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    readProxyHeader(s, 2000, (err, addr: ProxyAddresses | null) => {
      if (err || !addr) return s.destroy();
      let body = '';
      s.on('data', (d) => (body += d));
      s.on('end', () => s.end(`${addr.src}:${addr.srcPort} ${body}`));
      s.resume();
    });
  });
  const listening = await listenTracked(srv);
  cleanups.push(listening.close);
  return listening.port;
}

async function startTlsEcho(): Promise<number> {
  const cert = issueCert(['echo.backend.test']);
  const srv = tls.createServer({ cert: cert.cert, key: cert.key, allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  return (srv.address() as net.AddressInfo).port;
}


function collect(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
    sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
  });
}

/** One tslb process (starting one is the slow part) with a frontend per scenario. */
const ports = { tlsProxy: 0, plainProxy: 0, reencrypt: 0 };

before(async () => {
  const dir = tempDir();
  const site = issueCert(['l4.example.test']);
  const pem = path.join(dir, 'site.pem');
  writeFileSync(pem, site.cert + site.key);
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, testCa().cert);
  const backendPort = await startProxyAwareBackend();
  const echoPort = await startTlsEcho();
  ports.tlsProxy = await freePort();
  ports.plainProxy = await freePort();
  ports.reencrypt = await freePort();
  const lb = await startTslb(`
global: { workers: 2 }
frontends:
  - name: tls_proxy
    mode: tcp
    binds:
      - { address: 127.0.0.1, port: ${ports.tlsProxy}, accept_proxy: true, ssl: { certificates: ["${pem}"] } }
    default_backend: pp
  - name: plain_proxy
    mode: tcp
    binds: [{ address: 127.0.0.1, port: ${ports.plainProxy}, accept_proxy: true }]
    default_backend: pp
  - name: reencrypt
    mode: tcp
    binds: ["127.0.0.1:${ports.reencrypt}"]
    default_backend: secure
backends:
  - name: pp
    mode: tcp
    servers:
      - { name: r1, address: 127.0.0.1, port: ${backendPort}, send_proxy: 2 }
  - name: secure
    mode: tcp
    servers:
      - { name: s1, address: 127.0.0.1, port: ${echoPort}, ssl: true, sni: echo.backend.test, options: "verify required ca-file ${caFile}" }
`);
  cleanups.push(() => lb.stop());
});

test('accept-proxy + TLS termination on a tcp bind, client address forwarded with send-proxy-v2', async () => {
  const port = ports.tlsProxy;
  for (let i = 0; i < 4; i++) {
    const raw = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => raw.once('connect', r));
    raw.write(`PROXY TCP4 203.0.113.${i + 1} 127.0.0.1 ${4000 + i} ${port}\r\n`);
    const secure = tls.connect({ socket: raw, servername: 'l4.example.test', ca: testCa().cert, allowHalfOpen: true } as tls.ConnectionOptions);
    await new Promise((r) => secure.once('secureConnect', r));
    assert.equal(secure.getPeerCertificate().subject.CN, 'l4.example.test');
    const reply = collect(secure);
    secure.end('through tls');
    assert.equal(await reply, `203.0.113.${i + 1}:${4000 + i} through tls`);
  }
});

test('a malformed PROXY header closes the connection', async () => {
  const sock = net.connect({ port: ports.plainProxy, host: '127.0.0.1' });
  const reply = collect(sock).catch(() => 'reset');
  sock.write('HELLO not a proxy header\r\n');
  assert.ok(['', 'reset'].includes(await reply));
});

test('TLS re-encryption to a server verified with ca-file and sni', async () => {
  const sock = net.connect({ port: ports.reencrypt, host: '127.0.0.1', allowHalfOpen: true });
  const reply = collect(sock);
  sock.end('re-encrypted');
  assert.equal(await reply, 're-encrypted');
});
