/**
 * A keepalived pair end to end: two tslb nodes, each in a network namespace of its own with a
 * local backend that answers with the node's name, run Debian's keepalived from the file
 * `tslb keepalived` wrote; a client in a third namespace polls the virtual IP every 50 ms.
 * A planned switch-over (the master's keepalived stopped, then started again: an upgrade), then
 * a crash (the master's tslb killed, its whole process tree, by PID): each time the virtual IP
 * moves and the client gets answers again. The gaps are measured and printed (README,
 * Operations: keepalived pair). Every address is inside namespaces this test creates
 * and deletes, joined by a bridge in a namespace of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const ID = process.pid;
const SWITCH = `tslb-sw-${ID}`;
const NODES = [
  { name: 'node1', ns: `tslb-n1-${ID}`, address: '10.0.0.10', state: 'MASTER', priority: '100' },
  { name: 'node2', ns: `tslb-n2-${ID}`, address: '10.0.0.11', state: 'BACKUP', priority: '90' },
];
const CLIENT = { ns: `tslb-cl-${ID}`, address: '10.0.0.50' };
const VIP = '10.0.0.100';
const BACKEND_PORT = 9000;
/** The client's polling: one request every 50 ms, each given up after 500 ms, for at most 60 s. */
const POLL_MS = 50;
const POLL_TIMEOUT_MS = 500;
const POLL_FOR_MS = 60_000;
/** Generous on a loaded 2-core machine: measured here 1.0–1.8 s for a crash, under 1 s for a planned switch-over. */
const FAILOVER_BOUND_MS = 10_000;

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, keepalived)';
  if (spawnSync('keepalived', ['--version']).status !== 0) return 'keepalived not installed (Debian package keepalived)';
  const probe = `tslb-probe-${ID}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return '`ip netns add` is not available here';
  spawnSync('ip', ['netns', 'del', probe]);
  return false;
}
const skip = skipReason();

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error}`);
}

/** The IPv4 addresses on a namespace's eth0. */
function addresses(ns: string): string {
  return spawnSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout;
}
const holdsVip = (ns: string) => addresses(ns).includes(` ${VIP}/`);
const inNs = (ns: string) => ['ip', 'netns', 'exec', ns];

/** A child process whose output is kept, with a wait for output that matches a pattern or a predicate. */
interface Watched {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp | ((output: string) => boolean), timeoutMs: number): Promise<void>;
}

function watch(command: string[]): Watched {
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    text += d;
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child,
    output: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const matches = typeof pattern === 'function' ? pattern : (output: string) => pattern.test(output);
        const check = () => {
          if (!matches(text)) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${pattern} not seen within ${timeoutMs} ms from ${command.join(' ')}:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** The client: polls the virtual IP on its own clock and prints one JSON line per answer or failure. */
const CLIENT_SCRIPT = `
const http = require('node:http');
const [url, every, timeout, forMs] = [process.argv[2], ...process.argv.slice(3).map(Number)];
const end = Date.now() + forMs;
const tick = setInterval(() => {
  if (Date.now() > end) return clearInterval(tick);
  const sent = Date.now();
  const report = (fields) => process.stdout.write(JSON.stringify({ sent, done: Date.now(), ...fields }) + '\\n');
  const req = http.get(url, { agent: false, timeout }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => report(res.statusCode === 200 ? { body } : { error: 'status ' + res.statusCode }));
    res.on('error', (e) => report({ error: e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => report({ error: e.message }));
}, every);
`;

interface Poll {
  sent: number;
  done: number;
  body?: string;
  error?: string;
}
const parsePolls = (output: string): Poll[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Poll);
const polls = () => parsePolls(client.output());
/** Whether the client's output holds at least `count` answers from `node`. */
const answersFrom = (node: string, count: number) => (output: string) => parsePolls(output).filter((p) => p.body === node).length >= count;

let dir: string;
const started: ChildProcess[] = [];
const balancers: TslbProcess[] = [];
/** Each node's keepalived (the latest one started) and its file. */
const keepaliveds: Watched[] = [];
const confs: string[] = [];
let client: Watched;

/** keepalived in the foreground (-n), VRRP only (-P), logging to the console (-l), with pid files of its own. */
async function startKeepalived(i: number, conf: string): Promise<void> {
  const node = NODES[i];
  const pid = (p: string) => path.join(dir, `${node.name}-${p}.pid`);
  const keepalived = watch([...inNs(node.ns), 'keepalived', '-P', '-n', '-l', '-D', '-f', conf, '-p', pid('main'), '-r', pid('vrrp'), '-c', pid('checkers')]);
  started.push(keepalived.child);
  keepaliveds[i] = keepalived;
  confs[i] = conf;
  await keepalived.waitFor(new RegExp(`Entering ${node.state} STATE`), 15_000);
}

const keepalivedLogs = () => keepaliveds.map((k, i) => `--- ${NODES[i].name} keepalived:\n${k.output()}`).join('\n');

/**
 * Waits for the first answer from `node` to a poll sent after `since`, checks the 10 polls sent after it
 * were answered by `node` too, and returns the switch as the client saw it.
 */
async function switchTo(node: string, since: number): Promise<{ sinceEvent: number; gap: number; failed: number }> {
  const fromNode = (p: Poll) => p.body === node && p.sent >= since;
  await client.waitFor((output) => parsePolls(output).some(fromNode), FAILOVER_BOUND_MS).catch((err: Error) => {
    throw new Error(`${err.message}\n${keepalivedLogs()}`);
  });
  // The client's output is in completion order.
  const first = polls().find(fromNode)!;
  await client.waitFor((output) => parsePolls(output).filter((p) => p.sent > first.sent).length >= 10, 5_000);
  const next = polls()
    .filter((p) => p.sent > first.sent)
    .slice(0, 10);
  assert.ok(
    next.every((p) => p.body === node),
    `answers after the switch to ${node}: ${JSON.stringify(next)}`,
  );
  const lastBefore = polls()
    .filter((p) => p.body !== undefined && p.done < first.done)
    .at(-1)!;
  const failed = polls().filter((p) => p.error && p.sent >= lastBefore.sent && p.sent < first.sent).length;
  return { sinceEvent: first.done - since, gap: first.done - lastBefore.done, failed };
}

after(async () => {
  if (skip) return;
  for (const lb of balancers) await lb.stop().catch(() => undefined);
  // SIGTERM first: keepalived then stops its VRRP child itself.
  const running = started.filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => (child.kill('SIGKILL'), resolve()), 3_000);
          child.once('exit', () => (clearTimeout(timer), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
  // What is left in the namespaces (workers of the killed tslb, a check keepalived ran) is ours: stop it by PID.
  for (const ns of [...NODES.map((n) => n.ns), CLIENT.ns, SWITCH]) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

before(async () => {
  if (skip) return;
  dir = tempDir('tslb-failover-');
  // The switch: a namespace holding a bridge; each other namespace has an eth0 whose peer is a bridge port.
  ip('netns', 'add', SWITCH);
  ip('-n', SWITCH, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', SWITCH, 'link', 'set', 'br0', 'up');
  for (const [i, host] of [...NODES, CLIENT].entries()) {
    ip('netns', 'add', host.ns);
    ip('-n', host.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', SWITCH);
    ip('-n', SWITCH, 'link', 'set', `port${i}`, 'master', 'br0', 'up');
    ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
    ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
    ip('-n', host.ns, 'link', 'set', 'lo', 'up');
  }
  // One lb.yaml for both nodes, as in production: the backup's state and priority are given on the command line.
  const yaml = `proxy:
  performance: { nbproc: 1 }
  https_in_binds: [{ ip: 0.0.0.0, port: 80 }]
  https_options: ["monitor-uri /healthz"]
  backends:
    - { name: app, mode: http, server_name: local, server_host_ip: 127.0.0.1, server_port: ${BACKEND_PORT} }
  ha_config:
    keepalived: { enabled: true, virtual_ip: "${VIP}/24", interface: eth0, priority: 100, advert_int: 1, auth_pass: "tslbpair" }
`;
  // Both nodes' backend, tslb and keepalived.conf at once (starting Node processes is the slow part on a loaded machine).
  const written = await Promise.all(
    NODES.map(async (node, i) => {
      const backend = watch([
        ...inNs(node.ns),
        process.execPath,
        '-e',
        `require('node:http').createServer((q, s) => s.end('${node.name}')).listen(${BACKEND_PORT}, '127.0.0.1', () => console.log('listening'))`,
      ]);
      started.push(backend.child);
      await backend.waitFor(/listening/, 15_000);
      const lb = await startTslb(yaml, { prefix: inNs(node.ns), timeoutMs: 30_000 });
      balancers[i] = lb;
      const conf = path.join(dir, `${node.name}.conf`);
      const r = await runCli(['keepalived', '-f', lb.configPath, '--pidfile', lb.pidfile, '--state', node.state, '--priority', node.priority, '-o', conf]);
      assert.equal(r.code, 0, r.stderr);
      return conf;
    }),
  );
  // The backup's keepalived once the master holds the address, so the backup never holds it first.
  for (const i of NODES.keys()) await startKeepalived(i, written[i]);
  writeFileSync(path.join(dir, 'client.js'), CLIENT_SCRIPT);
  client = watch([...inNs(CLIENT.ns), process.execPath, path.join(dir, 'client.js'), `http://${VIP}/`, `${POLL_MS}`, `${POLL_TIMEOUT_MS}`, `${POLL_FOR_MS}`]);
  started.push(client.child);
});

test("a planned switch-over: the master's keepalived stopped, the backup takes the virtual IP; started again, the master takes it back", { skip }, async (t) => {
  // Before: node1 holds the address and answers; the backup does not hold it too.
  await client.waitFor(answersFrom('node1', 2), 10_000);
  assert.ok(holdsVip(NODES[0].ns), `node1 holds ${VIP}: ${addresses(NODES[0].ns)}`);
  assert.ok(!holdsVip(NODES[1].ns), `node2 does not hold ${VIP} while node1 is master: ${addresses(NODES[1].ns)}`);
  assert.ok(!polls().some((p) => p.body === 'node2'), 'no answer from node2 while node1 is master');

  // keepalived's SIGTERM (systemctl stop keepalived): it gives the address up and advertises priority 0.
  const stoppedAt = Date.now();
  keepaliveds[0].child.kill('SIGTERM');
  const away = await switchTo('node2', stoppedAt);
  assert.ok(holdsVip(NODES[1].ns), `node2 holds ${VIP}: ${addresses(NODES[1].ns)}`);
  t.diagnostic(`switch-over to node2: first answer ${away.sinceEvent} ms after keepalived was stopped; client gap ${away.gap} ms (${away.failed} polls failed)`);

  // Started again, node1's higher priority takes the address back (preemption).
  const restartedAt = Date.now();
  await startKeepalived(0, confs[0]);
  const back = await switchTo('node1', restartedAt);
  assert.ok(holdsVip(NODES[0].ns) && !holdsVip(NODES[1].ns), `node1 holds ${VIP} again, node2 not: ${addresses(NODES[0].ns)} / ${addresses(NODES[1].ns)}`);
  t.diagnostic(`back to node1: first answer ${back.sinceEvent} ms after keepalived was started; client gap ${back.gap} ms (${back.failed} polls failed)`);
});

test("the master's tslb dies: the virtual IP moves to the backup and the client gets answers again", { skip }, async (t) => {
  assert.ok(holdsVip(NODES[0].ns), `node1 holds ${VIP}: ${addresses(NODES[0].ns)}`);
  // A crash: the primary and its workers, by PID, at once.
  const master = balancers[0];
  const workers = readFileSync(`/proc/${master.pid}/task/${master.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  assert.ok(workers.length >= 1, 'the master tslb has its worker');
  const killedAt = Date.now();
  for (const pid of [master.pid, ...workers]) process.kill(pid, 'SIGKILL');

  const failover = await switchTo('node2', killedAt);
  assert.ok(holdsVip(NODES[1].ns), `node2 holds ${VIP}: ${addresses(NODES[1].ns)}\n${keepalivedLogs()}`);
  assert.ok(!holdsVip(NODES[0].ns), `node1 gave ${VIP} up: ${addresses(NODES[0].ns)}`);
  assert.match(keepaliveds[0].output(), /Entering FAULT STATE/, 'node1 went to FAULT: the check has no weight');
  t.diagnostic(`failover: first answer from node2 ${failover.sinceEvent} ms after the kill; client gap ${failover.gap} ms (${failover.failed} polls failed, one every ${POLL_MS} ms)`);
});
