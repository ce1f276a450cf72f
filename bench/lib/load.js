'use strict';
/**
 * Load generators. Each returns { count, seconds, rate, bytes?, errors, latency? } or
 * { error } — `count` is requests, messages or handshakes depending on the workload.
 * Every command is bounded: a tool-side duration plus a hard kill (runPinned).
 */
const path = require('node:path');
const { runPinned, sleep } = require('./procs');

const LUA_DIR = path.join(__dirname, '..', 'lua');
const SLACK_MS = 15000;

function parseBenchJson(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCHJSON '));
  return line ? JSON.parse(line.slice('BENCHJSON '.length)) : null;
}

function fromBenchJson(j) {
  const seconds = j.duration_us / 1e6;
  const errors = Object.values(j.errors).reduce((a, b) => a + b, 0);
  const out = { count: j.requests, seconds, rate: j.requests / seconds, errors, errorDetail: j.errors };
  if (j.bytes !== undefined) out.bytesPerSec = j.bytes / seconds;
  if (j.latency_us) {
    out.latencyMs = {
      mean: j.latency_us.mean / 1000,
      p50: j.latency_us.p50 / 1000,
      p90: j.latency_us.p90 / 1000,
      p99: j.latency_us.p99 / 1000,
      p999: j.latency_us.p999 / 1000,
      max: j.latency_us.max / 1000,
    };
  }
  return out;
}

/** wrk, one thread, `conns` connections; `paceDelayMs` switches to the fixed-rate script. */
async function wrk({ cpus, url, conns, seconds, headers = [], paceDelayMs }) {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  args.push('-s', path.join(LUA_DIR, paceDelayMs ? 'paced.lua' : 'report.lua'), url);
  const env = { BENCH_LUA_DIR: LUA_DIR, BENCH_DELAY_MS: String(paceDelayMs ?? 0) };
  const r = await runPinned(cpus, 'wrk', args, { timeoutMs: seconds * 1000 + SLACK_MS, env });
  const j = parseBenchJson(r.stdout);
  if (!j) return { error: `wrk failed (code ${r.code}${r.timedOut ? ', killed' : ''}): ${(r.stderr || r.stdout).trim().slice(0, 300)}` };
  return fromBenchJson(j);
}

/**
 * h2load over HTTP/1.1 with `Connection: close`: every request is a new TLS
 * connection, and h2load resumes the session (ticket) on reconnect.
 */
async function h2loadResumed({ cpus, url, conns, seconds }) {
  const args = ['--h1', '-c', String(conns), '-D', String(seconds), '-H', 'Connection: close', url];
  const r = await runPinned(cpus, 'h2load', args, { timeoutMs: seconds * 1000 + SLACK_MS });
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(r.stdout);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(r.stdout);
  if (!fin || !req) return { error: `h2load failed (code ${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}` };
  const secs = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  const ok = Number(req[4]);
  return { count: ok, seconds: secs, rate: ok / secs, errors: Number(req[5]) + Number(req[6]) + Number(req[7]) };
}

/**
 * Full handshakes: `procs` parallel `openssl s_time -new` loops (a new session every
 * connection, so nothing is resumed), each fetching `/` once per connection.
 */
async function opensslFullHandshakes({ cpus, port, procs, seconds }) {
  const started = performance.now();
  const runs = await Promise.all(
    Array.from({ length: procs }, () =>
      runPinned(cpus, 'openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds), '-www', '/'], {
        timeoutMs: seconds * 1000 + SLACK_MS,
      }),
    ),
  );
  const secs = (performance.now() - started) / 1000;
  let count = 0;
  for (const r of runs) {
    const m = /(\d+) connections in [\d.]+s;/.exec(r.stdout);
    if (!m) return { error: `openssl s_time failed (code ${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}` };
    count += Number(m[1]);
  }
  return { count, seconds: secs, rate: count / secs, errors: 0 };
}

async function wsEcho({ cpus, url, conns, seconds, size }) {
  const r = await runPinned(cpus, process.execPath, [path.join(__dirname, '..', 'ws-client.js'), url, String(conns), String(seconds), String(size)], {
    timeoutMs: seconds * 1000 + SLACK_MS,
  });
  const j = parseBenchJson(r.stdout);
  if (!j) return { error: `ws client failed (code ${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}` };
  if (j.connections < conns) return { error: `only ${j.connections}/${conns} WebSocket connections opened` };
  return fromBenchJson(j);
}

/**
 * Opens `count` idle keep-alive connections (one request each) and calls
 * `measure()` while they are held; returns { opened, errors, measured }.
 */
async function withIdleConnections({ cpus, port, count, measure }) {
  const { spawn } = require('node:child_process');
  const child = spawn('taskset', ['-c', cpus, process.execPath, path.join(__dirname, '..', 'idle-client.js'), String(port), String(count), '120'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  const deadline = Date.now() + 90000;
  while (!/READY (\d+) (\d+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      return { error: `idle client did not get ready: ${out.trim().slice(-300)}` };
    }
    await sleep(100);
  }
  const [, opened, errors] = /READY (\d+) (\d+)/.exec(out);
  await sleep(1500); // let the proxy settle (buffers released, timers armed)
  const measured = measure();
  child.stdin.end();
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
  return { opened: Number(opened), errors: Number(errors), measured };
}

module.exports = { wrk, h2loadResumed, opensslFullHandshakes, wsEcho, withIdleConnections };
