/**
 * Real HTTP/2 clients against H2Connection (the test server of test/helpers/h2server.ts):
 * curl (libcurl with nghttp2) with prior knowledge and over TLS with ALPN, nghttp, and a
 * short h2load run with ten streams per connection. A test whose tool is missing is
 * skipped with the reason (.ci/run installs curl and nghttp2-client).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { issueCert } from './helpers/certs';
import { startH2Server, type H2TestServer } from './helpers/h2server';
import { runProgram, tempDir } from './helpers/tslb';

const hasCurlH2 = /HTTP2/.test(spawnSync('curl', ['--version']).stdout?.toString() ?? '');
const hasNghttp = spawnSync('nghttp', ['--version']).status === 0;
const hasH2load = spawnSync('h2load', ['--version']).status === 0;
const NO_NGHTTP2 = 'nghttp2-client not installed (Debian package nghttp2-client)';

const servers: H2TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const cert = issueCert(['localhost']);
const dir = tempDir('tslb-h2-clients-');
const caFile = path.join(dir, 'ca.pem');
writeFileSync(caFile, cert.ca);

test('curl: GET over h2c (prior knowledge) and over TLS with ALPN h2, and a 3 MB upload', { skip: !hasCurlH2 && 'curl without HTTP/2 support' }, async () => {
  const plain = await startH2Server();
  const secure = await startH2Server({ tls: cert });
  servers.push(plain, secure);
  const a = await runProgram('curl', ['-s', '--http2-prior-knowledge', '-w', ' %{http_version} %{response_code}', `http://127.0.0.1:${plain.port}/hello`]);
  assert.equal(a.stdout, 'hello 2 200', a.stderr);
  const b = await runProgram('curl', [
    '-s', '--http2', '--cacert', caFile, '--resolve', `localhost:${secure.port}:127.0.0.1`, '-w', ' %{http_version} %{response_code}',
    `https://localhost:${secure.port}/hello`,
  ]);
  assert.equal(b.stdout, 'hello 2 200', b.stderr);
  const body = randomBytes(3 << 20);
  const file = path.join(dir, 'upload.bin');
  writeFileSync(file, body);
  const c = await runProgram('curl', ['-s', '--http2-prior-knowledge', '--data-binary', `@${file}`, `http://127.0.0.1:${plain.port}/sha`]);
  assert.equal(c.stdout, createHash('sha256').update(body).digest('hex'), c.stderr);
});

test('nghttp: response trailers and a 1 MiB body', { skip: !hasNghttp && NO_NGHTTP2 }, async () => {
  const s = await startH2Server();
  servers.push(s);
  const t = await runProgram('nghttp', ['-v', `http://127.0.0.1:${s.port}/trailers`]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /x-t1: one/);
  assert.match(t.stdout, /x-t2: two/);
  const big = await runProgram('nghttp', ['-s', `http://127.0.0.1:${s.port}/bytes?n=${1 << 20}`]);
  assert.equal(big.status, 0, big.stderr);
  assert.match(big.stdout, /200\s+1M/);
});

test('h2load: 4,000 requests over 4 connections × 10 streams, none failed', { skip: !hasH2load && NO_NGHTTP2 }, async () => {
  const s = await startH2Server();
  servers.push(s);
  const r = await runProgram('h2load', ['-n', '4000', '-c', '4', '-m', '10', `http://127.0.0.1:${s.port}/hello`]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4000 succeeded, 0 failed, 0 errored, 0 timeout/);
  assert.match(r.stdout, /status codes: 4000 2xx/);
});
