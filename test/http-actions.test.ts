/**
 * http-request / http-response actions (issue 14) through a real tslb, written as
 * HAProxy lines in `options` and as native YAML: each changes exactly what it should
 * of what the server receives and the client gets; values are log-format
 * (`%[req.hdr(host),lower]`, `%[var(txn.x)]`); `-c` refuses a misplaced action
 * with its file, line and path.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as path from 'node:path';
import { exchange, header, RecordingBackend, type RawRequest, type RawResponse } from './helpers/rawhttp';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const req = (line: string, headers = 'Host: Example.COM\r\n'): Buffer => Buffer.from(`${line}\r\n${headers}\r\n`);

describe('http-request and http-response actions', () => {
  const rec = new RecordingBackend();
  let lb: TslbProcess;
  let port = 0;
  let yamlPort = 0;
  let afterPort = 0;
  const dir = tempDir();

  /** One request through tslb: what the client got, and what the server got (undefined when it got nothing). */
  async function send(p: number, bytes: Buffer): Promise<{ status: number; res: RawResponse; got: RawRequest | undefined }> {
    rec.reset();
    const r = await exchange(p, bytes, { until: (rs) => rs.length === 1, timeoutMs: 5000 });
    assert.equal(r.responses.length, 1, `no response to ${bytes.toString().split('\r\n')[0]}`);
    return { status: r.responses[0].status, res: r.responses[0], got: rec.requests[0] };
  }

  before(async () => {
    await rec.start();
    rec.reply = (r) =>
      r.target.startsWith('/teapot')
        ? { bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Powered-By: php\r\nX-Ids: a1, b2\r\n\r\nok') }
        : { bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: raw\r\nX-Ids: a1, b2\r\n\r\nok') };
    port = await freePort();
    yamlPort = await freePort();
    afterPort = await freePort();
    writeFileSync(path.join(dir, 'maint.html'), '<p>maintenance</p>');
    lb = await startTslb(`
frontends:
  - name: lines
    mode: http
    binds: ["127.0.0.1:${port}"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    acls: { api: "path_beg /api/" }
    timeouts: { tarpit: 400ms }
    options:
      - "http-request tarpit if { path_beg /trap }"
      - "http-request allow if { path_beg /free }"
      - "http-request deny deny_status 429 content-type text/plain string \\"slow down\\" hdr Retry-After 7 if { path_beg /limited }"
      - "http-request deny deny_status 451 if { path_beg /legal }"
      - "http-request return status 200 content-type text/plain lf-string \\"host=%[req.hdr(host),lower] src=%[src]\\" hdr X-Path %[path] if { path /whoami }"
      - "http-request return status 503 content-type text/html file ${path.join(dir, 'maint.html')} if { path_beg /maint }"
      - "http-request redirect location https://%[req.hdr(host),lower]%[path] code 308 if { path_beg /moved }"
      - "http-request set-var(txn.host) req.hdr(host),lower"
      - "http-request set-header X-Host %[var(txn.host)]"
      - "http-request add-header X-Both \\"a %[src] b\\""
      - "http-request del-header X-Secret"
      - "http-request del-header x-debug- -m beg"
      - "http-request redirect prefix https://new.example code 301 drop-query append-slash if { path_beg /pfx }"
      - "http-request replace-header Cookie sid=([a-z0-9]+).* SID=\\\\1"
      - "http-request replace-value X-List ^old-(.*)$ new-\\\\1"
      - "http-request replace-path /api/v1/(.*) /v2/\\\\1 if api"
      - "http-request set-query lang=%[req.hdr(x-lang)] if { path_beg /q }"
      - "http-request set-path /rewritten%[path] if { path_beg /sp }"
      - "http-request set-uri /by-uri?from=%[path] if { path_beg /su }"
      - "http-request set-method POST if { path_beg /post }"
      - "http-request set-method HEAD if { path_beg /head-me }"
      - "http-request deny deny_status 403 if { path_beg /free }"
      - "http-response set-status 418 reason Teapot if { status 200 } { var(txn.host) -m str example.com } { path_beg /teapot }"
      - "http-response del-header X-Powered-By"
      - "http-response replace-value X-Ids ^([a-z])([0-9])$ \\\\2\\\\1"
      - "http-response set-header X-Served-For %[var(txn.host)]"
    default_backend: app
  - name: yaml
    mode: http
    binds: ["127.0.0.1:${yamlPort}"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    http_request:
      - { return: { status: 202, content_type: text/plain, string: "accepted", headers: { X-Kind: yaml } }, if: "path_beg /ret" }
      - { deny: { status: 401 }, if: "path_beg /private" }
      - { set_var: { name: req.p, expr: "path,lower" } }
      - { set_path: "/v%[var(req.p)]", if: "path_beg /Lower" }
      - { replace_path: { regex: "^/old/(.*)", replace: "/new/\\\\1" } }
      - { set_uri: "/uri", if: "path_beg /uri-me" }
      - { set_query: "x=1", if: "path_beg /query-me" }
      - { set_method: PUT, if: "path_beg /put-me" }
      - { replace_header: { name: User-Agent, regex: "^curl/(.*)", replace: "cURL \\\\1" } }
      - { replace_value: { name: X-Tags, regex: "^t(.)$", replace: "tag\\\\1" } }
      - { set_header: { name: X-Len, value: "%[req.hdr(host)]" } }
      - { del_header: { name: trace, match: sub } }
      - { redirect: { scheme: https, code: 307, drop_query: true }, if: "path_beg /secure" }
    http_response:
      - { set_status: { status: 299 }, if: "status 200" }
      - { add_header: { name: X-Var, value: "%[var(req.p)]" } }
    default_backend: app
  - name: after
    mode: http
    binds: ["127.0.0.1:${afterPort}"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    options:
      - "http-request deny if { path_beg /deny }"
      - "http-request redirect location /elsewhere if { path_beg /redir }"
      - "http-request return status 200 content-type text/plain string hello if { path_beg /hello }"
      - "http-response add-header X-Order response"
      - "http-after-response add-header X-Order after"
      - "http-after-response set-header X-After %[status]"
    http_after_response:
      - { del_header: cache-control }
      - { set_status: { status: 410, reason: Gone }, if: "status 403" }
    default_backend: app
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }]
`);
  });
  after(async () => {
    await lb?.stop();
    await rec.close();
  });

  it("http-after-response: on the server's response after http-response, and on tslb's own deny, redirect and return", async () => {
    const served = await send(afterPort, req('GET /x HTTP/1.1'));
    assert.equal(served.status, 200);
    assert.deepEqual(header(served.res, 'x-order'), ['response', 'after']);
    assert.deepEqual(header(served.res, 'x-after'), ['200']);
    const denied = await send(afterPort, req('GET /deny HTTP/1.1'));
    assert.match(denied.res.startLine, /^HTTP\/1\.1 410 Gone$/);
    // The YAML rules come before the options lines: set-header saw the new status.
    assert.deepEqual(header(denied.res, 'x-after'), ['410']);
    assert.deepEqual(header(denied.res, 'cache-control'), []);
    assert.match(denied.res.body.toString(), /403 Forbidden/);
    assert.equal(denied.got, undefined);
    const moved = await send(afterPort, req('GET /redir HTTP/1.1'));
    assert.equal(moved.status, 302);
    assert.deepEqual(header(moved.res, 'location'), ['/elsewhere']);
    assert.deepEqual(header(moved.res, 'x-order'), ['after']);
    assert.deepEqual(header(moved.res, 'cache-control'), []);
    const hello = await send(afterPort, req('GET /hello HTTP/1.1'));
    assert.equal(hello.res.body.toString(), 'hello');
    assert.deepEqual(header(hello.res, 'x-after'), ['200']);
    // A bad request's 400 keeps its Connection: close through the rules.
    const bad = await exchange(afterPort, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(bad.responses[0].status, 400);
    assert.deepEqual(header(bad.responses[0], 'connection'), ['close']);
    assert.deepEqual(header(bad.responses[0], 'x-after'), ['400']);
  });

  it('set-var + set-header with log-format values, add-header with text around a sample, del-header (and -m beg)', async () => {
    const { status, res, got } = await send(port, req('GET /plain HTTP/1.1', 'Host: Example.COM\r\nX-Secret: s\r\nX-Host: forged\r\nX-Debug-A: 1\r\nx-debug-b: 2\r\nX-Debugger: 3\r\n'));
    assert.equal(status, 200);
    assert.ok(got);
    assert.deepEqual(header(got, 'x-host'), ['example.com']);
    assert.deepEqual(header(got, 'x-both'), ['a 127.0.0.1 b']);
    assert.deepEqual(header(got, 'x-secret'), []);
    // -m beg: every header whose name begins with x-debug-, whatever its case.
    assert.deepEqual(header(got, 'x-debug-a'), []);
    assert.deepEqual(header(got, 'x-debug-b'), []);
    assert.deepEqual(header(got, 'x-debugger'), ['3']);
    assert.equal(got.target, '/plain');
    assert.deepEqual(header(res, 'x-served-for'), ['example.com']);
  });

  it('deny: deny_status alone gives the status page; with content-type/string/hdr, that body and header', async () => {
    const legal = await send(port, req('GET /legal HTTP/1.1'));
    assert.equal(legal.status, 451);
    assert.equal(legal.got, undefined);
    const limited = await send(port, req('GET /limited HTTP/1.1'));
    assert.equal(limited.status, 429);
    assert.equal(limited.res.body.toString(), 'slow down');
    assert.deepEqual(header(limited.res, 'content-type'), ['text/plain']);
    assert.deepEqual(header(limited.res, 'retry-after'), ['7']);
    assert.equal(limited.got, undefined);
  });

  it('tarpit holds the request for timeout tarpit, then 500 and a close; a client leaving meanwhile is forgotten', async () => {
    const t0 = Date.now();
    rec.reset();
    const r = await exchange(port, req('GET /trap HTTP/1.1'), { timeoutMs: 5000 });
    const waited = Date.now() - t0;
    assert.equal(r.responses[0]?.status, 500);
    assert.ok(waited >= 350, `answered after ${waited} ms`);
    assert.equal(r.closed, true);
    assert.equal(rec.requests.length, 0);
    // Leaves after 50 ms: nothing is sent to it later, and tslb goes on serving.
    const gone = await exchange(port, req('GET /trap HTTP/1.1'), { timeoutMs: 50 });
    assert.equal(gone.responses.length, 0);
    await new Promise((res) => setTimeout(res, 600));
    assert.equal((await send(port, req('GET /plain HTTP/1.1'))).status, 200);
  });

  it('allow stops the rules: a later deny does not apply', async () => {
    const free = await send(port, req('GET /free HTTP/1.1'));
    assert.equal(free.status, 200);
    assert.equal(free.got?.target, '/free');
    // allow ends the rule set: the set-header rules after it did not run either.
    assert.deepEqual(header(free.got!, 'x-host'), []);
  });

  it('return: lf-string body and hdr with samples; file body with its status; HEAD gets the head only', async () => {
    const who = await send(port, req('GET /whoami HTTP/1.1'));
    assert.equal(who.status, 200);
    assert.equal(who.res.body.toString(), 'host=example.com src=127.0.0.1');
    assert.deepEqual(header(who.res, 'x-path'), ['/whoami']);
    assert.deepEqual(header(who.res, 'content-length'), [String('host=example.com src=127.0.0.1'.length)]);
    assert.equal(who.got, undefined);
    const maint = await send(port, req('GET /maint HTTP/1.1'));
    assert.equal(maint.status, 503);
    assert.equal(maint.res.body.toString(), '<p>maintenance</p>');
    assert.deepEqual(header(maint.res, 'content-type'), ['text/html']);
    rec.reset();
    const head = await exchange(port, req('HEAD /maint HTTP/1.1'), { methods: ['HEAD'], until: (rs) => rs.length === 1 });
    assert.equal(head.responses[0].status, 503);
    assert.ok(!head.received.toString().includes('maintenance'));
  });

  it('redirect: a log-format location with code 308; prefix and scheme with drop-query and append-slash', async () => {
    const moved = await send(port, req('GET /moved/here?x=1 HTTP/1.1'));
    assert.equal(moved.status, 308);
    assert.deepEqual(header(moved.res, 'location'), ['https://example.com/moved/here']);
    const pfx = await send(port, req('GET /pfx/a?b=c HTTP/1.1'));
    assert.equal(pfx.status, 301);
    assert.deepEqual(header(pfx.res, 'location'), ['https://new.example/pfx/a/']);
    const secure = await send(yamlPort, req('GET /secure/x?y=z HTTP/1.1', 'Host: h:80\r\n'));
    assert.equal(secure.status, 307);
    assert.deepEqual(header(secure.res, 'location'), ['https://h/secure/x']);
  });

  it('replace-header rewrites the whole value, replace-value each comma-separated value', async () => {
    const { got } = await send(port, req('GET /h HTTP/1.1', 'Host: h\r\nCookie: sid=abc123; theme=dark\r\nX-List: old-a, keep, old-b\r\n'));
    assert.deepEqual(header(got!, 'cookie'), ['SID=abc123']);
    assert.deepEqual(header(got!, 'x-list'), ['new-a, keep, new-b']);
  });

  it('replace-path, set-path, set-query, set-uri and set-method change the request line the server gets', async () => {
    assert.equal((await send(port, req('GET /api/v1/users?id=3 HTTP/1.1'))).got?.target, '/v2/users?id=3');
    assert.equal((await send(port, req('GET /sp/x?k=v HTTP/1.1'))).got?.target, '/rewritten/sp/x?k=v');
    assert.equal((await send(port, req('GET /q?old=1 HTTP/1.1', 'Host: h\r\nX-Lang: fr\r\n'))).got?.target, '/q?lang=fr');
    assert.equal((await send(port, req('GET /su/a?z=9 HTTP/1.1'))).got?.target, '/by-uri?from=/su/a');
    const posted = await send(port, req('GET /post HTTP/1.1'));
    assert.equal(posted.got?.method, 'POST');
    assert.match(posted.got!.startLine, /^POST \/post HTTP\/1\.1$/);
    // Turned into a HEAD: the server's answer has no body, and the next request on the connection is served.
    const reply = rec.reply;
    rec.reply = (r, i) => (r.method === 'HEAD' ? { bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n') } : reply(r, i));
    rec.reset();
    const both = await exchange(port, Buffer.concat([req('GET /head-me HTTP/1.1'), req('GET /after HTTP/1.1')]), { methods: ['HEAD', 'GET'], until: (rs) => rs.length === 2, timeoutMs: 5000 });
    assert.deepEqual(both.responses.map((x) => x.status), [200, 200]);
    assert.equal(rec.requests[0]?.method, 'HEAD');
    assert.equal(both.responses[1].body.toString(), 'ok');
    rec.reply = reply;
    // An absolute-form target keeps its scheme and authority.
    assert.equal((await send(port, req('GET http://h/api/v1/z HTTP/1.1', 'Host: h\r\n'))).got?.target, 'http://h/v2/z');
  });

  it('http-response set-status with reason (seeing a txn variable), del-header, replace-value', async () => {
    const tea = await send(port, req('GET /teapot HTTP/1.1'));
    assert.equal(tea.status, 418);
    assert.match(tea.res.startLine, /^HTTP\/1\.1 418 Teapot$/);
    assert.equal(tea.res.body.toString(), 'ok');
    assert.deepEqual(header(tea.res, 'x-powered-by'), []);
    assert.deepEqual(header(tea.res, 'x-ids'), ['1a, 2b']);
    const other = await send(port, req('GET /teapot HTTP/1.1', 'Host: other\r\n'));
    assert.equal(other.status, 200);
  });

  it('native YAML: return, deny, set-var, set-path, replace-path, set-uri, set-query, set-method, replace-header/value, set-status', async () => {
    const ret = await send(yamlPort, req('GET /ret HTTP/1.1'));
    assert.equal(ret.status, 202);
    assert.equal(ret.res.body.toString(), 'accepted');
    assert.deepEqual(header(ret.res, 'x-kind'), ['yaml']);
    assert.equal((await send(yamlPort, req('GET /private HTTP/1.1'))).status, 401);
    const lower = await send(yamlPort, req('GET /Lower/Case HTTP/1.1', 'Host: h\r\nUser-Agent: curl/8.1\r\nX-Tags: t1, t2\r\nX-Trace-Id: 9\r\n'));
    assert.deepEqual(header(lower.got!, 'x-trace-id'), []);
    assert.equal(lower.got?.target, '/v/lower/case');
    assert.deepEqual(header(lower.got!, 'user-agent'), ['cURL 8.1']);
    assert.deepEqual(header(lower.got!, 'x-tags'), ['tag1, tag2']);
    assert.deepEqual(header(lower.got!, 'x-len'), ['h']);
    assert.equal(lower.status, 299);
    assert.deepEqual(header(lower.res, 'x-var'), ['/lower/case']);
    assert.equal((await send(yamlPort, req('GET /old/thing HTTP/1.1'))).got?.target, '/new/thing');
    assert.equal((await send(yamlPort, req('GET /uri-me?a=b HTTP/1.1'))).got?.target, '/uri');
    assert.equal((await send(yamlPort, req('GET /query-me?a=b HTTP/1.1'))).got?.target, '/query-me?x=1');
    assert.equal((await send(yamlPort, req('GET /put-me HTTP/1.1'))).got?.method, 'PUT');
  });

  it('keeps the connection after a return on a complete request', async () => {
    rec.reset();
    const two = await exchange(yamlPort, Buffer.concat([req('GET /ret HTTP/1.1'), req('GET /ret/2 HTTP/1.1')]), { until: (rs) => rs.length === 2 });
    assert.deepEqual(two.responses.map((r) => r.status), [202, 202]);
    assert.equal(two.closed, false);
  });
});

describe('-c: misplaced and malformed actions', () => {
  it('refuses a request-only action in http-response, an unknown action, a bad regex and a var without scope, with file, line and path', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lb.yaml');
    writeFileSync(
      file,
      `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    options:
      - "http-response set-path /x"
      - "http-request frobnicate"
      - "http-request replace-path ([ /x"
      - "http-request set-var(host) req.hdr(host)"
    http_response:
      - { set_uri: "/x" }
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    );
    const r = await runCli(['-c', '-f', file]);
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /lb\.yaml:6:.*frontends\[0\]\.options\[0\].*"set-path" is not an http-response action/);
    assert.match(out, /lb\.yaml:7:.*unknown http-request action "frobnicate"/);
    assert.match(out, /lb\.yaml:8:.*bad regex/);
    assert.match(out, /lb\.yaml:9:.*variable "host" needs a scope/);
    assert.match(out, /lb\.yaml:11:.*set_uri is not an http_response action/);
  });
});

describe('auth and userlists', () => {
  const rec = new RecordingBackend();
  let lb: TslbProcess;
  let port = 0;
  // Made with `openssl passwd -6 -salt 8charsalt wonderland` and `openssl passwd -5 -salt 'rounds=2000$bobsalt' builder`.
  const ALICE = '$6$8charsalt$yFY.TNyGn.75ek5Uq2XJWrmsCZQcuIRJv54QqCISp5SxJ2BOao6NS1lLjbKta0tiCIhlmyj/SZnm1b6tXO1W40';
  const BOB = '$5$rounds=2000$bobsalt$m3WJX3gIOsWtYMoDxe7wR1TF/eo/cu5cfdi0Bn36UHD';
  const basic = (user: string, pass: string): string => `Host: h\r\nAuthorization: Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}\r\n`;

  before(async () => {
    await rec.start();
    port = await freePort();
    lb = await startTslb(`
userlists:
  - name: admins
    users:
      - { name: alice, password: "${ALICE}" }
      - "user bob password ${BOB}"
      - "user carol insecure-password s3cret"
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    options:
      - "http-request auth realm \\"Admin area\\" if { path_beg /admin } !{ http_auth(admins) }"
      - "http-request auth if { path_beg /plain } !{ http_auth(admins) }"
      - "http-request set-header X-Authed %[http_auth(admins)]"
    default_backend: app
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }]
`);
  });
  after(async () => {
    await lb?.stop();
    await rec.close();
  });

  async function get(target: string, headers: string) {
    rec.reset();
    const r = await exchange(port, req(`GET ${target} HTTP/1.1`, headers), { until: (rs) => rs.length === 1, timeoutMs: 5000 });
    return { res: r.responses[0], got: rec.requests[0] };
  }

  it('401 with the realm without credentials or with wrong ones; the server sees nothing', async () => {
    for (const h of ['Host: h\r\n', basic('alice', 'wrong'), basic('mallory', 's3cret'), 'Host: h\r\nAuthorization: Bearer x\r\n']) {
      const { res, got } = await get('/admin/x', h);
      assert.equal(res.status, 401);
      assert.deepEqual(header(res, 'www-authenticate'), ['Basic realm="Admin area"']);
      assert.match(res.body.toString(), /401 Unauthorized/);
      assert.equal(got, undefined);
    }
    // Without a realm, the proxy's name.
    assert.deepEqual(header((await get('/plain', 'Host: h\r\n')).res, 'www-authenticate'), ['Basic realm="web"']);
  });

  it('a user of the list with its password passes: $6$ and $5$ (with rounds) SHA-crypt hashes and insecure-password', async () => {
    for (const [user, pass] of [
      ['alice', 'wonderland'],
      ['bob', 'builder'],
      ['carol', 's3cret'],
    ]) {
      const { res, got } = await get('/admin/x', basic(user, pass));
      assert.equal(res.status, 200, user);
      assert.ok(got, user);
      assert.deepEqual(header(got, 'x-authed'), ['1']);
    }
    assert.deepEqual(header((await get('/open', 'Host: h\r\n')).got!, 'x-authed'), ['0']);
  });

  it('-c refuses a malformed bcrypt hash, an unknown hash scheme and http_auth of an unknown userlist', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lb.yaml');
    writeFileSync(
      file,
      `userlists:
  - name: l
    users:
      - { name: a, password: "$2b$10$abcdefghijklmnopqrstuv" }
      - "user b password plain"
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    options: ["http-request auth unless { http_auth(ll) }"]
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 1 }] }
`,
    );
    const r = await runCli(['-c', '-f', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /lb\.yaml:4:.*a bcrypt hash is \$2a\$, \$2b\$ or \$2y\$/);
    assert.match(r.stdout + r.stderr, /lb\.yaml:5:.*expected a crypt\(3\) hash/);
    assert.match(r.stdout + r.stderr, /lb\.yaml:10:.*http_auth: unknown userlist "ll"/);
  });
});

describe('capture', () => {
  it('http-request capture SAMPLE len N shows in httplog %hr, one slot per rule in order, cut to its length, empty when its rule did not run; the log shows the request line as received', async () => {
    const rec = await new RecordingBackend().start();
    const port = await freePort();
    const logFile = path.join(tempDir(), 'access.log');
    const lb = await startTslb(`
global:
  workers: 1
  access_log: ${logFile}
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    log: { format: httplog }
    options:
      - "http-request capture req.hdr(host),lower len 20"
      - "http-request capture req.hdr(user-agent) len 5 if { path_beg /ua }"
      - "http-request set-path /new%[path] if { path_beg /rw }"
    http_request:
      - { capture: { sample: "path", len: 64 } }
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }] }
`);
    try {
      await exchange(port, req('GET /ua/1 HTTP/1.1', 'Host: Example.COM\r\nUser-Agent: curl/8.1.2\r\n'), { until: (rs) => rs.length === 1 });
      await exchange(port, req('GET /other HTTP/1.1', 'Host: B\r\nUser-Agent: curl/8.1.2\r\n'), { until: (rs) => rs.length === 1 });
      await exchange(port, req('GET /rw/x?q=1 HTTP/1.1', 'Host: c\r\n'), { until: (rs) => rs.length === 1 });
      const until = Date.now() + 5000;
      let lines: string[] = [];
      while (Date.now() < until) {
        lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
        if (lines.length >= 3) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // YAML rules come before the options lines: path is slot 0.
      assert.ok(lines.some((l) => l.includes(' {/ua/1|example.com|curl/} "GET /ua/1 HTTP/1.1"')), lines.join('\n'));
      assert.ok(lines.some((l) => l.includes(' {/other|b|} "GET /other HTTP/1.1"')), lines.join('\n'));
      // The server got the rewritten path; the log shows the request line as received, as HAProxy's.
      assert.equal(rec.requests.at(-1)?.target, '/new/rw/x?q=1');
      assert.ok(lines.some((l) => l.endsWith(' "GET /rw/x?q=1 HTTP/1.1"')), lines.join('\n'));
    } finally {
      await lb.stop();
      await rec.close();
    }
  });
});

describe('actions on HTTP/2 streams', () => {
  it('h2c: set-path, set-header with samples, del-header, return and http-response set-status go through the same pipeline', async () => {
    const rec = await new RecordingBackend().start();
    const port = await freePort();
    const lb = await startTslb(`
frontends:
  - name: web
    mode: http
    binds: [{ address: 127.0.0.1, port: ${port}, h2c: true }]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    options:
      - "http-request return status 203 content-type text/plain lf-string h2:%[path] if { path /ret }"
      - "http-request set-header X-Was %[path]"
      - "http-request set-path /v2%[path]"
      - "http-request del-header x-secret"
      - "http-response set-status 202"
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }] }
`);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const get = (p: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = client.request({ ':path': p, ':authority': 'h2.example', ...headers });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (d: Buffer) => (body += d.toString()));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        s.end();
      });
    try {
      const r = await get('/a?b=1', { 'x-secret': 's' });
      assert.equal(r.status, 202);
      assert.equal(r.body, 'ok');
      assert.equal(rec.requests.at(-1)?.target, '/v2/a?b=1');
      assert.deepEqual(header(rec.requests.at(-1)!, 'x-was'), ['/a']);
      assert.deepEqual(header(rec.requests.at(-1)!, 'x-secret'), []);
      const ret = await get('/ret');
      assert.equal(ret.status, 203);
      assert.equal(ret.body, 'h2:/ret');
    } finally {
      client.close();
      await lb.stop();
      await rec.close();
    }
  });
});
