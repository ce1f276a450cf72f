/**
 * DNS discovery through a real tslb and a DNS server of the test's own on loopback
 * (test/helpers/dns-server.ts): `resolvers` move a server when its A record changes,
 * without a reload; NXDOMAIN puts it in maintenance until it resolves again;
 * `server-template` slots take targets, ports and weights from SRV records; `tslb -c`
 * refuses what cannot start. No query leaves the machine: servers use `init-addr none`
 * or a fixed IP, and the one libc lookup runs with a resolv.conf naming 127.0.0.1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { loadConfig, formatIssue } from '../src/config/load';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { startDnsServer, type DnsServer } from './helpers/dns-server';
import { CLI, freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { unixCommand } from './helpers/runtime-api';

const dir = tempDir('tslb-dns-');
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** Fast timers so changes show within a second; the waits below allow far more. */
function resolversSection(dns: DnsServer): string {
  return `
resolvers:
  - name: mydns
    nameservers: ["dns1 ${dns.address}"]
    options:
      - resolve_retries 1
      - timeout resolve 200ms
      - timeout retry 200ms
      - hold valid 1s
      - hold nx 300ms
      - hold obsolete 0s
`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function servedBy(port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await request(`http://127.0.0.1:${port}/`);
    await res.body.text();
    const by = res.statusCode === 200 ? String(res.headers['x-served-by']) : `status ${res.statusCode}`;
    seen[by] = (seen[by] ?? 0) + 1;
  }
  return seen;
}

/** `show servers state` rows by server name. */
async function serversState(sock: string): Promise<Record<string, { addr: string; admin: number; weight: number; fqdn: string; port: number; srvrecord: string }>> {
  const out = await unixCommand(sock, 'show servers state\n');
  const rows: Record<string, { addr: string; admin: number; weight: number; fqdn: string; port: number; srvrecord: string }> = {};
  for (const line of out.split('\n').slice(2)) {
    const f = line.split(' ');
    if (f.length < 20) continue;
    rows[f[3]] = { addr: f[4], admin: Number(f[6]), weight: Number(f[7]), fqdn: f[17], port: Number(f[18]), srvrecord: f[19] };
  }
  return rows;
}

/** The `status` column of `show stat` for one server. */
async function statStatus(sock: string, backend: string, server: string): Promise<string | undefined> {
  const csv = await unixCommand(sock, 'show stat\n');
  const [head, ...lines] = csv.split('\n');
  const cols = head.replace(/^# /, '').split(',');
  const row = lines.map((l) => l.split(',')).find((f) => f[0] === backend && f[1] === server);
  return row?.[cols.indexOf('status')];
}

function logged(lb: TslbProcess, text: string): boolean {
  return lb.logs().includes(text);
}

/** The primary logs a change after the runtime API already shows it: wait for the line. */
async function assertLogged(lb: TslbProcess, text: string): Promise<void> {
  await until(`log line "${text}"\n${lb.logs()}`, async () => (logged(lb, text) ? true : undefined), 5000);
}

/** Two backends on one port, on 127.0.0.2 and 127.0.0.3 (a free port on both). */
async function backendsOnTwoAddresses(): Promise<[HttpBackend, HttpBackend]> {
  for (let attempt = 0; ; attempt++) {
    const first = await startHttpBackend('at-127.0.0.2', undefined, { host: '127.0.0.2' });
    try {
      return [first, await startHttpBackend('at-127.0.0.3', undefined, { host: '127.0.0.3', port: first.port })];
    } catch (err) {
      await first.close();
      if (attempt === 5) throw err;
    }
  }
}

test('a server follows its A record without a reload; NXDOMAIN puts it in maintenance until it resolves again', async (t) => {
  const dns = await startDnsServer();
  cleanups.push(() => dns.close());
  const [at2, at3] = await backendsOnTwoAddresses();
  const other = await startHttpBackend('other');
  cleanups.push(() => at2.close(), () => at3.close(), () => other.close());
  dns.set('app.test.local', { a: ['127.0.0.2'] });
  const port = await freePort();
  const sock = path.join(dir, 'a.sock');
  const lb = await startTslb(`
global: { workers: 1 }
${resolversSection(dns)}
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: app }
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: app.test.local, port: ${at2.port}, options: "resolvers mydns init-addr last,none resolve-prefer ipv4" }
      - { name: s2, address: 127.0.0.1, port: ${other.port} }
runtime_api: { socket: ${sock} }
`);
  cleanups.push(() => lb.stop());

  // init-addr last,none: nothing to take at a cold start, so in maintenance until the first answer, then on 127.0.0.2.
  await until('s1 on 127.0.0.2', async () => ((await serversState(sock)).s1?.addr === '127.0.0.2' ? true : undefined));
  await assertLogged(lb, 'app/s1 changed its IP from (none) to 127.0.0.2 by mydns/dns1.');
  await assertLogged(lb, "Server app/s1 ('app.test.local') is UP/READY (resolves again).");
  let seen = await servedBy(port, 6);
  assert.equal(seen['at-127.0.0.2'], 3, JSON.stringify(seen));
  assert.equal(seen.other, 3, JSON.stringify(seen));

  // The record changes: traffic moves within a few `timeout resolve` periods, same process, no reload.
  dns.set('app.test.local', { a: ['127.0.0.3'] });
  const changed = Date.now();
  await until('traffic on 127.0.0.3', async () => ((await servedBy(port, 2))['at-127.0.0.3'] ? true : undefined)).catch(async (err: Error) => {
    // Failed once in CI and never here: say what tslb saw.
    const state = JSON.stringify((await serversState(sock)).s1);
    throw new Error(`${err.message}; s1 ${state}; A queries ${dns.queries('app.test.local', 'A')}; servedBy ${JSON.stringify(await servedBy(port, 4))}\n${lb.logs().slice(-4000)}`);
  });
  const moveMs = Date.now() - changed;
  assert.ok(moveMs < 10_000, `took ${moveMs} ms`);
  t.diagnostic(`traffic on the new address ${moveMs} ms after the record changed (timeout resolve 200ms)`);
  seen = await servedBy(port, 6);
  assert.equal(seen['at-127.0.0.2'], undefined, JSON.stringify(seen));
  assert.equal(seen['at-127.0.0.3'], 3, JSON.stringify(seen));
  await assertLogged(lb, 'app/s1 changed its IP from 127.0.0.2 to 127.0.0.3 by mydns/dns1.');
  assert.ok(!logged(lb, '"event":"reloaded"'));
  assert.ok(dns.queries('app.test.local', 'A') >= 2, 'asked again, not only at start');

  // NXDOMAIN past `hold nx`: resolution maintenance, the other server takes everything.
  dns.delete('app.test.local');
  await until('s1 in MAINT (resolution)', async () => ((await statStatus(sock, 'app', 's1')) === 'MAINT (resolution)' ? true : undefined));
  const state = (await serversState(sock)).s1;
  assert.equal(state.admin & 0x20, 0x20, 'RMAINT bit');
  assert.equal(state.addr, '-');
  assert.equal(state.fqdn, 'app.test.local');
  await assertLogged(lb, 'Server app/s1 is going DOWN for maintenance (DNS NX status). 1 active and 0 backup servers left.');
  seen = await servedBy(port, 6);
  assert.deepEqual(seen, { other: 6 });

  // It resolves again: back in the rotation.
  dns.set('app.test.local', { a: ['127.0.0.3'] });
  await until('s1 back', async () => ((await statStatus(sock, 'app', 's1')) === 'no check' ? true : undefined));
  await assertLogged(lb, 'Server app/s1 administratively READY thanks to valid DNS answer.');
  seen = await servedBy(port, 6);
  assert.equal(seen['at-127.0.0.3'], 3, JSON.stringify(seen));

  // A reload keeps the address it had (init-addr last), not none-then-resolve.
  const ipChanges = () => lb.logs().split('changed its IP').length;
  const before = ipChanges();
  process.kill(lb.pid, 'SIGHUP');
  await lb.waitForLog((e) => e.event === 'reloaded');
  seen = await servedBy(port, 4);
  assert.equal(seen['at-127.0.0.3'], 2, JSON.stringify(seen));
  assert.equal((await serversState(sock)).s1.addr, '127.0.0.3');
  assert.equal(ipChanges(), before, 'no address change after the reload:\n' + lb.logs().split('"reloaded"')[1]);
});

test('server-template slots take targets, ports and weights from SRV records; a removed record empties its slot', async () => {
  const dns = await startDnsServer();
  cleanups.push(() => dns.close());
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startHttpBackend(n)));
  cleanups.push(() => a.close(), () => b.close(), () => c.close());
  const label = '_http._tcp.svc.test.local';
  const records = {
    a: { target: 'a.svc.test.local', port: a.port, weight: 256 },
    b: { target: 'b.svc.test.local', port: b.port, weight: 512 },
    c: { target: 'c.svc.test.local', port: c.port, weight: 2000 },
  };
  dns.set(label, { srv: [records.a, records.b, records.c] });
  for (const n of ['a', 'b', 'c']) dns.set(`${n}.svc.test.local`, { a: ['127.0.0.1'] });
  const port = await freePort();
  const sock = path.join(dir, 'srv.sock');
  const lb = await startTslb(`
global: { workers: 1 }
${resolversSection(dns)}
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${port}"], default_backend: svc }
backends:
  - name: svc
    mode: http
    options:
      - server-template web 3 ${label} resolvers mydns init-addr none resolve-prefer ipv4
runtime_api: { socket: ${sock} }
`);
  cleanups.push(() => lb.stop());

  const filled = await until('three slots filled', async () => {
    const rows = await serversState(sock);
    const slots = ['web1', 'web2', 'web3'].map((n) => rows[n]);
    return slots.every((s) => s?.addr === '127.0.0.1') ? rows : undefined;
  });
  const byPort = new Map(['web1', 'web2', 'web3'].map((n) => [filled[n].port, { name: n, ...filled[n] }]));
  assert.deepEqual([...byPort.keys()].sort(), [a.port, b.port, c.port].sort());
  // HAProxy's SRV weight mapping: ceil(weight / 256).
  assert.equal(byPort.get(a.port)!.weight, 1);
  assert.equal(byPort.get(b.port)!.weight, 2);
  assert.equal(byPort.get(c.port)!.weight, 8);
  assert.equal(byPort.get(b.port)!.fqdn, 'b.svc.test.local');
  assert.equal(byPort.get(b.port)!.srvrecord, label);
  const seen = await servedBy(port, 11);
  assert.deepEqual(seen, { a: 1, b: 2, c: 8 });

  // Record b goes away: its slot empties (maintenance, no address, port 0); a and c keep theirs.
  dns.set(label, { srv: [records.a, records.c] });
  const slotB = byPort.get(b.port)!.name;
  await until(`${slotB} emptied`, async () => ((await statStatus(sock, 'svc', slotB)) === 'MAINT (resolution)' ? true : undefined));
  const after = await serversState(sock);
  assert.equal(after[slotB].addr, '-');
  assert.equal(after[slotB].port, 0);
  assert.equal(after[byPort.get(a.port)!.name].port, a.port);
  await assertLogged(lb, `Server svc/${slotB} is going DOWN for maintenance (entry removed from SRV record).`);
  const rest = await servedBy(port, 9);
  assert.deepEqual(rest, { a: 1, c: 8 });
});

test('config: resolvers lines and keys, server-template, and what `tslb -c` refuses', async () => {
  const file = path.join(dir, 'check.yaml');
  const write = (backendExtra: string, server = 'resolvers mydns init-addr none') => {
    writeFileSync(
      file,
      `
resolvers:
  - name: mydns
    nameservers: ["dns1 127.0.0.1:5353", { name: dns2, address: "::1" }]
    hold: { nx: 5s }
    options: ["nameserver dns3 127.0.0.2", "hold valid 2s", "timeout resolve 500ms", "accepted_payload_size 8192"]
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:18080"], default_backend: app }
backends:
  - name: app
    servers:
      - { name: s1, address: app.test.local, port: 80, options: "${server}" }
${backendExtra}
`,
    );
    return loadConfig([file]);
  };
  const good = write('    server_templates: [{ prefix: t, count: "5-6", fqdn: "app.test.local", port: 81, resolvers: mydns, init_addr: "none" }]');
  assert.deepEqual(good.errors.map(formatIssue), []);
  const section = good.model!.resolvers![0];
  assert.deepEqual(section.nameservers, [
    { name: 'dns3', address: '127.0.0.2', port: 53 },
    { name: 'dns1', address: '127.0.0.1', port: 5353 },
    { name: 'dns2', address: '::1', port: 53 },
  ]);
  assert.deepEqual([section.hold.nx, section.hold.valid, section.timeoutResolve, section.acceptedPayloadSize], [5000, 2000, 500, 8192]);
  const servers = good.model!.backends[0].servers;
  assert.deepEqual(servers.map((s) => `${s.name}:${s.port}`), ['s1:80', 't5:81', 't6:81']);
  assert.deepEqual(servers[0].dns, { fqdn: 'app.test.local', resolvers: 'mydns', initAddr: ['none'], prefer: 'ipv6', allowDupIp: false, ignoreWeight: false });
  assert.equal(servers[1].dns?.template, 't');

  const errors = (r: ReturnType<typeof loadConfig>) => r.errors.map((e) => e.message).join('\n');
  assert.match(errors(write('', 'resolvers mydnss')), /unable to find required resolvers 'mydnss' \(did you mean "mydns"\?\)/);
  assert.match(errors(write('', 'resolvers mydns init-addr libc,dns')), /unknown init-addr method 'dns'/);
  assert.match(errors(write('', 'resolvers mydns resolve-opts allow-dup-ips')), /unknown option 'allow-dup-ips'/);
  assert.match(errors(write('    options: ["server-template t 3 _http._tcp.svc.local"]')), /is an SRV label: it needs resolvers/);
  assert.match(errors(write('    options: ["server-template t 4-2 app.test.local:80"]')), /"4-2" is not a number of servers/);
  assert.match(errors(write('    options: ["server-template t 2 app.test.local"]')), /needs a port/);

  // What needs the first address: a name libc cannot resolve and no other init-addr method.
  // The lookup goes to a resolv.conf naming 127.0.0.1 (nothing answers), never off the machine.
  const unshare = spawnSync('unshare', ['-m', 'true']).status === 0;
  if (unshare) {
    write('', 'resolvers mydns init-addr libc');
    const resolvConf = path.join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "$1" /etc/resolv.conf && exec "$2" "$3" -c -f "$4"`, 'sh', resolvConf, process.execPath, CLI, file], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /\[ALERT\] .*backends\[0\]\.servers\[0\]: could not resolve address 'app\.test\.local'\./);
    assert.match(r.stderr, /Failed to initialize server\(s\) addr\./);
  }
  write('', 'resolvers mydns init-addr last');
  const last = await runCli(['-c', '-f', file]);
  assert.equal(last.code, 1, last.stderr);
  assert.match(last.stderr, /no method found to resolve address 'app\.test\.local'\./);
  write('', 'resolvers mydns init-addr last,10.0.0.9');
  const ip = await runCli(['-c', '-f', file]);
  assert.equal(ip.code, 0, ip.stderr);
  assert.match(ip.stdout, /Configuration file is valid/);
});
