// Runtime API and counter aggregation, in process: a real L4 data path (startL4Proxy)
// counts, startCounterReports sends deltas to an Observability fed through
// onWorkerMessage, and `socat` talks HAProxy's text protocol to its unix socket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Model } from '../src/config/model';
import { Observability } from '../src/primary/observability';
import type { ServerHealthView } from '../src/primary/stats';
import { STAT_COLUMNS } from '../src/primary/stats-rows';
import { startCounterReports } from '../src/worker/report';
import { startEchoBackend } from './helpers/backends';
import { server, startL4Proxy, tcpModel, type L4Proxy } from './helpers/l4-model';
import { tempDir } from './helpers/tslb';
import pino from 'pino';
import { socat, tcpCommand } from './helpers/runtime-api';

const HEADER = '# ' + STAT_COLUMNS.map((c) => c + ',').join('');

/** Server states as a health monitor would keep them; the fake applies admin/weight changes to the data path too. */
class FakeHealth {
  readonly states = new Map<string, ServerHealthView>();
  constructor(
    model: Model,
    private readonly proxy: () => L4Proxy,
  ) {
    for (const b of model.backends) for (const s of b.servers) this.states.set(`${b.name}/${s.name}`, { backend: b.name, server: s.name, up: true, admin: 'ready', weight: s.weight });
  }
  list = () => [...this.states.values()];
  private change(b: string, s: string, f: (h: ServerHealthView) => void): string {
    const h = this.states.get(`${b}/${s}`);
    if (!h) return 'No such server.';
    f(h);
    this.proxy().runtime.applyStates([{ backend: b, server: s, up: h.up, admin: h.admin, weight: h.weight, maxconn: h.maxconn }]);
    return 'ok';
  }
  setAdmin = (b: string, s: string, a: 'ready' | 'drain' | 'maint') => this.change(b, s, (h) => (h.admin = a));
  setWeight = (b: string, s: string, w: number) => this.change(b, s, (h) => (h.weight = w));
  setMaxconn = (b: string, s: string, n: number) => this.change(b, s, (h) => (h.maxconn = n));
  /** Records the address only: moving a worker's connections is the primary's and workers' job. */
  setAddress = (b: string, s: string, address: string, port: number) =>
    this.change(b, s, (h) => {
      h.address = address;
      h.port = port;
    });
}

async function roundTrip(port: number, payload: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(payload));
    let got = '';
    c.on('data', (d) => {
      got += d;
      if (got.length >= payload.length) c.end();
    });
    c.on('close', () => resolve());
    c.on('error', reject);
  });
}

describe('runtime API', () => {
  let echo1: Awaited<ReturnType<typeof startEchoBackend>>;
  let echo2: Awaited<ReturnType<typeof startEchoBackend>>;
  let proxy: L4Proxy;
  let obs: Observability;
  let stopReports: () => void;
  let sock: string;
  let model: Model;
  let reload = 0;

  before(async () => {
    echo1 = await startEchoBackend();
    echo2 = await startEchoBackend();
    model = tcpModel([server('s1', echo1.port), server('s2', echo2.port, { check: { enabled: true, inter: 2000, fastinter: 2000, downinter: 2000, rise: 2, fall: 3, ssl: false } })]);
    sock = path.join(tempDir('tslb-obs-'), 'stats.sock');
    model.runtimeApi = { socketPath: sock, mode: 0o660, level: 'admin', tcp: { address: '127.0.0.1', port: 0 } };
    model.global.maxconn = 1900;
    proxy = await startL4Proxy(model);
    const health = new FakeHealth(model, () => proxy);
    obs = new Observability(model, {
      log: pino({ level: 'silent' }),
      supervisor: { generation: 1, workerPids: () => [process.pid], reload: async () => (reload++, true) },
      health: health.list,
      setAdmin: health.setAdmin,
      setWeight: health.setWeight,
      setMaxconn: health.setMaxconn,
      setAddress: health.setAddress,
    });
    await obs.start();
    stopReports = startCounterReports(proxy.runtime, 1, (msg) => obs.onWorkerMessage(process.pid, msg), 50);
  });

  after(async () => {
    stopReports();
    await obs.close();
    await proxy.close();
    await echo1.close();
    await echo2.close();
  });

  it('binds the unix socket with the configured mode', () => {
    assert.equal(statSync(sock).mode & 0o777, 0o660);
  });

  it('show info has HAProxy key names in order', async () => {
    const out = await socat(sock, 'show info\n');
    const keys = out.trim().split('\n').map((l) => l.split(':')[0]);
    assert.deepEqual(keys.slice(0, 9), ['Name', 'Version', 'Release_date', 'Nbthread', 'Nbproc', 'Process_num', 'Pid', 'Uptime', 'Uptime_sec']);
    assert.match(out, /\nMaxconn: 1900\n/);
    assert.match(out, /\nProcess_num: 1\n/);
    for (const k of ['CurrConns', 'CumConns', 'CumReq', 'ConnRate', 'SessRate', 'Tasks', 'Idle_pct', 'node', 'Stopping']) assert.match(out, new RegExp(`\\n${k}: `));
    assert.ok(out.endsWith('\n\n'));
  });

  it('show stat prints the exact CSV header and one row per object, counting traffic', async () => {
    for (let i = 0; i < 4; i++) await roundTrip(proxy.port, 'hello\n');
    await new Promise((r) => setTimeout(r, 150));
    const out = await socat(sock, 'show stat\n');
    const lines = out.split('\n');
    assert.equal(lines[0], HEADER);
    assert.equal(lines[1].split(',').length, STAT_COLUMNS.length + 1, 'each field followed by a comma');
    assert.match(lines[1], /^fe_tcp,FRONTEND,,,0,\d+,1900,4,24,24,0,0,0,,,,,OPEN,/);
    assert.match(lines[2], /^be_tcp,s1,0,0,0,\d+,,2,12,12,,0,,0,0,0,0,no check,1,1,0,/);
    assert.match(lines[3], /^be_tcp,s2,0,0,0,\d+,,2,12,12,,0,,0,0,0,0,UP,1,1,0,0,0,/);
    assert.match(lines[4], /^be_tcp,BACKEND,0,0,0,\d+,1900,4,24,24,0,0,,0,0,0,0,UP,2,2,0,/);
    assert.equal(lines[5], '');
    assert.equal(lines[6], '');
    const cols = lines[2].split(',');
    assert.equal(cols[STAT_COLUMNS.indexOf('type')], '2');
    assert.equal(cols[STAT_COLUMNS.indexOf('sid')], '1');
    assert.equal(cols[STAT_COLUMNS.indexOf('lbtot')], '2');
    assert.equal(cols[STAT_COLUMNS.indexOf('addr')], `127.0.0.1:${echo1.port}`);
  });

  it('show stat filters by proxy, type mask and server id; typed and json', async () => {
    const be = (await socat(sock, 'show stat be_tcp 4 -1\n')).trim().split('\n');
    assert.deepEqual(be.slice(1).map((l) => l.split(',')[1]), ['s1', 's2']);
    const one = (await socat(sock, 'show stat 2 4 2\n')).trim().split('\n');
    assert.deepEqual(one.slice(1).map((l) => l.split(',')[1]), ['s2']);
    assert.match(await socat(sock, 'show stat typed\n'), /^F\.\d+\.0\.0\.pxname\.1:KNSV:str:fe_tcp$/m);
    const json = JSON.parse(await socat(sock, 'show stat json\n')) as { field: { name: string }; value: { value: unknown } }[][];
    assert.equal(json.length, 4);
    assert.equal(json[1].find((f) => f.field.name === 'svname')?.value.value, 's1');
  });

  it('several ;-separated commands in one line, each reply ending with an empty line', async () => {
    const out = await socat(sock, 'show backend; get weight be_tcp/s1\n');
    assert.equal(out, '# name\nbe_tcp\n\n1 (initial 1)\n\n');
  });

  it('disable server stops traffic to it and enable server restores it', async () => {
    assert.equal(await socat(sock, 'disable server be_tcp/s1\n'), '\n');
    assert.match(await socat(sock, 'show stat\n'), /\nbe_tcp,s1,(?:[^,]*,){15}MAINT,/);
    assert.match(await socat(sock, 'show servers state be_tcp\n'), /\n2 be_tcp 1 s1 127\.0\.0\.1 2 1 1 1 /);
    const before1 = echo1.connections;
    const before2 = echo2.connections;
    for (let i = 0; i < 4; i++) await roundTrip(proxy.port, 'x');
    assert.equal(echo1.connections, before1);
    assert.equal(echo2.connections, before2 + 4);
    assert.equal(await socat(sock, 'enable server be_tcp/s1\n'), '\n');
    for (let i = 0; i < 4; i++) await roundTrip(proxy.port, 'x');
    assert.equal(echo1.connections, before1 + 2);
  });

  it('set server state/weight, get weight and HAProxy error texts', async () => {
    assert.equal(await socat(sock, 'set server be_tcp/s2 state drain\n'), '\n');
    assert.match(await socat(sock, 'show stat\n'), /\nbe_tcp,s2,(?:[^,]*,){15}DRAIN,/);
    assert.equal(await socat(sock, 'set server be_tcp/s2 state ready\n'), '\n');
    assert.equal(await socat(sock, 'set server be_tcp/s2 state bogus\n'), "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n");
    assert.equal(await socat(sock, 'set server be_tcp/s2 weight 3\n'), '\n');
    assert.equal(await socat(sock, 'get weight be_tcp/s2\n'), '3 (initial 1)\n\n');
    assert.equal(await socat(sock, 'set weight be_tcp/s2 300\n'), 'Absolute weight can only be between 0 and 256 inclusive.\n\n');
    assert.equal(await socat(sock, 'set weight be_tcp/s2 100%\n'), '\n');
    assert.equal(await socat(sock, 'get weight be_tcp/s2\n'), '1 (initial 1)\n\n');
    assert.equal(await socat(sock, 'disable server nope/s1\n'), 'No such backend.\n\n');
    assert.equal(await socat(sock, 'disable server be_tcp/nope\n'), 'No such server.\n\n');
    assert.equal(await socat(sock, 'disable server be_tcp\n'), "Require 'backend/server'.\n\n");
    assert.match(await socat(sock, 'frobnicate\n'), /^Unknown command: 'frobnicate'\n/);
    assert.equal(await socat(sock, 'get weight #2/#1\n'), '1 (initial 1)\n\n');
  });

  it('set server weight changes the split', async () => {
    await socat(sock, 'set server be_tcp/s1 weight 3\n');
    const b1 = echo1.connections;
    const b2 = echo2.connections;
    for (let i = 0; i < 8; i++) await roundTrip(proxy.port, 'x');
    assert.equal(echo1.connections - b1, 6);
    assert.equal(echo2.connections - b2, 2);
    await socat(sock, 'set server be_tcp/s1 weight 1\n');
  });

  it('clear counters: server and all', async () => {
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await socat(sock, 'clear counters server be_tcp/s1\n'), 'Server counters cleared.\n\n');
    assert.equal(await socat(sock, 'clear counters server be_tcp/zz\n'), 'No such server\n\n');
    assert.match(await socat(sock, 'show stat\n'), /\nbe_tcp,s1,0,0,0,0,,0,0,0,/);
    assert.equal(await socat(sock, 'clear counters all\n'), '\n');
    assert.match(await socat(sock, 'show stat\n'), /\nfe_tcp,FRONTEND,,,0,0,1900,0,0,0,/);
  });

  it('prompt keeps the connection open over TCP; reload calls the supervisor', async () => {
    const out = await tcpCommand(obs.runtimeApiPort()!, 'prompt\nget weight be_tcp/s1\nreload\nquit\n');
    assert.equal(out, '> 1 (initial 1)\n\n> Success=1\n--\n\n> ');
    assert.equal(reload, 1);
  });

  it('set maxconn server reaches the data path and show stat; HAProxy error texts', async () => {
    assert.equal(await socat(sock, 'set maxconn server be_tcp/s1 5\n'), '\n');
    assert.equal(proxy.runtime.backends.get('be_tcp')!.byName.get('s1')!.maxconn, 5);
    const row = (await socat(sock, 'show stat be_tcp 4 1\n')).trim().split('\n')[1].split(',');
    assert.equal(row[STAT_COLUMNS.indexOf('slim')], '5');
    assert.equal(await socat(sock, 'set maxconn server be_tcp/s1\n'), 'Require <maxconn>.\n\n');
    assert.equal(await socat(sock, 'set maxconn server be_tcp/s1 7x\n'), 'Trailing garbage in maxconn string\n\n');
    assert.equal(await socat(sock, 'set maxconn server be_tcp/nope 7\n'), 'No such server.\n\n');
    assert.equal(await socat(sock, 'set maxconn server be_tcp/s1 0\n'), '\n');
    assert.equal(proxy.runtime.backends.get('be_tcp')!.byName.get('s1')!.maxconn, 0);
  });

  it("set server addr answers as HAProxy and shows in show stat / show servers state", async () => {
    assert.equal(await socat(sock, 'set server be_tcp/s2 addr 127.0.0.2\n'), "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'\n\n");
    assert.equal(await socat(sock, 'set server be_tcp/s2 addr 127.0.0.2 port 8081\n'), `no need to change the addr, port changed from '${echo2.port}' to '8081' by 'stats socket command'\n\n`);
    assert.equal(await socat(sock, 'set server be_tcp/s2 addr 127.0.0.1 port 8081\n'), "IP changed from '127.0.0.2' to '127.0.0.1', no need to change the port by 'stats socket command'\n\n");
    const row = (await socat(sock, 'show stat be_tcp 4 2\n')).trim().split('\n')[1].split(',');
    assert.equal(row[STAT_COLUMNS.indexOf('addr')], '127.0.0.1:8081');
    assert.match(await socat(sock, 'show servers state be_tcp\n'), /^\d+ be_tcp 2 s2 127\.0\.0\.1 (?:\S+ ){13}8081 /m);
    assert.equal(await socat(sock, 'set server be_tcp/s2 addr\n'), 'set server <b>/<s> addr requires an address and optionally a port.\n\n');
    assert.equal(await socat(sock, 'set server be_tcp/s2 addr nope\n'), "Invalid addr 'nope'\n\n");
    await socat(sock, `set server be_tcp/s2 addr 127.0.0.1 port ${echo2.port}\n`);
  });

  it('help lists the commands', async () => {
    const out = await socat(sock, 'help\n');
    assert.match(out, /show stat/);
    assert.match(out, /set server/);
    assert.match(out, /set maxconn server/);
  });
});
