/**
 * Userlists with every crypt(3) scheme HAProxy users bring, through a real tslb on
 * HTTP/1.1 and HTTP/2: bcrypt ($2b$ and $2y$, made by bcryptjs), SHA-crypt $5$/$6$ and
 * MD5-crypt $1$ made by `openssl passwd`. A right password passes `http_auth()` (the
 * server gets the request), a wrong one gets the 401 of `http-request auth`. A slow
 * bcrypt check does not hold the worker: a request without credentials sent while it
 * runs is answered first; the same credentials again are answered from the worker's
 * remembered outcome, without a second check.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as bcrypt from 'bcryptjs';
import { header, RecordingBackend } from './helpers/rawhttp';
import { H2Client, h1Request, type Answer, type Protocol, type Request } from './helpers/both-protocols';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

const openssl = (scheme: string, password: string): string => execFileSync('openssl', ['passwd', scheme, password], { encoding: 'utf8' }).trim();
const basic = (user: string, pass: string): [string, string] => ['Authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`];

describe('userlists: bcrypt, SHA-crypt and MD5-crypt hashes', () => {
  const rec = new RecordingBackend();
  let lb: TslbProcess;
  let h1 = 0;
  let h2: H2Client;
  const users: [string, string][] = [
    ['bea', 'b-crypt pass'],
    ['yan', 'y variant'],
    ['sam', 'sha-256 pass'],
    ['sue', 'sha-512 pass'],
    ['mo', 'md5 pass'],
  ];
  /** Users checked once each, by the request-body test (a first check makes the request wait). */
  const posters = ['p1', 'p2'];

  before(async () => {
    await rec.start();
    h1 = await freePort();
    const h2port = await freePort();
    const hashes: Record<string, string> = {
      bea: bcrypt.hashSync('b-crypt pass', 10),
      yan: bcrypt.hashSync('y variant', 8).replace(/^\$2b\$/, '$2y$'),
      sam: openssl('-5', 'sha-256 pass'),
      sue: openssl('-6', 'sha-512 pass'),
      mo: openssl('-1', 'md5 pass'),
      // Slow enough (2^14 rounds of JS Blowfish: about a second) to see what the worker does meanwhile.
      slow: bcrypt.hashSync('patience', 14),
      p1: bcrypt.hashSync('poster', 10),
      p2: bcrypt.hashSync('poster', 10),
    };
    assert.match(hashes.mo, /^\$1\$/);
    lb = await startTslb(`
global: { workers: 1 }
userlists:
  - name: staff
    users:
${Object.entries(hashes)
  .map(([name, hash]) => `      - "user ${name} password ${hash}"`)
  .join('\n')}
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${h1}", { address: 127.0.0.1, port: ${h2port}, h2c: true }]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    options:
      - "http-request auth realm Staff if { path_beg /staff } !{ http_auth(staff) }"
      - "http-request set-header X-Authed %[http_auth(staff)]"
    default_backend: app
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${rec.port} }] }
`);
    h2 = new H2Client(h2port);
  });
  after(async () => {
    h2?.close();
    await lb?.stop();
    await rec.close();
  });

  const send = (proto: Protocol, r: Request): Promise<Answer> => (proto === 'h1' ? h1Request(h1, r) : h2.request(r));

  for (const proto of ['h1', 'h2'] as const) {
    it(`${proto}: the right password of each scheme passes, a wrong one gets 401 and the server sees nothing`, async () => {
      for (const [user, pass] of users) {
        rec.reset();
        const ok = await send(proto, { path: '/staff/x', headers: [basic(user, pass)] });
        assert.equal(ok.status, 200, `${user}: ${ok.body.toString()}`);
        assert.deepEqual(header(rec.requests[0], 'x-authed'), ['1'], user);
        rec.reset();
        const wrong = await send(proto, { path: '/staff/x', headers: [basic(user, pass + 'x')] });
        assert.equal(wrong.status, 401, user);
        assert.deepEqual(header(wrong, 'www-authenticate'), ['Basic realm="Staff"']);
        assert.equal(rec.requests.length, 0, user);
      }
    });
  }

  for (const [i, proto] of (['h1', 'h2'] as const).entries()) {
    it(`${proto}: a request body sent while its credentials are checked reaches the server whole`, async () => {
      const body = 'x'.repeat(100_000);
      rec.reset();
      const r = await send(proto, { method: 'POST', path: '/staff/upload', headers: [basic(posters[i], 'poster')], body });
      assert.equal(r.status, 200);
      assert.equal(rec.requests.length, 1);
      assert.equal(rec.requests[0].body.toString(), body);
    });
  }

  it('a slow bcrypt check does not hold the worker, and the same credentials again are not checked again', async () => {
    const order: string[] = [];
    const t0 = Date.now();
    const slow = h1Request(h1, { path: '/staff/slow', headers: [basic('slow', 'patience')] }).then((r) => {
      order.push('slow');
      return { r, ms: Date.now() - t0 };
    });
    await new Promise((r) => setTimeout(r, 100));
    const open = await h1Request(h1, { path: '/open' });
    order.push('open');
    const first = await slow;
    assert.equal(open.status, 200);
    assert.equal(first.r.status, 200);
    assert.deepEqual(order, ['open', 'slow'], `the check took ${first.ms} ms`);
    // Remembered: a fraction of the first check's time (it took ~1 s of Blowfish).
    const t1 = Date.now();
    const again = await h2.request({ path: '/staff/slow', headers: [basic('slow', 'patience')] });
    const ms = Date.now() - t1;
    assert.equal(again.status, 200);
    assert.ok(ms < first.ms / 3, `again after ${ms} ms, first after ${first.ms} ms`);
  });
});
