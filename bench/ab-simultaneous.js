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
 * …"): its nginx origin config and certificate are reused. A and B get the config bench/run.js
 * generates (bench/lib/configs.js), each on its own ports, with the feature set both builds
 * accept. --only takes any wrk or h2load workload of bench/run.js (l7-small-c50, l7-rules,
 * h2-small…), loaded as bench/run.js loads it. Run the A/B a second time with --a and --b swapped.
 */
const fs = require('node:fs');
const path = require('node:path');
const procs = require('./lib/procs');
const load = require('./lib/load');
const { WORKLOADS, urlFor } = require('./lib/workloads');
const tslbFeatures = require('./lib/tslb-features');
const { median } = require('./lib/report');

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
const workloads = opts.only.map((name) => {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w || w.phase || (w.tool !== 'wrk' && w.tool !== 'h2load')) throw new Error(`${name}: not a wrk or h2load workload of bench/run.js`);
  return w;
});

const started = [];

/** One run of `w` against the proxy on `ports`, from the load CPU; resolves with the requests completed. */
async function loadOnce(w, ports) {
  const url = urlFor(ports, w);
  const res = w.tool === 'wrk'
    ? await load.wrk({ cpus: opts.loadCpu, url, conns: w.conns, seconds: opts.duration, headers: w.headers })
    : await load.h2load({ cpus: opts.loadCpu, url, conns: w.conns, streams: w.streams, seconds: opts.duration });
  if (res.error) throw new Error(`${w.name} on ${url}: ${res.error}`);
  if (res.errors > res.count / 100) console.log(`WARNING ${w.name} on ${url}: ${res.errors} errors for ${res.count} completed`);
  return res.count;
}

async function specFor(origins) {
  const [http, rules, ratelimit, tls, ws, tcp, cache, comp] = await procs.freePorts(8);
  const pem = path.join(opts.runDir, 'cert+key.pem');
  // No WebSocket workload runs here: the WebSocket backend points at an origin, never used.
  return { workers: 1, maxconn: 10000, ports: { http, rules, ratelimit, tls, ws, tcp, cache, comp }, origins, wsOrigin: origins[0], pem, runDir: opts.runDir };
}

(async () => {
  const nginxConf = path.join(opts.runDir, 'nginx-origin.conf');
  const origins = [...fs.readFileSync(nginxConf, 'utf8').matchAll(/listen 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  const A = { cli: opts.a, node: opts.node, spec: await specFor(origins), file: path.join(opts.runDir, 'ab-A.yaml') };
  const B = { cli: opts.b, node: opts.node, spec: await specFor(origins), file: path.join(opts.runDir, 'ab-B.yaml') };
  const { features, rejected } = tslbFeatures.writeAcceptedConfig([A, B]);
  if (!features) throw new Error(`no generated config is accepted by both builds: ${rejected.join(' ;; ')}`);
  for (const w of workloads) if (w.needs && !features.includes(w.needs)) throw new Error(`${w.name} needs ${w.needs}, which one build rejects: ${rejected.join(' ;; ')}`);

  started.push(procs.startPinned('nginx', opts.loadCpu, 'nginx', ['-c', nginxConf, '-p', opts.runDir]));
  for (const [name, t] of [['A', A], ['B', B]]) {
    t.proc = procs.startPinned(name, opts.proxyCpu, t.node, [t.cli, '-f', t.file], { logFile: path.join(opts.runDir, `ab-${name}.log`) });
    started.push(t.proc);
  }
  await procs.waitPorts(origins, null, 30000);
  for (const t of [A, B]) await procs.waitPorts(tslbFeatures.listeningPorts(t.spec.ports, features), t.proc, 60000);
  await procs.sleep(500);
  console.log(`A ${opts.a}\nB ${opts.b}\nNode ${opts.node}, ${opts.rounds} rounds × ${opts.duration} s, proxies on CPU ${opts.proxyCpu}, load on CPU ${opts.loadCpu}`);
  for (const w of workloads) await Promise.all([loadOnce(w, A.spec.ports), loadOnce(w, B.spec.ports)]); // warm-up
  for (const w of workloads) {
    const ratios = [];
    const perA = [];
    const perB = [];
    for (let r = 0; r < opts.rounds; r++) {
      const a0 = procs.treeCpuSnapshot(A.proc.pid);
      const b0 = procs.treeCpuSnapshot(B.proc.pid);
      const [na, nb] = await Promise.all([loadOnce(w, A.spec.ports), loadOnce(w, B.spec.ports)]);
      const ea = (procs.cpuDeltaMs(a0, procs.treeCpuSnapshot(A.proc.pid)) / na) * 1000;
      const eb = (procs.cpuDeltaMs(b0, procs.treeCpuSnapshot(B.proc.pid)) / nb) * 1000;
      perA.push(ea);
      perB.push(eb);
      ratios.push(ea / eb);
    }
    console.log(
      `${w.name}: CPU per request A ÷ B median ${median(ratios).toFixed(3)} (rounds ${ratios.map((x) => x.toFixed(2)).join(' ')}); ` +
        `CPU ms per 1k requests, medians: A ${median(perA).toFixed(1)}, B ${median(perB).toFixed(1)}`,
    );
  }
})()
  .catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const p of started.reverse()) await procs.stopProc(p);
  });
