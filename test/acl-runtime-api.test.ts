/**
 * Pattern and map files changed at run time, through a real tslb with two workers
 * (accept_mode rr: new connections alternate between them): HAProxy's `show|get|add|
 * del|clear acl` and `show|get|add|set|del|clear map` take effect on both workers at
 * once, a respawned worker keeps them, and a reload reads the files again (file
 * content wins, as in HAProxy).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { tcpCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const dir = tempDir();
const hostsList = path.join(dir, 'hosts.lst');
const netsList = path.join(dir, 'nets.lst');
const hostsMap = path.join(dir, 'hosts.map');
let lb: TslbProcess;
let port = 0;
let api = 0;

before(async () => {
  const server = http.createServer((req, res) => res.end(String(req.headers['x-route'] ?? 'none')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const echo = (server.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  writeFileSync(hostsList, 'a.example\nb.example\n');
  writeFileSync(netsList, '192.0.2.0/24\n');
  writeFileSync(hostsMap, 'www.example.com b_one\n');
  port = await freePort();
  api = await freePort();
  const backend = (name: string) => `  - name: ${name}
    mode: http
    http_request: [{ set_header: { name: x-route, value: ${name} } }]
    servers: [{ name: s1, address: 127.0.0.1, port: ${echo} }]`;
  lb = await startTslb(`
global: { workers: 2, accept_mode: rr }
runtime_api: { tcp: "127.0.0.1:${api}", level: admin }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: b_default
    use_backend:
      - { backend: b_acl, if: "hdr(host) -i -f ${hostsList}" }
      - { backend: b_nets, if: "hdr_ip(x-client) -f ${netsList}" }
      - { backend: "%[req.hdr(host),lower,map(${hostsMap})]" }
backends:
${['b_default', 'b_acl', 'b_nets', 'b_one', 'b_two'].map(backend).join('\n')}
`);
  cleanups.push(() => lb.stop());
});

/** The backends that answered `host`, over four new connections (two per worker). */
async function routes(host: string, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 4; i++) {
    const dispatcher = new Agent({ pipelining: 0, headersTimeout: 10_000 });
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host, ...headers }, dispatcher });
    out.push(await res.body.text());
    await dispatcher.close();
  }
  return out;
}

const everywhere = (name: string) => [name, name, name, name];

/** Resolves when these processes have exited (polled, at most 10 s). */
async function gone(pids: number[]): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!pids.some(alive), `old workers ${pids.join(', ')} still running`);
}
const cmd = (line: string) => tcpCommand(api, `${line}\n`);

test('show acl / show map list the files; show dumps entries with their ids', async () => {
  assert.equal(
    await cmd('show acl'),
    `# id (file) description\n` +
      `0 (${hostsList}) pattern loaded from file '${hostsList}' used by acl at file '${lb.configPath}' line 10. curr_ver=0 next_ver=0 entry_cnt=2\n` +
      `1 (${netsList}) pattern loaded from file '${netsList}' used by acl at file '${lb.configPath}' line 11. curr_ver=0 next_ver=0 entry_cnt=1\n\n`,
  );
  assert.match(await cmd('show map'), new RegExp(`^# id \\(file\\) description\\n2 \\(${hostsMap}\\) pattern loaded from file '${hostsMap}' used by map at file '.*' line 12\\. curr_ver=0 next_ver=0 entry_cnt=1\\n\\n$`));
  assert.equal(await cmd(`show acl ${hostsList}`), '0x1 a.example\n0x2 b.example\n\n');
  assert.equal(await cmd('show acl #1'), '0x1 192.0.2.0/24\n\n');
  assert.equal(await cmd(`show map ${hostsMap}`), '0x1 www.example.com b_one\n\n');
  assert.equal(await cmd('show acl nosuch.lst'), 'Unknown ACL identifier. Please use #<id> or <file>.\n\n');
  assert.equal(await cmd(`get map ${hostsMap} www.example.com`), 'type=str, case=sensitive, found=yes, idx=tree, key="www.example.com", value="b_one", type="str"\n\n');
  assert.equal(await cmd(`get acl #1 192.0.2.77`), 'type=ip, case=sensitive, match=yes, idx=tree, pattern="192.0.2.0/24"\n\n');
  assert.equal(await cmd(`get acl #0 c.example`), 'type=str, case=insensitive, match=no\n\n');
});

test('add acl / del acl change both workers at once; patterns are checked', async () => {
  assert.deepEqual(await routes('c.example'), everywhere('b_default'));
  assert.equal(await cmd(`add acl ${hostsList} c.example`), '\n');
  assert.deepEqual(await routes('C.example'), everywhere('b_acl'));
  assert.equal(await cmd(`show acl #0`), '0x1 a.example\n0x2 b.example\n0x3 c.example\n\n');
  assert.equal(await cmd(`del acl ${hostsList} #0x3`), '\n');
  assert.deepEqual(await routes('c.example'), everywhere('b_default'));
  assert.equal(await cmd(`del acl ${hostsList} c.example`), 'Key not found.\n\n');

  assert.equal(await cmd(`add acl ${netsList} 1.2.3.999`), '"1.2.3.999" is not an IP address or CIDR.\n\n');
  assert.equal(await cmd(`add acl ${netsList} 2001:db8::/32`), '\n');
  assert.deepEqual(await routes('x.test', { 'x-client': '2001:db8::1' }), everywhere('b_nets'));
  assert.equal(await cmd(`add acl ${hostsMap} x`), "This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n\n");
  assert.equal(await cmd(`add acl nosuch x`), 'Unknown ACL identifier. Please use #<id> or <file>.\n\n');
  assert.equal(await cmd(`add acl ${hostsList}`), "'add acl' expects two parameters: ACL identifier and pattern.\n\n");
});

test('set map / add map / del map / clear map change both workers at once', async () => {
  assert.deepEqual(await routes('www.example.com'), everywhere('b_one'));
  assert.equal(await cmd(`set map ${hostsMap} www.example.com b_two`), '\n');
  assert.deepEqual(await routes('www.example.com'), everywhere('b_two'));
  assert.equal(await cmd(`add map ${hostsMap} api.example.com b_one`), '\n');
  assert.deepEqual(await routes('api.example.com'), everywhere('b_one'));
  assert.equal(await cmd(`set map ${hostsMap} nosuch.example.com b_one`), 'entry not found.\n\n');
  assert.equal(await cmd(`del map ${hostsMap} www.example.com`), '\n');
  assert.deepEqual(await routes('www.example.com'), everywhere('b_default'), 'no entry: the default backend');
  assert.equal(await cmd(`show map #2`), '0x2 api.example.com b_one\n\n');
  assert.equal(await cmd(`clear map ${hostsMap}`), '\n');
  assert.deepEqual(await routes('api.example.com'), everywhere('b_default'));
  // HAProxy's payload form: one `key value` per line, up to an empty line.
  assert.equal(await cmd(`add map ${hostsMap} <<\nwww.example.com b_two\napi.example.com   b_one\n`), '\n');
  assert.deepEqual(await routes('api.example.com'), everywhere('b_one'));
  assert.equal(await cmd(`show map ${hostsMap}`), '0x3 www.example.com b_two\n0x4 api.example.com b_one\n\n');
  assert.equal(await cmd(`add map ${hostsMap} <<\nlonely.example.com\n`), "Missing value for key 'lonely.example.com'.\n\n");
});

test('a respawned worker starts with the edits; a reload reads the files again', async () => {
  assert.equal(await cmd(`add acl ${hostsList} d.example`), '\n');
  const first = (await lb.waitForLog((e) => e.event === 'ready')).workers as number[];
  process.kill(first[0], 'SIGKILL');
  const respawned = (await lb.waitForLog((e) => e.event === 'worker-ready' && !first.includes(e.worker as number))).worker as number;
  assert.deepEqual(await routes('d.example'), everywhere('b_acl'));
  assert.deepEqual(await routes('www.example.com'), everywhere('b_two'));

  writeFileSync(hostsList, 'e.example\n');
  writeFileSync(hostsMap, 'www.example.com b_one\n');
  process.kill(lb.pid, 'SIGHUP');
  await lb.waitForLog((e) => e.event === 'reloaded');
  // With accept_mode rr a connection handed to a worker as it exits is lost (Node's cluster): let the old generation go first.
  await gone([first[1], respawned]);
  assert.deepEqual(await routes('e.example'), everywhere('b_acl'));
  assert.deepEqual(await routes('d.example'), everywhere('b_default'), 'the edit is gone, as in HAProxy');
  assert.deepEqual(await routes('www.example.com'), everywhere('b_one'));
  assert.equal(await cmd(`show acl #0`), '0x1 e.example\n\n');
});
