'use strict';
/**
 * Simultaneous A/B of two tslb builds: both run at once, one worker each, pinned to the same
 * CPU, each loaded by its own client on the load CPU for the same seconds; CPU ms per 1,000
 * requests of each process tree over the same interval, A ÷ B per round, then the median.
 * Whatever else loads the machine weighs on both alike, which interleaved rounds
 * (bench/run.js --tslb-base) cannot promise on a shared box.
 *
 *   node bench/ab-simultaneous.js --run-dir=/tmp/tslb-bench-XXXX --a=dist/src/cli/main.js --b=<base>/dist/src/cli/main.js
 *     [--node=FILE] [--rounds=8] [--duration=3] [--only=h2-small,h2-64k,l7-small-c50] [--proxy-cpu=1] [--load-cpu=0]
 *
 * --run-dir is a directory bench/run.js left behind (it prints "logs and generated configs:
 * …"): its nginx origin config, its tslb config (tslb-w1.yaml) and certificate are reused; B
 * gets the same config on other ports. Run the A/B a second time with --a and --b swapped.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const opts = { node: process.execPath, rounds: 8, duration: 3, only: ['h2-small', 'h2-64k', 'l7-small-c50'], proxyCpu: '1', loadCpu: '0' };
for (const arg of process.argv.slice(2)) {
  const [k, v] = arg.replace(/^--/, '').split('=');
  if (k === 'run-dir') opts.runDir = v;
  else if (k === 'a' || k === 'b' || k === 'node') opts[k] = path.resolve(v);
  else if (k === 'rounds' || k === 'duration') opts[k] = Number(v);
  else if (k === 'only') opts.only = v.split(',');
  else if (k === 'proxy-cpu') opts.proxyCpu = v;
  else if (k === 'load-cpu') opts.loadCpu = v;
  else throw new Error(`unknown option ${arg}`);
}
if (!opts.runDir || !opts.a || !opts.b) throw new Error('--run-dir, --a and --b are required');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const started = [];

function start(cpu, cmd, args) {
  const p = spawn('taskset', ['-c', cpu, cmd, ...args], { stdio: 'ignore', detached: true });
  started.push(p);
  return p;
}

/** The process and its descendants. */
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const t of fs.readdirSync(`/proc/${out[i]}/task`)) {
      try {
        out.push(...fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
      } catch {}
    }
  }
  return [...new Set(out)];
}

/** utime + stime of the processes, in ms. */
function cpuMs(pids) {
  let ticks = 0;
  for (const p of pids) {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return (ticks * 1000) / 100;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((r) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.destroy();
      r(true);
    });
    c.on('error', () => r(false));
  });
}

/** Runs a load tool on the load CPU; resolves with the requests it completed. */
function load(work, ports) {
  const args = work === 'l7-small-c50'
    ? ['wrk', '-t1', '-c50', `-d${opts.duration}s`, `http://127.0.0.1:${ports.http}/`]
    : ['h2load', '-t1', '-c20', '-m10', '-D', String(opts.duration), `https://127.0.0.1:${ports.tls}${work === 'h2-64k' ? '/64k.bin' : '/'}`];
  const count = work === 'l7-small-c50' ? /(\d+) requests in/ : /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/;
  return new Promise((resolve) => {
    const p = spawn('taskset', ['-c', opts.loadCpu, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => resolve(Number(count.exec(out)?.[1] ?? NaN)));
  });
}

(async () => {
  const yamlA = fs.readFileSync(path.join(opts.runDir, 'tslb-w1.yaml'), 'utf8');
  const bindPorts = [...yamlA.matchAll(/binds: \["127\.0\.0\.1:(\d+)"\]|binds: \[\{ address: 127\.0\.0\.1, port: (\d+)/g)].map((m) => Number(m[1] ?? m[2]));
  const httpA = Number(/name: fe_http[\s\S]*?binds: \["127\.0\.0\.1:(\d+)"\]/.exec(yamlA)[1]);
  const tlsA = Number(/name: fe_tls[\s\S]*?port: (\d+)/.exec(yamlA)[1]);
  const moved = new Map();
  for (const p of bindPorts) moved.set(p, await freePort());
  const yamlB = yamlA.replace(/(binds: \["127\.0\.0\.1:|port: )(\d+)/g, (all, pre, p) => (moved.has(Number(p)) ? pre + moved.get(Number(p)) : all));
  const fileA = path.join(opts.runDir, 'ab-A.yaml');
  const fileB = path.join(opts.runDir, 'ab-B.yaml');
  fs.writeFileSync(fileA, yamlA);
  fs.writeFileSync(fileB, yamlB);
  const ports = { A: { http: httpA, tls: tlsA }, B: { http: moved.get(httpA), tls: moved.get(tlsA) } };

  start(opts.loadCpu, 'nginx', ['-c', path.join(opts.runDir, 'nginx-origin.conf'), '-p', opts.runDir]);
  const a = start(opts.proxyCpu, opts.node, [opts.a, '-f', fileA]);
  const b = start(opts.proxyCpu, opts.node, [opts.b, '-f', fileB]);
  const deadline = Date.now() + 60000;
  for (const port of [ports.A.http, ports.A.tls, ports.B.http, ports.B.tls]) {
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
      await sleep(200);
    }
  }
  await sleep(500);
  const treeA = tree(a.pid);
  const treeB = tree(b.pid);
  console.log(`A ${opts.a}\nB ${opts.b}\nNode ${opts.node}, ${opts.rounds} rounds × ${opts.duration} s, proxies on CPU ${opts.proxyCpu}, load on CPU ${opts.loadCpu}`);
  for (const w of opts.only) await Promise.all([load(w, ports.A), load(w, ports.B)]); // warm-up
  for (const w of opts.only) {
    const ratios = [];
    const perA = [];
    const perB = [];
    for (let r = 0; r < opts.rounds; r++) {
      const a0 = cpuMs(treeA);
      const b0 = cpuMs(treeB);
      const [na, nb] = await Promise.all([load(w, ports.A), load(w, ports.B)]);
      const ea = ((cpuMs(treeA) - a0) / na) * 1000;
      const eb = ((cpuMs(treeB) - b0) / nb) * 1000;
      perA.push(ea);
      perB.push(eb);
      ratios.push(ea / eb);
    }
    console.log(
      `${w}: CPU per request A ÷ B median ${median(ratios).toFixed(3)} (rounds ${ratios.map((x) => x.toFixed(2)).join(' ')}); ` +
        `CPU ms per 1k requests, medians: A ${median(perA).toFixed(1)}, B ${median(perB).toFixed(1)}`,
    );
  }
})()
  .catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const p of started.reverse()) {
      try {
        process.kill(-p.pid, 'SIGTERM');
      } catch {}
    }
    await sleep(1000);
  });
