/**
 * Error pages through a real tslb on HTTP/1.1 and HTTP/2: `http-errors` sections
 * (YAML map and `errorfile` lines), `errorfile`, `errorfiles NAME [CODE…]`,
 * `errorloc303`, `http-error status N …` (errorfiles / default-errorfiles / lf-string
 * with hdr) in `options` and as YAML, with HAProxy's precedence (defaults first, then
 * the proxy's directives in order, the last one for a status winning; the backend's
 * page over the frontend's; defaults' YAML and lines); 502/503/504 pages say nothing of the servers
 * behind (no address, port, error code or stack); `-c` names file and line.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { header, RecordingBackend } from './helpers/rawhttp';
import { H2Client, h1Request, type Answer, type Protocol, type Request } from './helpers/both-protocols';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const page = (status: string, body: string): string => `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

describe('error pages', () => {
  const dir = tempDir();
  const bad = new RecordingBackend();
  let silent: net.Server;
  let lb: TslbProcess;
  let h1 = 0;
  let h2: H2Client;
  let plainH1 = 0;
  let plainH2: H2Client;
  let closedPort = 0;
  const ports: number[] = [];

  before(async () => {
    for (const [name, status, body] of [
      ['site503.http', '503 Service Unavailable', 'site 503'],
      ['site404.http', '404 Not Found', 'site 404'],
      ['lines403.http', '403 Forbidden', 'lines 403'],
      ['fe503.http', '503 Service Unavailable', 'frontend yaml 503'],
      ['defaults502.http', '502 Bad Gateway', 'defaults 502'],
      ['be503.http', '503 Service Unavailable', 'backend 503'],
      ['deny403.http', '403 Forbidden', 'deny errorfile'],
    ]) {
      writeFileSync(path.join(dir, name), page(status, body));
    }
    await bad.start();
    bad.reply = () => ({ bytes: Buffer.from('NOT HTTP AT ALL\r\n\r\n'), close: true });
    // Accepts and never answers: 504.
    silent = net.createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closedPort = await freePort();
    h1 = await freePort();
    const h2port = await freePort();
    plainH1 = await freePort();
    const plainH2port = await freePort();
    ports.push(bad.port, (silent.address() as net.AddressInfo).port, closedPort);
    lb = await startTslb(`
defaults:
  http_error: [{ status: 504, content_type: text/plain, string: "defaults 504" }]
  options:
    - "errorfile 502 ${path.join(dir, 'defaults502.http')}"
http_errors:
  - name: site
    errorfiles: { "503": ${path.join(dir, 'site503.http')}, "404": ${path.join(dir, 'site404.http')} }
  - name: lines
    errorfiles: ["errorfile 403 ${path.join(dir, 'lines403.http')}"]
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${h1}", { address: 127.0.0.1, port: ${h2port}, h2c: true }]
    log: { enabled: false }
    errorfiles: { "503": ${path.join(dir, 'fe503.http')} }
    http_error:
      - { status: 429, content_type: text/plain, lf_string: "slow down, %[req.hdr(host)]", headers: { Retry-After: "5" } }
    options:
      - "errorfiles site"
      - "http-error status 403 errorfiles lines"
      - "http-error status 404 default-errorfiles"
      - "errorloc303 500 https://status.example/down"
      - "http-request deny deny_status 403 errorfile ${path.join(dir, 'deny403.http')} if { path_beg /deny-file }"
      - "http-request return status 503 default-errorfiles if { path_beg /ret-default }"
      - "http-request deny deny_status 503 errorfiles site if { path_beg /deny-section }"
      - "http-request return status 429 errorfiles site if { path_beg /ret-nosection }"
      - "http-request deny deny_status 403 if { path_beg /forbidden }"
      - "http-request deny deny_status 404 if { path_beg /missing }"
      - "http-request deny deny_status 429 if { path_beg /busy }"
      - "http-request deny deny_status 500 if { path_beg /broken }"
    use_backend:
      - { backend: down, if: "path_beg /down" }
      - { backend: down-own, if: "path_beg /own" }
      - { backend: bad, if: "path_beg /bad" }
    default_backend: down
  - name: plain
    mode: http
    binds: ["127.0.0.1:${plainH1}", { address: 127.0.0.1, port: ${plainH2port}, h2c: true }]
    log: { enabled: false }
    use_backend:
      - { backend: bad, if: "path_beg /bad" }
      - { backend: silent, if: "path_beg /silent" }
    default_backend: down
backends:
  - { name: down, mode: http, retries: 0, servers: [{ name: s1, address: 127.0.0.1, port: ${closedPort} }] }
  - name: down-own
    mode: http
    retries: 0
    servers: [{ name: s1, address: 127.0.0.1, port: ${closedPort} }]
    options: ["errorfile 503 ${path.join(dir, 'be503.http')}"]
  - { name: bad, mode: http, retries: 0, servers: [{ name: s1, address: 127.0.0.1, port: ${bad.port} }] }
  - name: silent
    mode: http
    timeouts: { server: 300ms }
    servers: [{ name: s1, address: 127.0.0.1, port: ${(silent.address() as net.AddressInfo).port} }]
`);
    h2 = new H2Client(h2port);
    plainH2 = new H2Client(plainH2port);
  });
  after(async () => {
    h2?.close();
    plainH2?.close();
    await lb?.stop();
    await bad.close();
    silent?.close();
  });

  const send = (proto: Protocol, port: number, client: H2Client, r: Request): Promise<Answer> => (proto === 'h1' ? h1Request(port, r) : client.request(r));

  for (const proto of ['h1', 'h2'] as const) {
    it(`${proto}: sections, errorfile, errorfiles, errorloc303 and http-error pages with HAProxy's precedence`, async () => {
      const get = (p: string) => send(proto, h1, h2, { path: p });
      // `errorfiles site` (an options line) came after the YAML errorfiles: the section's 503.
      const down = await get('/down');
      assert.equal(down.status, 503);
      assert.equal(down.body.toString(), 'site 503');
      // The backend's own page wins over the frontend's.
      const own = await get('/own');
      assert.equal(own.status, 503);
      assert.equal(own.body.toString(), 'backend 503');
      // http-error status 403 errorfiles lines: that section's page.
      const forbidden = await get('/forbidden');
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.body.toString(), 'lines 403');
      // The site's 404 came in with `errorfiles site`, then default-errorfiles forgot it: the built-in page.
      const missing = await get('/missing');
      assert.equal(missing.status, 404);
      assert.match(missing.body.toString(), /<h1>404 Not Found<\/h1>/);
      // YAML http-error: a log-format body and a header, built per request.
      const busy = await get('/busy');
      assert.equal(busy.status, 429);
      assert.equal(busy.body.toString(), 'slow down, example.com');
      assert.deepEqual(header(busy, 'retry-after'), ['5']);
      assert.deepEqual(header(busy, 'content-type'), ['text/plain']);
      const broken = await get('/broken');
      assert.equal(broken.status, 303);
      assert.deepEqual(header(broken, 'location'), ['https://status.example/down']);
      // deny/return naming their page: an errorfile of their own, or the proxy's page for the status.
      const denyFile = await get('/deny-file');
      assert.equal(denyFile.status, 403);
      assert.equal(denyFile.body.toString(), 'deny errorfile');
      const retDefault = await get('/ret-default');
      assert.equal(retDefault.status, 503);
      assert.equal(retDefault.body.toString(), 'site 503');
      const denySection = await get('/deny-section');
      assert.equal(denySection.status, 503);
      assert.equal(denySection.body.toString(), 'site 503');
      // The section has no 429: the proxy's page for it.
      const retNoSection = await get('/ret-nosection');
      assert.equal(retNoSection.status, 429);
      assert.equal(retNoSection.body.toString(), 'slow down, example.com');
      // The defaults' errorfile applies to every proxy that sets none for the status.
      const invalid = await get('/bad');
      assert.equal(invalid.status, 502);
      assert.equal(invalid.body.toString(), 'defaults 502');
    });

    it(`${proto}: 502, 503 and 504 pages give no server address, port, error code or stack`, async () => {
      for (const [p, status] of [
        ['/bad', 502],
        ['/x', 503],
        ['/silent', 504],
      ] as const) {
        const r = await send(proto, plainH1, plainH2, { path: p });
        assert.equal(r.status, status, p);
        const text = r.body.toString() + r.headers.map(([k, v]) => `${k}: ${v}`).join('\n');
        assert.doesNotMatch(text, /127\.0\.0\.1|::1|localhost/, `${p}: ${text}`);
        for (const port of ports) assert.ok(!text.includes(String(port)), `${p} names port ${port}: ${text}`);
        assert.doesNotMatch(text, /E[A-Z]{4,}|Error|\bat \S+ \(|\.js:\d+/, `${p}: ${text}`);
        // The defaults' YAML http_error gives every proxy its 504; 502 is the defaults' errorfile, 503 the built-in page.
        if (status === 504) assert.equal(r.body.toString(), 'defaults 504');
        if (status === 503) assert.match(r.body.toString(), /No server is available/);
      }
    });
  }

  it('-c refuses an unknown section, a status tslb never answers, a body without content-type and a non-HTTP errorfile, with file and line', async () => {
    const d = tempDir();
    writeFileSync(path.join(d, 'page.html'), '<p>not an HTTP message</p>');
    const file = path.join(d, 'lb.yaml');
    writeFileSync(
      file,
      `http_errors:
  - name: site
    errorfiles: ["errorfile 404 page.html"]
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    options:
      - "errorfiles nosuch"
      - "errorfile 418 page.html"
      - "http-error status 503 string down"
    http_error:
      - { status: 503, string: x, errorfiles: site }
    http_request:
      - { deny: { status: 403, errorfiles: nosuch } }
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    );
    const r = await runCli(['-c', '-f', file]);
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /lb\.yaml:3:.*page\.html: an errorfile is a raw HTTP response/);
    assert.match(out, /lb\.yaml:9:.*unknown http-errors section "nosuch"/);
    assert.match(out, /lb\.yaml:10:.*status code "418" not handled/);
    assert.match(out, /lb\.yaml:11:.*a body needs its content-type/);
    assert.match(out, /lb\.yaml:13:.*takes one of/);
    assert.match(out, /lb\.yaml:15:.*unknown http-errors section "nosuch"/);
  });
});
