'use strict';
/**
 * Simultaneous A/B of two tslb builds on L7 keep-alive 96 B, c=50: both run at once, one
 * worker each pinned to the same proxy CPU, each loaded by its own `wrk -t1` on the load
 * CPU for the same seconds, over nginx origins; CPU per 1,000 requests of each process
 * tree over the same interval. Whatever else runs on the machine weighs on both alike,
 * which interleaved rounds (run.js --tslb-base) cannot promise on shared cores. Run it
 * twice with the builds' places swapped to cancel any advantage of a place.
 *
 * Usage: node bench/ab-simultaneous.js <cli A> <cli B> [rounds=10] [seconds=6] [node binary]
 * Prints B ÷ A CPU per request per round, then the median and mean.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const configs = require('./lib/configs');
const procs = require('./lib/procs');

const [cliA, cliB, rounds = '10', seconds = '6', node = process.execPath] = process.argv.slice(2);
if (!cliA || !cliB) {
  console.error('usage: node bench/ab-simultaneous.js <cli A> <cli B> [rounds] [seconds] [node]');
  process.exit(2);
}
const PROXY_CPU = '1';
const LOAD_CPU = '0';

function wrk(port) {
  return new Promise((resolve, reject) => {
    const c = spawn('taskset', ['-c', LOAD_CPU, 'wrk', '-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/`]);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', () => {
      const m = /(\d+) requests in/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`wrk: ${out}`));
    });
  });
}

/** The bench's fe_http and be_app only: what both builds accept. */
function tslbYaml(port, origins) {
  return [
    'global: { workers: 1 }',
    'frontends:',
    '  - name: fe_http',
    '    forwardfor: true',
    '    forwarded_proto: false',
    '    forwarded_host: false',
    '    log: { enabled: false }',
    '    mode: http',
    `    binds: ["127.0.0.1:${port}"]`,
    '    default_backend: be_app',
    'backends:',
    '  - name: be_app',
    '    mode: http',
    '    balance: roundrobin',
    '    servers:',
    ...origins.map((p, i) => `      - { name: s${i + 1}, address: 127.0.0.1, port: ${p} }`),
    '',
  ].join('\n');
}

async function main() {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslb-ab-'));
  fs.mkdirSync(path.join(runDir, 'www'));
  fs.mkdirSync(path.join(runDir, 'nginx-tmp'));
  const [o1, o2, portA, portB] = await procs.freePorts(4);
  const origins = [o1, o2];
  fs.writeFileSync(path.join(runDir, 'nginx.conf'), configs.nginxOriginConfig({ runDir, origins }));
  const started = [procs.startPinned('nginx-origin', LOAD_CPU, 'nginx', ['-c', path.join(runDir, 'nginx.conf'), '-p', runDir], { logFile: path.join(runDir, 'nginx.log') })];
  const targets = [
    [cliA, portA],
    [cliB, portB],
  ].map(([cli, port], i) => {
    const cfg = path.join(runDir, `${'ab'[i]}.yaml`);
    fs.writeFileSync(cfg, tslbYaml(port, origins));
    const proc = procs.startPinned(`tslb-${'ab'[i]}`, PROXY_CPU, node, [cli, '-f', cfg], { logFile: path.join(runDir, `${'ab'[i]}.log`) });
    started.push(proc);
    return { port, proc };
  });
  try {
    await procs.waitPorts([o1, o2], started[0]);
    for (const t of targets) await procs.waitPorts([t.port], t.proc, 30000);
    await Promise.all(targets.map((t) => wrk(t.port))); // warm-up
    const ratios = [];
    for (let i = 0; i < Number(rounds); i++) {
      const before = targets.map((t) => procs.treeCpuSnapshot(t.proc.pid));
      // Alternate which load starts first.
      const order = i % 2 ? [1, 0] : [0, 1];
      const done = await Promise.all(order.map((k) => wrk(targets[k].port)));
      const reqs = order[0] === 0 ? done : [done[1], done[0]];
      const cpu = targets.map((t, k) => procs.cpuDeltaMs(before[k], procs.treeCpuSnapshot(t.proc.pid)) / (reqs[k] / 1000));
      ratios.push(cpu[1] / cpu[0]);
      console.log(`round ${i + 1}: A ${reqs[0]} req ${cpu[0].toFixed(1)} CPU ms/1k · B ${reqs[1]} req ${cpu[1].toFixed(1)} CPU ms/1k · B/A ${(cpu[1] / cpu[0]).toFixed(3)}`);
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    const mean = ratios.reduce((s, x) => s + x, 0) / ratios.length;
    console.log(`B/A CPU per request: median ${sorted[sorted.length >> 1].toFixed(3)}, mean ${mean.toFixed(3)} (${ratios.length} rounds × ${seconds} s)`);
  } finally {
    for (const p of started) await procs.stopProc(p);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
