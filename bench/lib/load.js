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

/** The last line of a tool's output, for error messages that fit in a table cell. */
function oneLine(text) {
  const lines = text.trim().split('\n').filter((l) => l.trim());
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}

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

/** wrk, one thread, `conns` connections (a new connection per request with `Connection: close`). */
async function wrk({ cpus, url, conns, seconds, headers = [] }) {
  const args = ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s'];
  for (const h of headers) args.push('-H', h);
  args.push('-s', path.join(LUA_DIR, 'report.lua'), url);
  const r = await runPinned(cpus, 'wrk', args, { timeoutMs: seconds * 1000 + SLACK_MS });
  const j = parseBenchJson(r.stdout);
  if (!j) return { error: `wrk failed (code ${r.code}${r.timedOut ? ', killed' : ''}): ${oneLine(r.stderr || r.stdout)}` };
  return fromBenchJson(j);
}

/** h2load, one thread, `conns` connections × `streams` concurrent streams, for `seconds` (-D). */
async function h2load({ cpus, url, conns, streams, seconds }) {
  const r = await runPinned(cpus, 'h2load', ['-t1', `-c${conns}`, `-m${streams}`, '-D', String(seconds), url], { timeoutMs: seconds * 1000 + SLACK_MS });
  const done = /(\d+) succeeded, (\d+) failed, (\d+) errored/.exec(r.stdout);
  const finished = /finished in ([\d.]+)(m?s)/.exec(r.stdout);
  if (!done || !finished) return { error: `h2load failed (code ${r.code}${r.timedOut ? ', killed' : ''}): ${oneLine(r.stderr || r.stdout)}` };
  const count = Number(done[1]);
  const elapsed = Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const errors = Number(done[2]) + Number(done[3]);
  return { count, seconds: elapsed, rate: count / elapsed, errors, errorDetail: { failed: Number(done[2]), errored: Number(done[3]) } };
}

/** Fixed-rate load with latency percentiles (bench/paced-client.js). */
async function paced({ cpus, port, reqPath, rate, conns, seconds }) {
  const r = await runPinned(cpus, process.execPath, [path.join(__dirname, '..', 'paced-client.js'), String(port), reqPath, String(rate), String(conns), String(seconds)], {
    timeoutMs: seconds * 1000 + SLACK_MS,
  });
  const j = parseBenchJson(r.stdout);
  if (!j) return { error: `paced client failed (code ${r.code}): ${oneLine(r.stderr || r.stdout)}` };
  return fromBenchJson(j);
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
    if (!m) return { error: `openssl s_time failed (code ${r.code}): ${oneLine(r.stderr || r.stdout)}` };
    count += Number(m[1]);
  }
  return { count, seconds: secs, rate: count / secs, errors: 0 };
}

async function wsEcho({ cpus, url, conns, seconds, size }) {
  const r = await runPinned(cpus, process.execPath, [path.join(__dirname, '..', 'ws-client.js'), url, String(conns), String(seconds), String(size)], {
    timeoutMs: seconds * 1000 + SLACK_MS,
  });
  const j = parseBenchJson(r.stdout);
  if (!j) return { error: `ws client failed (code ${r.code}): ${oneLine(r.stderr || r.stdout)}` };
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
  const READY = /READY (\d+) (\d+) (\{.*\})/;
  while (!READY.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      return { error: `idle client did not get ready: ${oneLine(out)}` };
    }
    await sleep(100);
  }
  const [, opened, errors, errorKinds] = READY.exec(out);
  await sleep(1500); // let the proxy settle (buffers released, timers armed)
  const measured = measure();
  child.stdin.end();
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
  return { opened: Number(opened), errors: Number(errors), errorKinds: JSON.parse(errorKinds), measured };
}

module.exports = { wrk, h2load, paced, opensslFullHandshakes, wsEcho, withIdleConnections };
