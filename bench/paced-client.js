'use strict';
/**
 * Fixed-rate HTTP/1.1 load with latency percentiles (wrk2's method; wrk2 is not in
 * Debian, and wrk's own `delay()` both slows the rate and counts the delay into the
 * latency). Request i is scheduled at t0 + i/rate over `connections` keep-alive
 * connections and sent from a 1 ms tick or as soon as a connection frees up.
 * Latency runs from the actual send, or from the scheduled time when the request
 * went out more than 2 ms late (no free connection: a slow server is not hidden by
 * coordinated omission).
 * Usage: node bench/paced-client.js <port> <path> <rate> <connections> <seconds>
 */
const net = require('node:net');

const [portArg, reqPath, rateArg, connArg, secArg] = process.argv.slice(2);
const rate = Number(rateArg);
const durationMs = Number(secArg) * 1000;
const REQUEST = Buffer.from(`GET ${reqPath} HTTP/1.1\r\nHost: bench.local\r\n\r\n`);
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const latencies = new Float64Array(Math.ceil((rate * durationMs) / 1000) + 16);
let recorded = 0; // responses whose latency was kept
let errors = 0;
let sent = 0;
const idle = [];

function newConnection() {
  const s = net.connect({ port: Number(portArg), host: '127.0.0.1', noDelay: true });
  s.startedAt = 0;
  s.buf = null;
  s.on('connect', () => idle.push(s));
  s.on('data', (chunk) => {
    s.buf = s.buf ? Buffer.concat([s.buf, chunk]) : chunk;
    const end = s.buf.indexOf(HEAD_END);
    if (end < 0) return;
    const m = CONTENT_LENGTH.exec(s.buf.latin1Slice(0, end));
    if (!m) {
      errors++;
      s.destroy();
      return;
    }
    const total = end + 4 + Number(m[1]);
    if (s.buf.length < total) return;
    if (recorded < latencies.length) latencies[recorded++] = performance.now() - s.startedAt;
    s.buf = s.buf.length > total ? s.buf.subarray(total) : null;
    idle.push(s);
    if (t0) pump(performance.now());
  });
  s.on('error', () => errors++);
  return s;
}

const sockets = Array.from({ length: Number(connArg) }, newConnection);

let t0 = 0;
let finished = false;

/** Send every request whose scheduled time has come, on free connections. */
function pump(now) {
  if (finished) return;
  const due = Math.floor(((now - t0) * rate) / 1000) + 1;
  while (sent < due && idle.length) {
    const s = idle.pop();
    const scheduled = t0 + (sent * 1000) / rate;
    s.startedAt = now - scheduled > 2 ? scheduled : now;
    s.write(REQUEST);
    sent++;
  }
}

function start() {
  t0 = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    if (now - t0 >= durationMs) return finish(tick);
    pump(now);
  }, 1);
}

function finish(tick) {
  finished = true;
  clearInterval(tick);
  const elapsed = performance.now() - t0;
  const v = latencies.subarray(0, recorded).sort();
  const pct = (p) => (v.length ? Math.round(v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] * 1000) : 0);
  let sum = 0;
  for (const x of v) sum += x;
  const out = {
    requests: recorded,
    duration_us: Math.round(elapsed * 1000),
    errors: { other: errors, unsent: Math.max(0, Math.floor((elapsed * rate) / 1000) - sent) },
    latency_us: { mean: v.length ? (sum / v.length) * 1000 : 0, max: pct(100), p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9) },
  };
  process.stdout.write(`BENCHJSON ${JSON.stringify(out)}\n`);
  for (const s of sockets) s.destroy();
  process.exit(0);
}

// Start once every connection is up (bounded: 5 s).
const ready = setInterval(() => {
  if (idle.length === sockets.length || performance.now() > 5000) {
    clearInterval(ready);
    start();
  }
}, 10);
