/**
 * Issue 14's fetches, matchers and actions, each through a real tslb on HTTP/1.1 AND
 * HTTP/2 (h2c), asserting what the server received and what the client got. Fetches
 * and matchers set one `X-M-<name>` flag each when their ACL holds: every request must
 * reach the server with exactly the flags of its case (so a matcher that holds too
 * often fails as well). Values are log-format samples.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as path from 'node:path';
import { header, RecordingBackend, type RawRequest } from './helpers/rawhttp';
import { H2Client, h1Request, type Answer, type Protocol, type Request } from './helpers/both-protocols';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { issueCert } from './helpers/certs';

const FLAGS: [string, string][] = [
  ['hdr-beg', 'hdr_beg(x-a) -i ab'],
  ['hdr-end', 'hdr_end(x-a) yz'],
  ['hdr-sub', 'hdr_sub(x-a) mid'],
  ['hdr-dom', 'hdr_dom(host) -i shop.test'],
  ['hdr-reg', 'hdr_reg(x-a) ^v[0-9]+$'],
  ['cook', 'req.cook(sid) -m str abc'],
  ['url', 'url -m end .php?x=1'],
  ['urlp', 'url_param(user) -m beg ali'],
  ['query', 'query -m sub debug=1'],
  ['base', 'base -m beg base.test/cat/'],
  ['ip4', 'hdr_ip(x-ip) 10.0.0.0/8'],
  ['ip6', 'hdr_ip(x-ip) 2001:db8::/32'],
  ['ipm', 'hdr(x-ip) -m ip 192.168.1.0/24'],
  ['dom', 'hdr(x-d) -m dom example.net'],
  ['len', 'path -m len 4'],
  ['int', 'hdr(x-n) -m int 10:20'],
  ['gt', 'hdr_val(x-n) gt 100'],
  ['found', 'hdr(x-f) -m found'],
  ['str', 'path -m str /exact'],
  ['file', 'hdr(x-k) -f KEYS'],
  ['body', 'req.body_size gt 10'],
];

/** Each case: the request, and the flags the server must get (no other). */
const CASES: [Request, string[]][] = [
  [{ path: '/plain' }, []],
  [{ path: '/x', headers: [['X-A', 'ABcmidyz']] }, ['hdr-beg', 'hdr-end', 'hdr-sub']],
  [{ path: '/x', host: 'www.Shop.test' }, ['hdr-dom']],
  [{ path: '/x', host: 'myshop.test' }, []],
  [{ path: '/x', headers: [['X-A', 'v12']] }, ['hdr-reg']],
  [{ path: '/x', headers: [['Cookie', 'theme=dark; sid=abc']] }, ['cook']],
  [{ path: '/x', headers: [['Cookie', 'sid=abcd']] }, []],
  [{ path: '/a.php?x=1' }, ['url']],
  [{ path: '/x?lang=en&user=alice' }, ['urlp']],
  [{ path: '/x?a=b&debug=1' }, ['query']],
  [{ path: '/cat/shoes', host: 'base.test' }, ['base']],
  [{ path: '/x', headers: [['X-IP', '10.1.2.3']] }, ['ip4']],
  [{ path: '/x', headers: [['X-IP', '2001:db8:5::1']] }, ['ip6']],
  [{ path: '/x', headers: [['X-IP', '192.168.1.77']] }, ['ipm']],
  [{ path: '/x', headers: [['X-D', 'api.example.net']] }, ['dom']],
  [{ path: '/x', headers: [['X-D', 'notexample.net']] }, []],
  // Without -i, patterns are case-sensitive (HAProxy's).
  [{ path: '/x', headers: [['X-D', 'api.Example.NET']] }, []],
  [{ path: '/abc' }, ['len']],
  [{ path: '/x', headers: [['X-N', '15']] }, ['int']],
  [{ path: '/x', headers: [['X-N', '150']] }, ['gt']],
  [{ path: '/x', headers: [['X-F', '']] }, ['found']],
  [{ path: '/exact' }, ['str']],
  [{ path: '/exact/not' }, []],
  [{ path: '/x', headers: [['X-K', 'beta']] }, ['file']],
  [{ method: 'POST', path: '/x', body: 'eleven bytes' }, ['body']],
];

describe('fetches, matchers and actions on HTTP/1.1 and HTTP/2', () => {
  const rec = new RecordingBackend();
  const dir = tempDir();
  let lb: TslbProcess;
  const port = { h1: 0, h2: 0 };
  let h2: H2Client;

  before(async () => {
    await rec.start();
    rec.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: raw\r\nX-RH: v-old\r\nX-Leak: x\r\n\r\nok') });
    const keys = path.join(dir, 'keys.lst');
    writeFileSync(keys, '# keys\nalpha\nbeta\n');
    writeFileSync(path.join(dir, 'body.txt'), 'from a file');
    port.h1 = await freePort();
    port.h2 = await freePort();
    const flagLines = FLAGS.map(([name, acl]) => `      - "http-request set-header X-M-${name} 1 if { ${acl.replace('KEYS', keys)} }"`).join('\n');
    lb = await startTslb(`
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port.h1}", { address: 127.0.0.1, port: ${port.h2}, h2c: true }]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    timeouts: { tarpit: 200ms }
    options:
${flagLines}
      - "http-request set-header X-V-Conn \\"%[src] %[dst] %[dst_port] %[nbsrv(app)] %[be_conn(app)] %[fe_conn]\\""
      - "http-request allow if { path_beg /allow }"
      - "http-request deny deny_status 451 if { path_beg /deny }"
      - "http-request deny deny_status 429 content-type text/plain string slow hdr X-Why %[path] if { path_beg /limit }"
      - "http-request tarpit deny_status 503 if { path_beg /tarpit }"
      - "http-request return status 200 content-type text/plain string fixed if { path_beg /ret-string }"
      - "http-request return status 202 content-type text/plain file ${path.join(dir, 'body.txt')} if { path_beg /ret-file }"
      - "http-request return status 200 content-type text/plain lf-string \\"at %[path] from %[src]\\" if { path_beg /ret-lf }"
      - "http-request redirect location /new?from=%[path] code 301 if { path_beg /rloc }"
      - "http-request redirect prefix https://p.example code 302 if { path_beg /rpfx }"
      - "http-request redirect scheme https code 308 if { path_beg /rscheme }"
      - "http-request set-header X-Set set"
      - "http-request add-header X-Add added"
      - "http-request del-header X-Del"
      - "http-request del-header secret -m sub"
      - "http-request replace-header X-Rh ^(.*)-old$ \\\\1-new"
      - "http-request replace-value X-Rv ^o(.)$ n\\\\1"
      - "http-request set-path /new%[path] if { path_beg /sp }"
      - "http-request replace-path ^/rp/(.*) /replaced/\\\\1"
      - "http-request set-query a=1&b=%[req.hdr(x-q)] if { path_beg /sq }"
      - "http-request set-uri /u?from=%[path] if { path_beg /su }"
      - "http-request set-method PUT if { path_beg /sm }"
      - "http-request set-var(txn.v) req.hdr(x-v)"
      - "http-request unset-var(txn.v) if { path_beg /unset }"
      - "http-request set-header X-Var %[var(txn.v)]"
      - "http-request deny if { path_beg /allow }"
      - "http-response set-header X-RS %[var(txn.v)]"
      - "http-response add-header X-RA ra"
      - "http-response del-header X-Leak"
      - "http-response replace-header X-RH ^v-(.*)$ \\\\1-replaced"
      - "http-response set-status 203 reason Changed if { path_beg /status }"
      - "http-response deny if { path_beg /rdeny }"
      - "http-after-response add-header X-After %[status]"
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }] }
`);
    h2 = new H2Client(port.h2);
  });
  after(async () => {
    h2?.close();
    await lb?.stop();
    await rec.close();
  });

  async function send(proto: Protocol, r: Request): Promise<{ res: Answer; got: RawRequest | undefined }> {
    rec.reset();
    const res = proto === 'h1' ? await h1Request(port.h1, r) : await h2.request(r);
    return { res, got: rec.requests[0] };
  }

  for (const proto of ['h1', 'h2'] as const) {
    it(`${proto}: each fetch and matcher holds for its own request only; connection fetches as values`, async () => {
      for (const [r, want] of CASES) {
        const { res, got } = await send(proto, r);
        assert.equal(res.status, 200, r.path);
        assert.ok(got, r.path);
        const flags = got.headers.filter(([k]) => k.toLowerCase().startsWith('x-m-')).map(([k]) => k.slice(4).toLowerCase());
        assert.deepEqual(flags.sort(), [...want].sort(), `${r.method ?? 'GET'} ${r.host ?? ''}${r.path} ${JSON.stringify(r.headers ?? [])}`);
      }
      const { got } = await send(proto, { path: '/plain' });
      assert.match(header(got!, 'x-v-conn')[0], new RegExp(`^127\\.0\\.0\\.1 127\\.0\\.0\\.1 ${port[proto]} 1 \\d+ [1-9]\\d*$`));
    });

    it(`${proto}: header, request-line and variable actions change what the server gets; response actions what the client gets`, async () => {
      const { res, got } = await send(proto, {
        path: '/rp/a?k=v',
        headers: [['X-Set', 'client'], ['X-Del', '1'], ['X-Secret-Token', 't'], ['X-Rh', 'keep-old'], ['X-Rv', 'oa, ob, c'], ['X-V', 'vv']],
      });
      assert.equal(res.status, 200);
      assert.equal(got!.target, '/replaced/a?k=v');
      assert.deepEqual(header(got!, 'x-set'), ['set']);
      assert.deepEqual(header(got!, 'x-add'), ['added']);
      assert.deepEqual(header(got!, 'x-del'), []);
      assert.deepEqual(header(got!, 'x-secret-token'), []);
      assert.deepEqual(header(got!, 'x-rh'), ['keep-new']);
      assert.deepEqual(header(got!, 'x-rv'), ['na, nb, c']);
      assert.deepEqual(header(got!, 'x-var'), ['vv']);
      assert.deepEqual(header(res, 'x-rs'), ['vv']);
      assert.deepEqual(header(res, 'x-ra'), ['ra']);
      assert.deepEqual(header(res, 'x-leak'), []);
      assert.deepEqual(header(res, 'x-rh'), ['old-replaced']);
      assert.deepEqual(header(res, 'x-after'), ['200']);
      assert.equal(res.body.toString(), 'ok');

      assert.equal((await send(proto, { path: '/sp/x?q=1' })).got!.target, '/new/sp/x?q=1');
      assert.equal((await send(proto, { path: '/sq?old=1', headers: [['X-Q', 'z']] })).got!.target, '/sq?a=1&b=z');
      assert.equal((await send(proto, { path: '/su/p?drop=1' })).got!.target, '/u?from=/su/p');
      assert.equal((await send(proto, { path: '/sm' })).got!.method, 'PUT');
      const unset = await send(proto, { path: '/unset', headers: [['X-V', 'vv']] });
      assert.deepEqual(header(unset.got!, 'x-var'), ['-']);
      const status = await send(proto, { path: '/status' });
      assert.equal(status.res.status, 203);
      if (proto === 'h1') assert.equal(status.res.reason, 'Changed');
      assert.deepEqual(header(status.res, 'x-after'), ['203']);
      const rdeny = await send(proto, { path: '/rdeny' });
      assert.equal(rdeny.res.status, 502);
      assert.ok(rdeny.got, 'the server answered before the response was denied');
      assert.doesNotMatch(rdeny.res.body.toString(), /ok$/);
    });

    it(`${proto}: allow, deny, tarpit, return and redirect answer without the server (http-after-response sees them)`, async () => {
      const allowed = await send(proto, { path: '/allow' });
      assert.equal(allowed.res.status, 200);
      assert.equal(allowed.got!.target, '/allow');
      // allow ended the rules: the set-header after it did not run.
      assert.deepEqual(header(allowed.got!, 'x-set'), []);
      const expectLocal = async (r: Request, status: number, check: (res: Answer) => void): Promise<void> => {
        const { res, got } = await send(proto, r);
        assert.equal(res.status, status, r.path);
        assert.equal(got, undefined, `${r.path} reached the server`);
        assert.deepEqual(header(res, 'x-after'), [String(status)], r.path);
        check(res);
      };
      await expectLocal({ path: '/deny' }, 451, () => undefined);
      await expectLocal({ path: '/limit/a' }, 429, (res) => {
        assert.equal(res.body.toString(), 'slow');
        assert.deepEqual(header(res, 'x-why'), ['/limit/a']);
      });
      const t0 = Date.now();
      await expectLocal({ path: '/tarpit' }, 503, () => assert.ok(Date.now() - t0 >= 150, `tarpit answered after ${Date.now() - t0} ms`));
      await expectLocal({ path: '/ret-string' }, 200, (res) => assert.equal(res.body.toString(), 'fixed'));
      await expectLocal({ path: '/ret-file' }, 202, (res) => assert.equal(res.body.toString(), 'from a file'));
      await expectLocal({ path: '/ret-lf/x' }, 200, (res) => assert.equal(res.body.toString(), 'at /ret-lf/x from 127.0.0.1'));
      await expectLocal({ path: '/rloc/a' }, 301, (res) => assert.deepEqual(header(res, 'location'), ['/new?from=/rloc/a']));
      await expectLocal({ path: '/rpfx/a?b=1' }, 302, (res) => assert.deepEqual(header(res, 'location'), ['https://p.example/rpfx/a?b=1']));
      await expectLocal({ path: '/rscheme/a', host: 'h.example' }, 308, (res) => assert.deepEqual(header(res, 'location'), ['https://h.example/rscheme/a']));
    });
  }
});

describe('ssl_fc_sni and capture over TLS, HTTP/1.1 and HTTP/2 (ALPN)', () => {
  it('the SNI the client sent is matched and rendered; capture slots show in the log line of both protocols', async () => {
    const rec = await new RecordingBackend().start();
    const dir = tempDir();
    const cert = issueCert(['tls.example', 'other.example']);
    const pem = path.join(dir, 'site.pem');
    writeFileSync(pem, cert.cert + cert.key);
    const logFile = path.join(dir, 'access.log');
    const port = await freePort();
    const lb = await startTslb(`
global: { workers: 1, access_log: ${logFile} }
frontends:
  - name: tls
    mode: http
    binds: [{ address: 127.0.0.1, port: ${port}, ssl: { certificates: [${pem}] } }]
    forwarded_proto: false
    forwarded_host: false
    log: { format: httplog }
    options:
      - "http-request set-header X-M-sni 1 if { ssl_fc_sni -i TLS.example }"
      - "http-request set-header X-SNI %[ssl_fc_sni]"
      - "http-request capture req.hdr(x-cap) len 6"
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }] }
`);
    const h1get = (servername: string, cap: string) =>
      new Promise<number>((resolve, reject) => {
        const r = https.request({ host: '127.0.0.1', port, path: '/h1', servername, ca: cert.ca, ALPNProtocols: ['http/1.1'], headers: { host: servername, 'x-cap': cap }, agent: false } as https.RequestOptions, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        r.on('error', reject);
        r.end();
      });
    const h2get = (servername: string, cap: string) =>
      new Promise<number>((resolve, reject) => {
        const session = http2.connect(`https://${servername}:${port}`, { ca: cert.ca, servername, host: '127.0.0.1' } as http2.SecureClientSessionOptions);
        session.on('error', reject);
        const s = session.request({ ':path': '/h2', 'x-cap': cap });
        let status = 0;
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('end', () => {
          session.close();
          resolve(status);
        });
        s.on('error', reject);
        s.resume();
        s.end();
      });
    try {
      for (const [get, proto] of [
        [h1get, 'h1'],
        [h2get, 'h2'],
      ] as const) {
        rec.reset();
        assert.equal(await get('tls.example', `${proto}-capture-cut`), 200);
        assert.deepEqual(header(rec.requests[0], 'x-sni'), ['tls.example'], proto);
        assert.deepEqual(header(rec.requests[0], 'x-m-sni'), ['1'], proto);
        rec.reset();
        assert.equal(await get('other.example', proto), 200);
        assert.deepEqual(header(rec.requests[0], 'x-sni'), ['other.example'], proto);
        assert.deepEqual(header(rec.requests[0], 'x-m-sni'), [], proto);
      }
      let lines: string[] = [];
      for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
        lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
        if (lines.length >= 4) break;
      }
      // Cut to its 6 bytes, one slot, on each protocol's log line.
      assert.ok(lines.some((l) => l.includes(' {h1-cap} "GET /h1 HTTP/1.1"')), lines.join('\n'));
      assert.ok(lines.some((l) => l.includes(' {h2-cap} "GET /h2 HTTP/2.0"')), lines.join('\n'));
    } finally {
      await lb.stop();
      await rec.close();
    }
  });
});
