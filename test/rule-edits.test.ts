/**
 * Rules see earlier rules' edits (as HAProxy's): a header fetch after set-header,
 * add-header, del-header or replace-value reads the message as edited, in the
 * request and in the response, on HTTP/1.1 and HTTP/2 alike, and the server and the
 * client get the edited message.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { header, RecordingBackend, type RawRequest } from './helpers/rawhttp';
import { H2Client, h1Request, type Answer, type Protocol, type Request } from './helpers/both-protocols';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

describe('rules see earlier rules’ header edits', () => {
  const app = new RecordingBackend();
  const gold = new RecordingBackend();
  let lb: TslbProcess;
  let h1 = 0;
  let h2: H2Client;

  before(async () => {
    await app.start();
    await gold.start();
    app.reply = () => ({ bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-R: old\r\nX-Keep: k\r\n\r\nok') });
    h1 = await freePort();
    const h2port = await freePort();
    lb = await startTslb(`
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${h1}", { address: 127.0.0.1, port: ${h2port}, h2c: true }]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    options:
      - "http-request set-header X-Tier gold if { path_beg /gold }"
      - "http-request deny deny_status 403 if { hdr(x-tier) -m str bronze }"
      - "http-request set-header X-Seen %[req.hdr(x-tier)]"
      - "http-request set-header X-Self %[req.hdr(x-self)]-edited"
      - "http-request del-header X-Gone"
      - "http-request set-header X-Gone-Count %[req.hdr_cnt(x-gone)]"
      - "http-request add-header X-Multi two"
      - "http-request set-header X-Multi-Count %[req.hdr_cnt(x-multi)]"
      - "http-request set-header X-Twice a"
      - "http-request set-header X-Twice b"
      - "http-request add-header X-Added temp"
      - "http-request del-header X-Added"
      - "http-request add-header x-case-edit one"
      - "http-request set-header X-CASE-EDIT two"
      - "http-request set-header X-Case-Seen %[req.hdr(X-Case-Edit)]"
      - "http-request replace-value X-Tier ^gold$ platinum"
      - "http-request set-var(txn.tier) req.hdr(x-tier)"
      - "http-response set-header X-R new"
      - "http-response set-header X-R-Seen %[res.hdr(x-r)]"
      - "http-response set-header X-Tier-Var %[var(txn.tier)]"
      - "http-response del-header X-Keep"
      - "http-response set-header X-Keep-Count %[res.hdr_cnt(x-keep)]"
    use_backend:
      - { backend: gold, if: "{ req.hdr(x-tier) platinum }" }
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }] }
  - { name: gold, mode: http, servers: [{ name: g1, address: 127.0.0.1, port: ${gold.port} }] }
`);
    h2 = new H2Client(h2port);
  });
  after(async () => {
    h2?.close();
    await lb?.stop();
    await app.close();
    await gold.close();
  });

  async function send(proto: Protocol, r: Request): Promise<{ res: Answer; app: RawRequest | undefined; gold: RawRequest | undefined }> {
    app.reset();
    gold.reset();
    const res = proto === 'h1' ? await h1Request(h1, r) : await h2.request(r);
    return { res, app: app.requests[0], gold: gold.requests[0] };
  }

  for (const proto of ['h1', 'h2'] as const) {
    it(`${proto}: fetches, later rules and routing read a header set, added, removed or rewritten by an earlier rule`, async () => {
      const headers: [string, string][] = [
        ['X-Tier', 'bronze'],
        ['X-Self', 'orig'],
        ['X-Gone', '1'],
        ['X-Gone', '2'],
        ['X-Multi', 'one'],
      ];
      // The client's bronze became gold, then platinum: no deny, routed to gold.
      const r = await send(proto, { path: '/gold/x', headers });
      assert.equal(r.res.status, 200);
      assert.equal(r.app, undefined);
      const got = r.gold;
      assert.ok(got, 'the gold backend got the request');
      assert.deepEqual(header(got, 'x-tier'), ['platinum']);
      assert.deepEqual(header(got, 'x-seen'), ['gold']);
      // The value was rendered before its header was replaced.
      assert.deepEqual(header(got, 'x-self'), ['orig-edited']);
      assert.deepEqual(header(got, 'x-gone'), []);
      assert.deepEqual(header(got, 'x-gone-count'), ['0']);
      assert.deepEqual(header(got, 'x-multi'), ['one', 'two']);
      assert.deepEqual(header(got, 'x-multi-count'), ['2']);
      assert.deepEqual(header(got, 'x-twice'), ['b']);
      assert.deepEqual(header(got, 'x-added'), []);
      // Names compare without case: the set-header replaced the line added in lower case.
      assert.deepEqual(header(got, 'x-case-edit'), ['two']);
      assert.deepEqual(header(got, 'x-case-seen'), ['two']);
      // Response rules read the response as the earlier ones left it.
      assert.deepEqual(header(r.res, 'x-r'), ['new']);
      assert.deepEqual(header(r.res, 'x-r-seen'), ['new']);
      assert.deepEqual(header(r.res, 'x-tier-var'), ['platinum']);
      assert.deepEqual(header(r.res, 'x-keep'), []);
      assert.deepEqual(header(r.res, 'x-keep-count'), ['0']);

      // Without the set-header, the client's value is what the deny rule reads.
      const denied = await send(proto, { path: '/plain', headers: [['X-Tier', 'bronze']] });
      assert.equal(denied.res.status, 403);
      assert.equal(denied.app, undefined);
      const plain = await send(proto, { path: '/plain', headers: [['X-Tier', 'silver']] });
      assert.equal(plain.res.status, 200);
      assert.deepEqual(header(plain.app!, 'x-seen'), ['silver']);
      assert.deepEqual(header(plain.app!, 'x-self'), ['--edited']);
      // (An absent sample renders as '-', as in HAProxy's log-format.)
    });
  }
});
