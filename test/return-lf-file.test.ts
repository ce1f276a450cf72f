/**
 * `lf-file <file>`: a file whose text is a log-format body, evaluated per answer, in
 * `http-request return` (HAProxy line and YAML `lf_file`) and `http-error` (the page of
 * a status tslb answers itself). `tslb -c` refuses a missing file or a mistake in its
 * samples with file, line and path; relative paths are read from the config's directory.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

let lb: TslbProcess;
let port = 0;
const dir = tempDir('tslb-lf-file-');

before(async () => {
  port = await freePort();
  writeFileSync(path.join(dir, 'who.lf'), 'host=%[req.hdr(host)] path=%[path]\n');
  writeFileSync(path.join(dir, 'who.html'), '<p>%[req.hdr(host),upper] via yaml</p>');
  writeFileSync(path.join(dir, 'down.lf'), 'no server for %[req.hdr(host)]');
  lb = await startTslb(`
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    http_request:
      - { return: { status: 201, content_type: text/html, lf_file: "${path.join(dir, 'who.html')}" }, if: "path /yaml" }
    options:
      - http-request return status 200 content-type text/plain lf-file ${path.join(dir, 'who.lf')} hdr X-Kind line if { path_beg /who }
      - http-error status 503 content-type text/plain lf-file ${path.join(dir, 'down.lf')}
    default_backend: empty
backends:
  - name: empty
    servers: []
`);
});
after(async () => {
  await lb?.stop();
});

async function get(p: string, host: string, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`http://127.0.0.1:${port}${p}`, { method, headers: { host } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

test('http-request return lf-file: the body is the file evaluated per request (two hosts, two bodies), with its content-type and hdr', async () => {
  const a = await get('/who/a', 'one.example');
  assert.equal(a.status, 200);
  assert.equal(a.body, 'host=one.example path=/who/a\n');
  assert.equal(a.headers['content-type'], 'text/plain');
  assert.equal(a.headers['x-kind'], 'line');
  assert.equal(a.headers['content-length'], String(a.body.length));
  assert.equal((await get('/who/b', 'two.example')).body, 'host=two.example path=/who/b\n');
  const head = await get('/who/a', 'one.example', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('YAML return.lf_file, with a converter in the file', async () => {
  const r = await get('/yaml', 'shop.example');
  assert.equal(r.status, 201);
  assert.equal(r.headers['content-type'], 'text/html');
  assert.equal(r.body, '<p>SHOP.EXAMPLE via yaml</p>');
});

test('http-error lf-file: the 503 tslb answers (no server) is the evaluated file', async () => {
  const r = await get('/', 'down.example');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'no server for down.example');
});

test('tslb -c: a relative lf-file is read from the config directory; a missing file and a bad sample are refused with file, line and path', async () => {
  const d = tempDir('tslb-lf-file-check-');
  writeFileSync(path.join(d, 'ok.lf'), 'fine %[src]');
  writeFileSync(path.join(d, 'bad.lf'), 'broken %[nosuchfetch]');
  const config = (extra: string) => `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    http_request:
      - { return: { status: 200, content_type: text/plain, lf_file: ${extra} } }
    options:
      - http-request return content-type text/plain lf-file ok.lf
    default_backend: b
backends:
  - { name: b, servers: [{ name: s, address: 127.0.0.1, port: 2 }] }
`;
  const good = path.join(d, 'good.yaml');
  writeFileSync(good, config('ok.lf'));
  const ok = await runCli(['-c', '-f', good]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);

  const bad = path.join(d, 'bad.yaml');
  writeFileSync(bad, config('missing.lf').replace('lf-file ok.lf', 'lf-file bad.lf'));
  const r = await runCli(['-c', '-f', bad]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 1, out);
  assert.match(out, new RegExp(`bad\\.yaml:6:\\d+: frontends\\[0\\]\\.http_request\\[0\\]\\.return\\.lf_file: cannot read ${path.join(d, 'missing.lf').replace(/[.]/g, '\\.')}: ENOENT`));
  assert.match(out, new RegExp(`bad\\.yaml:8:\\d+: frontends\\[0\\]\\.options\\[0\\]: lf-file ${path.join(d, 'bad.lf').replace(/[.]/g, '\\.')}: %\\[nosuchfetch\\]: unknown fetch 'nosuchfetch'`));
  assert.match(out, /Configuration file has 2 error\(s\)/);
});
