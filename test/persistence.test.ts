/**
 * Session persistence through a real tslb: cookie insert/indirect/nocache,
 * re-dispatch of unknown and down servers, prefix and rewrite modes, `stick on`
 * (src across two workers, hdr), stick-table expiry and size, and the config forms.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort, startTslb, tempDir } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { loadConfig } from '../src/config/load';
import { Runtime } from '../src/worker/runtime';
import type { SampleContext } from '../src/rules/context';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers with who it is and the Cookie header it received; sets `setCookie` when given. */
async function cookieBackend(name: string, setCookie?: string): Promise<HttpBackend> {
  const b = await startHttpBackend(name, (req: http.IncomingMessage, res: http.ServerResponse) => {
    const headers: Record<string, string> = { 'x-served-by': name, 'x-cookie': req.headers.cookie ?? '<none>', 'content-length': '2' };
    if (setCookie) headers['set-cookie'] = setCookie;
    res.writeHead(200, headers);
    res.end('ok');
    return true;
  });
  cleanups.push(() => b.close());
  return b;
}

async function lb(yaml: string, workers = 1): Promise<number> {
  const port = await freePort();
  const p = await startTslb(`
global: { workers: ${workers}${workers > 1 ? ', accept_mode: rr' : ''} }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
${yaml}
`);
  cleanups.push(() => p.stop());
  return port;
}

interface Reply {
  server: string;
  cookieSeen: string;
  setCookie: string[];
  cacheControl: string | undefined;
}

async function get(port: number, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await request(`http://127.0.0.1:${port}/`, { headers, reset: true });
  await r.body.text();
  assert.equal(r.statusCode, 200);
  const sc = r.headers['set-cookie'];
  return {
    server: String(r.headers['x-served-by']),
    cookieSeen: String(r.headers['x-cookie']),
    setCookie: sc === undefined ? [] : Array.isArray(sc) ? sc : [sc],
    cacheControl: r.headers['cache-control'] as string | undefined,
  };
}

test('cookie insert indirect nocache: Set-Cookie on the first response, later requests pinned, cookie hidden from the server', async () => {
  const one = await cookieBackend('one');
  const two = await cookieBackend('two');
  const three = await cookieBackend('three');
  const port = await lb(
    `  - name: app
    cookie: "SRVID insert indirect nocache httponly"
    servers:
      - { name: s1, address: 127.0.0.1, port: ${one.port}, cookie: one }
      - { name: s2, address: 127.0.0.1, port: ${two.port}, options: "cookie two" }
      - { name: s3, address: 127.0.0.1, port: ${three.port}, cookie: three, disabled: true }`,
    2,
  );
  const first = await get(port);
  assert.equal(first.setCookie.length, 1);
  assert.equal(first.setCookie[0], `SRVID=${first.server}; path=/; HttpOnly`);
  assert.equal(first.cacheControl, 'private');
  // Round robin would alternate; the cookie keeps every request on the first server.
  for (let i = 0; i < 6; i++) {
    const r = await get(port, { cookie: `a=1; SRVID=${first.server}; b=2` });
    assert.equal(r.server, first.server);
    assert.equal(r.cookieSeen, 'a=1; b=2', 'indirect: the server never sees SRVID');
    assert.deepEqual(r.setCookie, [], 'a valid cookie is not inserted again');
    assert.equal(r.cacheControl, undefined);
  }
  // The other server by its cookie, and a request with only SRVID reaches the server without Cookie.
  const other = first.server === 'one' ? 'two' : 'one';
  const r = await get(port, { cookie: `SRVID=${other}` });
  assert.equal(r.server, other);
  assert.equal(r.cookieSeen, '<none>');
  // Unknown value and a server in maintenance: re-dispatched, and a new cookie inserted.
  for (const bad of ['nosuch', 'three']) {
    const x = await get(port, { cookie: `SRVID=${bad}` });
    assert.notEqual(x.server, 'three');
    assert.deepEqual(x.setCookie, [`SRVID=${x.server}; path=/; HttpOnly`]);
  }
  assert.equal(three.hits, 0);
});

test('cookie insert without indirect forwards the cookie and drops a NAME cookie set by the server; maxidle dates the value', async () => {
  const one = await cookieBackend('one', 'SRVID=fromserver; Path=/');
  const port = await lb(`  - name: app
    options: ["cookie SRVID insert maxidle 1h"]
    servers:
      - { name: s1, address: 127.0.0.1, port: ${one.port}, cookie: one }`);
  const first = await get(port);
  assert.equal(first.setCookie.length, 1, `only tslb's cookie: ${first.setCookie}`);
  const m = /^SRVID=(one\|[0-9a-z]+\|[0-9a-z]+); path=\/$/.exec(first.setCookie[0]);
  assert.ok(m, first.setCookie[0]);
  const again = await get(port, { cookie: `SRVID=${m[1]}` });
  assert.equal(again.cookieSeen, `SRVID=${m[1]}`);
  assert.deepEqual(again.setCookie, [], 'fresh dated cookie is not re-inserted');
  // A cookie last seen two hours ago is expired: re-inserted.
  const old = Math.floor(Date.now() / 1000) - 7200;
  const stale = await get(port, { cookie: `SRVID=one|${old.toString(36)}|${old.toString(36)}` });
  assert.equal(stale.setCookie.length, 1);
});

test('cookie prefix and rewrite modes edit the server cookie', async () => {
  const one = await cookieBackend('one', 'JSESSIONID=abc; Path=/');
  const two = await cookieBackend('two', 'JSESSIONID=def; Path=/');
  const port = await lb(`  - name: app
    cookie: JSESSIONID prefix
    servers:
      - { name: s1, address: 127.0.0.1, port: ${one.port}, cookie: one }
      - { name: s2, address: 127.0.0.1, port: ${two.port}, cookie: two }`);
  const first = await get(port);
  const own = first.server === 'one' ? 'abc' : 'def';
  assert.deepEqual(first.setCookie, [`JSESSIONID=${first.server}~${own}; Path=/`]);
  for (let i = 0; i < 3; i++) {
    const r = await get(port, { cookie: `JSESSIONID=${first.server}~${own}` });
    assert.equal(r.server, first.server);
    assert.equal(r.cookieSeen, `JSESSIONID=${own}`, 'the prefix is stripped before the server');
  }
  const r1 = await cookieBackend('r1', 'SRV=x; Path=/; Secure');
  const rwPort = await lb(`  - name: app
    cookie: SRV rewrite
    servers:
      - { name: r1, address: 127.0.0.1, port: ${r1.port}, cookie: rone }`);
  const rw = await get(rwPort);
  assert.deepEqual(rw.setCookie, ['SRV=rone; Path=/; Secure']);
});

test('stick on src keeps a client on one server across two workers', async () => {
  const a = await cookieBackend('a');
  const b = await cookieBackend('b');
  const port = await lb(
    `  - name: app
    stick_on: src
    stick_table: type ip size 100 expire 30m
    servers:
      - { name: a, address: 127.0.0.1, port: ${a.port} }
      - { name: b, address: 127.0.0.1, port: ${b.port} }`,
    2,
  );
  const first = await get(port);
  for (let i = 0; i < 10; i++) assert.equal((await get(port)).server, first.server, `request ${i}`);
  assert.equal((first.server === 'a' ? b : a).hits, 0);
});

test('stick on hdr(x-user) pins each user across two workers (entries shared); backend lines in the options list', async () => {
  const a = await cookieBackend('a');
  const b = await cookieBackend('b');
  const port = await lb(
    `  - name: app
    options: ["stick on hdr(x-user)", "stick-table type string len 8 size 1k expire 10m"]
    servers:
      - { name: a, address: 127.0.0.1, port: ${a.port} }
      - { name: b, address: 127.0.0.1, port: ${b.port} }`,
    2,
  );
  // Connections alternate between the workers (accept_mode rr) and three users rotate over
  // them, so a user's later requests reach the worker that did not learn its entry.
  const home = new Map<string, string>();
  for (let round = 0; round < 4; round++) {
    for (const user of ['ann', 'bob', 'cid']) {
      const r = await get(port, { 'x-user': user });
      if (!home.has(user)) home.set(user, r.server);
      assert.equal(r.server, home.get(user), `${user} round ${round}`);
    }
  }
  assert.ok(a.hits > 0 && b.hits > 0, 'new users are still balanced');
});

function configFile(backend: string): string {
  const file = path.join(tempDir(), 'lb.yaml');
  writeFileSync(file, `
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:1"], default_backend: app }
backends:
${backend}
`);
  return file;
}

test('stick-table entries expire after `expire`, the oldest go beyond `size`, non-stick servers are not stored', async () => {
  const loaded = loadConfig([
    configFile(`  - name: app
    stick_on: hdr(x-user)
    stick_table: type string size 2 expire 150ms
    servers:
      - { name: a, address: 127.0.0.1, port: 1 }
      - { name: b, address: 127.0.0.1, port: 2 }
      - { name: c, address: 127.0.0.1, port: 3, options: non-stick }`),
  ]);
  assert.deepEqual(loaded.errors, []);
  const be = new Runtime(loaded.model!).backends.get('app')!;
  const table = be.stick!;
  const [a, b, c] = be.servers;
  table.store('eve', c);
  assert.equal(table.lookup('eve'), undefined, 'non-stick servers are not stored');
  const ctx = (user: string) => ({ headerValues: () => [user] }) as unknown as SampleContext;
  assert.equal(table.key(ctx('ann')), 'ann');
  table.store('ann', a);
  table.store('bob', b);
  assert.equal(table.lookup('ann'), a);
  table.store('cid', a);
  assert.equal(table.size, 2);
  assert.equal(table.lookup('bob'), undefined, 'least recently used entry dropped');
  await sleep(200);
  assert.equal(table.lookup('ann'), undefined, 'expired');
});

test('config: persistence lines are checked', () => {
  const errors = (backend: string) => loadConfig([configFile(backend)]).errors.map((e) => e.message);
  const srv = `    servers: [{ name: a, address: 127.0.0.1, port: 1 }]`;
  assert.match(errors(`  - name: app\n    cookie: SRVID\n${srv}`).join(), /needs one of insert, rewrite or prefix/);
  assert.match(errors(`  - name: app\n    cookie: SRVID insert sometimes\n${srv}`).join(), /unknown or unsupported keyword "sometimes"/);
  assert.match(errors(`  - name: app\n    stick_on: src\n${srv}`).join(), /needs a stick-table/);
  assert.match(errors(`  - name: app\n    stick_on: nosuch\n    stick_table: type ip size 10\n${srv}`).join(), /unknown fetch/);
  assert.match(errors(`  - name: app\n    mode: tcp\n    cookie: S insert\n${srv}`).join(), /needs mode http/);
  const ok = loadConfig([configFile(`  - name: app\n    balance: source\n    options: ["hash-type consistent", "cookie S insert indirect"]\n${srv}`)]);
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.model!.backends[0].balance.hashType, 'consistent');
  assert.equal(ok.model!.backends[0].cookie!.indirect, true);
});
