#!/usr/bin/env node
/**
 * What a fleet-wide counters flush (src/stick/redis.ts) costs the primary: N entries
 * with a rate and a counter incremented, then one flush to a redis-server this script
 * starts on a free loopback port (no persistence, killed by PID at the end). Prints,
 * per round, the primary's CPU from the flush to the fleet values applied, and the
 * wall time until then. Needs `npm run build` and Debian's redis-server.
 *
 *   node bench/redis-flush.js [--entries=10000] [--rounds=5]
 */
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { StickStore } = require('../dist/src/stick/store');
const { RedisCounters } = require('../dist/src/stick/redis');
const { DATA_INDEX } = require('../dist/src/stick/layout');

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const N = arg('entries', 10000);
const ROUNDS = arg('rounds', 5);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslb-redis-bench-'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  try {
    const def = {
      name: 'web', type: 'ip', keyLen: 32, size: N, expire: 30000,
      store: [{ type: 'http_req_cnt' }, { type: 'http_req_rate', period: 10000 }],
      // Flushed by hand below, not by the timer.
      redis: { url: `redis://127.0.0.1:${port}/0`, prefix: 'bench:', flushInterval: 60000, timeout: 5000 },
    };
    const store = new StickStore(def);
    let applied;
    const fleet = new RedisCounters({ info() {}, warn() {} }, (_s, entries) => applied(entries.length));
    fleet.useStores([store]);
    const sync = fleet.syncs.get(store);
    while (sync.link.state !== 'up') await new Promise((r) => setTimeout(r, 50));
    const cnt = store.layout.slot[DATA_INDEX.get('http_req_cnt')];
    const rate = store.layout.slot[DATA_INDEX.get('http_req_rate')];
    console.log(`${N} entries per flush, ${os.loadavg()[0].toFixed(1)} load average (other work on this machine counts in the wall time)`);
    for (let round = 0; round < ROUNDS; round++) {
      const now = Date.now();
      for (let i = 0; i < N; i++) {
        const e = store.obtain(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, now, true);
        const delta = new Array(store.layout.slots).fill(0);
        delta[cnt] = 1;
        delta[rate + 1] = 1;
        store.apply(e, delta, now);
        fleet.added(store, e, delta, now);
      }
      const done = new Promise((r) => (applied = r));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      sync.flush();
      const n = await done;
      const cpu = process.cpuUsage(cpu0);
      console.log(`round ${round + 1}: ${n} entries, primary CPU ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms, fleet values after ${(performance.now() - t0).toFixed(1)} ms`);
    }
    fleet.close();
  } finally {
    redis.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
