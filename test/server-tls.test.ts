/**
 * TLS to servers through a real tslb: `crt` presents a client certificate to a
 * backend that requires one (requests and TLS health checks), `ssl-max-ver` and
 * `alpn` reach the server's handshake; without `crt` the backend refuses tslb.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { issueCert, issueClientCert, testCa } from './helpers/certs';
import { freePort, runCli, startTslb, tempDir } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const BACKEND = 'backend.example.test';

/** An HTTPS server that requires a client certificate from the test CA and says what the handshake was. */
async function startMtlsBackend(): Promise<number> {
  const cert = issueCert([BACKEND]);
  const server = https.createServer({ cert: cert.cert, key: cert.key, ca: testCa().cert, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    const sock = req.socket as TLSSocket;
    const body = JSON.stringify({ client: sock.getPeerCertificate().subject?.CN, protocol: sock.getProtocol(), alpn: sock.alpnProtocol });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return (server.address() as AddressInfo).port;
}

test('crt, ssl-max-ver and alpn on a server line: the backend sees the client certificate, TLS 1.2 and http/1.1', async () => {
  const backendPort = await startMtlsBackend();
  const dir = tempDir('tslb-server-tls-');
  const client = issueClientCert([['O', 'Example'], ['CN', 'tslb-client']]);
  writeFileSync(path.join(dir, 'client.pem'), client.cert + client.key);
  writeFileSync(path.join(dir, 'ca.pem'), testCa().cert);
  const tlsOpts = `ssl verify required ca-file ${dir}/ca.pem sni str(${BACKEND}) check inter 200ms fall 1 rise 1`;
  const port = await freePort();
  const lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    use_backend: [{ backend: nocrt, if: "path_beg /nocrt" }]
    default_backend: mtls
    log: { enabled: false }
backends:
  - name: mtls
    mode: http
    health_check: "httpchk GET /"
    servers: [{ name: s1, address: 127.0.0.1, port: ${backendPort}, options: "${tlsOpts} crt ${dir}/client.pem ssl-max-ver TLSv1.2 alpn http/1.1" }]
  - name: nocrt
    mode: http
    health_check: "httpchk GET /"
    servers: [{ name: s1, address: 127.0.0.1, port: ${backendPort}, options: "${tlsOpts}" }]
`);
  cleanups.push(() => lb.stop());

  const res = await request(`http://127.0.0.1:${port}/`);
  assert.equal(res.statusCode, 200);
  assert.deepEqual(await res.body.json(), { client: 'tslb-client', protocol: 'TLSv1.2', alpn: 'http/1.1' });

  // Its HTTP check over TLS fails without the certificate (a TLS 1.3 handshake completes before the
  // server checks the client's certificate, so a plain TLS check would pass): DOWN. A request gets
  // 503, or 502 when it reaches the worker before the DOWN state does.
  await lb.waitForLog((e) => /Server nocrt\/s1 is DOWN/.test(String(e.msg)), 5000);
  const refused = await request(`http://127.0.0.1:${port}/nocrt`);
  await refused.body.text();
  assert.ok([502, 503].includes(refused.statusCode), `refused: ${refused.statusCode}`);
  // The one with crt passes its checks (1 failure would mark it DOWN) and still serves.
  assert.doesNotMatch(lb.logs(), /Server mtls\/s1 is DOWN/);
  const again = await request(`http://127.0.0.1:${port}/`);
  assert.equal(again.statusCode, 200);
  await again.body.text();
});

test('-c: alpn other than h2/http to an http server, an unknown version, and crt without ssl', async () => {
  const dir = tempDir('tslb-server-tls-check-');
  const client = issueClientCert([['CN', 'tslb-client']]);
  writeFileSync(path.join(dir, 'client.pem'), client.cert + client.key);
  const file = path.join(dir, 'lb.yaml');
  writeFileSync(
    file,
    `frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:8080"], default_backend: app }
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: 9001, options: "ssl alpn spdy/3,http/1.1" }
      - { name: s2, address: 127.0.0.1, port: 9002, options: "ssl ssl-min-ver SSLv3" }
      - { name: s3, address: 127.0.0.1, port: 9003, options: "crt client.pem" }
`,
  );
  const r = await runCli(['-c', '-f', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /servers\[0\]\.options: alpn spdy\/3,http\/1\.1: tslb speaks HTTP\/1\.1 and h2 to servers, it may offer h2, http\/1\.1 and http\/1\.0 only \(not spdy\/3\)/);
  assert.match(r.stderr, /servers\[1\]\.options: ssl-min-ver: must be TLSv1\.0, TLSv1\.1, TLSv1\.2 or TLSv1\.3, not "SSLv3"/);
  assert.match(r.stderr, /\[WARNING\] .*servers\[2\]\.options: crt, ssl-min-ver, ssl-max-ver and alpn apply to servers with ssl/);
});
