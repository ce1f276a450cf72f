'use strict';
/**
 * HTTP/2 frame layer: src/http2 on raw sockets vs node:http2, the same "hello" server
 * (bench/h2-hello-server.js: 200, 96-byte body, content-type/content-length/date), CPU
 * per request under h2load, in the same run, interleaved; HAProxy's own h2 mux answering
 * the same body with `http-request return` is the reference when it is installed.
 *
 *   npm run build && node bench/h2-layer.js [--rounds=3] [--n=200000] [--c=20] [--m=10]
 *       [--node=/path/to/other/node ...] [--tls] [--no-haproxy]
 *
 * Servers run on the last CPU, h2load on CPU 0 (as bench/run.js pins them). CPU ms per
 * 1,000 requests = Δ(utime+stime) of the server process / requests × 1000; ratios are
 * computed inside each round, then medianed.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { treeCpuSnapshot, cpuDeltaMs, startPinned, stopProc, waitPorts, freePorts, runPinned, sleep } = require('./lib/procs');

const opts = { rounds: 3, n: 200000, c: 20, m: 10, nodes: [process.execPath], tls: false, haproxy: true, warmup: 20000 };
for (const a of process.argv.slice(2)) {
  const [k, v] = a.replace(/^--/, '').split('=');
  if (k === 'rounds' || k === 'n' || k === 'c' || k === 'm' || k === 'warmup') opts[k] = Number(v);
  else if (k === 'node') opts.nodes.push(v);
  else if (k === 'tls') opts.tls = true;
  else if (k === 'no-haproxy') opts.haproxy = false;
  else {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}

const cpus = os.cpus().length;
const SERVER_CPU = String(cpus - 1);
const LOAD_CPU = '0';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h2-layer-'));
const SERVER = path.join(__dirname, 'h2-hello-server.js');

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function certFiles() {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'both.pem'), fs.readFileSync(cert) + fs.readFileSync(key));
  return { key, cert, both: path.join(dir, 'both.pem') };
}

function haproxyConfig(port, tls) {
  const bind = tls ? `bind 127.0.0.1:${port} ssl crt ${tls.both} alpn h2` : `bind 127.0.0.1:${port} proto h2`;
  return [
    'global', '  nbthread 1', 'defaults', '  mode http', '  timeout client 30s', '  timeout server 30s', '  timeout connect 5s',
    'frontend hello', `  ${bind}`, `  http-request return status 200 content-type text/plain string "${'x'.repeat(96)}"`, '',
  ].join('\n');
}

function version(node) {
  return execFileSync(node, ['--version']).toString().trim();
}

async function main() {
  if (!have('h2load')) throw new Error('h2load not found: apt-get install nghttp2-client');
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'src', 'http2', 'connection.js'))) throw new Error('run npm run build first');
  const tls = opts.tls ? certFiles() : null;
  const targets = [];
  for (const node of opts.nodes) {
    const v = version(node);
    targets.push({ name: `own-${v}`, kind: 'own', cmd: node, args: (p) => [SERVER, 'own', String(p), ...(tls ? [tls.key, tls.cert] : [])], node: v });
    targets.push({ name: `node:http2-${v}`, kind: 'node', cmd: node, args: (p) => [SERVER, 'node', String(p), ...(tls ? [tls.key, tls.cert] : [])], node: v });
  }
  if (opts.haproxy && have('haproxy')) {
    targets.push({
      name: 'haproxy', kind: 'haproxy', cmd: 'haproxy', node: '',
      args: (p) => {
        const cfg = path.join(dir, `haproxy-${p}.cfg`);
        fs.writeFileSync(cfg, haproxyConfig(p, tls));
        return ['-db', '-f', cfg];
      },
    });
  }
  const ports = await freePorts(targets.length);
  const procs = targets.map((t, i) => {
    t.port = ports[i];
    return startPinned(t.name, SERVER_CPU, t.cmd, t.args(t.port), { logFile: path.join(dir, `${t.name}.log`) });
  });
  const url = (t) => `${tls ? 'https' : 'http'}://127.0.0.1:${t.port}/`;
  const h2load = (t, n) => runPinned(LOAD_CPU, 'h2load', ['-n', String(n), '-c', String(opts.c), '-m', String(opts.m), url(t)], { timeoutMs: 120000 });
  try {
    for (let i = 0; i < targets.length; i++) await waitPorts([targets[i].port], procs[i]);
    for (const t of targets) await h2load(t, opts.warmup);
    const rows = targets.map(() => []);
    for (let round = 0; round < opts.rounds; round++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + round) % targets.length;
        const before = treeCpuSnapshot(procs[i].pid);
        const r = await h2load(targets[i], opts.n);
        const cpuMs = cpuDeltaMs(before, treeCpuSnapshot(procs[i].pid));
        const done = Number((/(\d+) succeeded/.exec(r.stdout) ?? [])[1] ?? 0);
        const failed = Number((/(\d+) failed/.exec(r.stdout) ?? [])[1] ?? 0) + Number((/(\d+) errored/.exec(r.stdout) ?? [])[1] ?? 0);
        const rps = Number((/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.stdout) ?? [])[1] ?? 0);
        rows[i].push({ rps, cpuPer1k: (cpuMs / Math.max(done, 1)) * 1000, failed: failed + (r.timedOut ? 1 : 0), done });
        await sleep(300);
      }
    }
    report(targets, rows);
  } finally {
    for (const p of procs) await stopProc(p);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function report(targets, rows) {
  const hap = targets.findIndex((t) => t.kind === 'haproxy');
  console.log(`h2load -n ${opts.n} -c ${opts.c} -m ${opts.m} ${opts.tls ? 'https (TLS, ALPN h2)' : 'h2c (prior knowledge)'}, ${opts.rounds} rounds, servers on CPU ${SERVER_CPU}, h2load on CPU ${LOAD_CPU}\n`);
  console.log('| server | Node | req/s (median) | CPU ms / 1k req (median, min–max) | CPU-eff ×node:http2 (same Node) | CPU-eff ×HAProxy | failed |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  targets.forEach((t, i) => {
    const cpu = rows[i].map((r) => r.cpuPer1k);
    const nodeIdx = t.kind === 'own' ? targets.findIndex((u) => u.kind === 'node' && u.node === t.node) : -1;
    const ratio = (j) => (j < 0 ? '–' : median(rows[i].map((r, k) => rows[j][k].cpuPer1k / r.cpuPer1k)).toFixed(2));
    console.log(
      `| ${t.kind === 'own' ? 'own frame layer' : t.kind === 'node' ? 'node:http2' : 'HAProxy 2.6 (http-request return)'} | ${t.node || '–'} | ` +
        `${Math.round(median(rows[i].map((r) => r.rps)))} | ${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}) | ` +
        `${ratio(nodeIdx)} | ${t.kind === 'haproxy' ? '1.00' : ratio(hap)} | ${rows[i].reduce((a, r) => a + r.failed, 0)} |`,
    );
  });
  console.log(`\nper round (CPU ms / 1k): ${targets.map((t, i) => `${t.name} ${rows[i].map((r) => r.cpuPer1k.toFixed(1)).join('/')}`).join('; ')}`);
}

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
