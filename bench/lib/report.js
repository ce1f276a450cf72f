'use strict';
/**
 * Medians, in-round ratios and the markdown report. Ratios are computed inside each
 * round (same moment, same machine noise) and then medianed, as in
 * shared/notes/anchor-measurements.md.
 */

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Issue #3 floors for tslb / HAProxy (latency and memory: ceilings). */
const TARGETS = [
  { workload: 'l7-small-c50', metric: 'rate', floor: 0.8, label: 'L7 keep-alive small, c=50' },
  { workload: 'l7-small-c256', metric: 'rate', floor: 0.8, label: 'L7 keep-alive small, c=256' },
  { workload: 'l7-64k', metric: 'rate', floor: 0.8, label: 'L7 64 KiB' },
  { workload: 'l7-close', metric: 'rate', floor: 0.8, label: 'L7 one request per connection' },
  { workload: 'l4-small', metric: 'rate', floor: 0.95, label: 'L4 small' },
  { workload: 'l4-64k', metric: 'rate', floor: 0.9, label: 'L4 64 KiB' },
  { workload: 'tls-ka', metric: 'rate', floor: 0.8, label: 'TLS keep-alive' },
  { workload: 'tls-full', metric: 'rate', floor: 0.9, label: 'TLS full handshakes' },
  { workload: 'tls-resumed', metric: 'rate', floor: 0.8, label: 'TLS resumed handshakes' },
  { workload: 'latency', metric: 'p99', ceiling: 1.5, label: 'p99 at ½ HAProxy max rate (× HAProxy p99)' },
  { workload: 'idle-rss', metric: 'memory', ceiling: 1.5, label: 'memory per idle connection (× bare Node net)' },
  { workload: 'l7-small-c50', metric: 'vsHttpProxy', floor: 2.5, label: 'tslb vs npm http-proxy, L7 small' },
];

function rowMedians(row) {
  const ok = row.runs.filter((r) => !r.error);
  const lat = (k) => median(ok.map((r) => r.latencyMs?.[k]));
  return {
    rate: median(ok.map((r) => r.rate)),
    cpuMsPer1k: median(ok.map((r) => r.cpuMsPer1k)),
    bytesPerSec: median(ok.map((r) => r.bytesPerSec)),
    p50: lat('p50'),
    p99: lat('p99'),
    p999: lat('p999'),
    errors: ok.reduce((a, r) => a + (r.errors || 0), 0),
    failedRuns: row.runs.length - ok.length,
    firstError: row.runs.find((r) => r.error)?.error,
    peakRssMiB: Math.max(0, ...ok.map((r) => r.peakRssMiB ?? 0)) || null,
    rssMiB: median(ok.map((r) => r.rssMiB)),
    // Fixed-rate runs: more than 1 % of the schedule never sent means the rate was not held.
    rateNotHeld: ok.some((r) => (r.errorDetail?.unsent ?? 0) > r.count / 100),
  };
}

/** Per-round ratio of `a` over `b` (rounds aligned by index), medianed. */
function roundRatio(a, b, pick) {
  const n = Math.min(a.runs.length, b.runs.length);
  const ratios = [];
  for (let i = 0; i < n; i++) {
    const x = a.runs[i];
    const y = b.runs[i];
    if (x.error || y.error) continue;
    const r = pick(x, y);
    if (Number.isFinite(r)) ratios.push(r);
  }
  return { median: median(ratios), perRound: ratios };
}

function summarise(rows) {
  const groups = new Map();
  for (const row of rows) {
    if (!groups.has(row.workload)) groups.set(row.workload, []);
    groups.get(row.workload).push(row);
  }
  const out = [];
  for (const [workload, group] of groups) {
    const haproxy = group.find((r) => r.kind === 'haproxy');
    const httpProxy = group.find((r) => r.kind === 'http-proxy');
    const bare = group.find((r) => r.kind === 'bare-net');
    for (const row of group) {
      const s = { workload, title: row.title, unit: row.unit, target: row.target, kind: row.kind, workers: row.workers, cpus: row.cpus, ...rowMedians(row) };
      if (haproxy && row !== haproxy) {
        s.rateVsHaproxy = roundRatio(row, haproxy, (x, y) => x.rate / y.rate);
        s.cpuEffVsHaproxy = roundRatio(row, haproxy, (x, y) => y.cpuMsPer1k / x.cpuMsPer1k);
        if (workload === 'latency') s.p99VsHaproxy = roundRatio(row, haproxy, (x, y) => x.latencyMs.p99 / y.latencyMs.p99);
      }
      if (httpProxy && row.kind === 'tslb') s.rateVsHttpProxy = roundRatio(row, httpProxy, (x, y) => x.rate / y.rate);
      if (bare && row !== bare) s.memoryVsBareNet = roundRatio(row, bare, (x, y) => x.rate / y.rate);
      out.push(s);
    }
  }
  return { rows: out, targets: targetStatus(out) };
}

function targetStatus(summaryRows) {
  return TARGETS.map((t) => {
    const tslbRows = summaryRows.filter((r) => r.workload === t.workload && r.kind === 'tslb');
    const row = tslbRows[0];
    let value = null;
    if (row) {
      if (t.metric === 'rate') value = row.rateVsHaproxy?.median;
      else if (t.metric === 'p99') value = row.p99VsHaproxy?.median;
      else if (t.metric === 'memory') value = row.memoryVsBareNet?.median;
      else if (t.metric === 'vsHttpProxy') value = row.rateVsHttpProxy?.median;
    }
    const invalid = t.metric === 'p99' && summaryRows.some((r) => r.workload === t.workload && r.rateNotHeld);
    const met = value == null || invalid ? null : t.floor !== undefined ? value >= t.floor : value <= t.ceiling;
    return { ...t, value, invalid, cpuEff: t.metric === 'rate' ? row?.cpuEffVsHaproxy?.median ?? null : null, met };
  });
}

const f = (v, d = 0) => (v == null || !Number.isFinite(v) ? '–' : v.toFixed(d));

function markdown(doc) {
  const { summary, meta, skipped } = doc;
  const lines = [];
  lines.push(`Run ${meta.date} · node ${meta.versions.tslbNode ?? meta.versions.node} (tslb) · ${meta.versions.haproxy} · origins: ${meta.origins} · ` +
    `${meta.options.rounds} interleaved rounds × ${meta.options.duration} s · load on CPUs ${meta.options.loadCpus}`);
  lines.push('');
  lines.push('| workload | target | workers@cpus | rate (median) | CPU ms/1k | p50 / p99 / p99.9 ms | errors | peak RSS MiB | rate ×HAProxy | CPU-eff ×HAProxy |');
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of summary.rows) {
    const mbps = r.workload.includes('64k') && r.bytesPerSec ? ` (${f(r.bytesPerSec / 1e6)} MB/s)` : '';
    const rate = r.unit === 'KiB/conn' ? `${f(r.rate, 2)} KiB/conn` : `${f(r.rate)} ${r.unit}${mbps}`;
    const lat = r.p99 == null ? '–' : `${f(r.p50, 2)} / ${f(r.p99, 2)} / ${f(r.p999, 2)}`;
    const err = r.failedRuns ? `${r.errors} (+${r.failedRuns} failed runs: ${String(r.firstError).replace(/[|\n]/g, ' ').slice(0, 80)})` : String(r.errors);
    const vs = r.unit === 'KiB/conn' ? (r.memoryVsBareNet ? `${f(r.memoryVsBareNet.median, 2)} ×bare-net` : '–') : f(r.rateVsHaproxy?.median, 2);
    lines.push(`| ${r.workload} | ${r.target} | ${r.workers ?? '–'}@${r.cpus ?? '–'} | ${rate} | ${f(r.cpuMsPer1k, 1)} | ${lat} | ${err} | ${f(r.peakRssMiB, 1)} | ${vs} | ${f(r.cpuEffVsHaproxy?.median, 2)} |`);
  }
  lines.push('');
  lines.push('**Issue #3 targets (tslb, main workloads at --workers):**');
  lines.push('');
  lines.push('| target | measured | CPU-eff | goal | met |');
  lines.push('|---|---:|---:|---:|---|');
  for (const t of summary.targets) {
    const goal = t.floor !== undefined ? `≥ ${t.floor}` : `≤ ${t.ceiling}`;
    const met = t.invalid ? 'invalid: the fixed rate was not held (see errors)' : t.met == null ? 'not measured' : t.met ? 'yes' : 'no';
    lines.push(`| ${t.label} | ${f(t.value, 2)} | ${f(t.cpuEff, 2)} | ${goal} | ${met} |`);
  }
  const seen = new Set();
  const skipLines = [];
  for (const s of skipped) {
    const key = `${s.target}: ${s.reason}`;
    if (s.reason === 'not a reference for this workload' || seen.has(key)) continue;
    seen.add(key);
    skipLines.push(`- ${s.workload} / ${s.target}: ${s.reason}`);
  }
  if (skipLines.length) lines.push('', 'Skipped:', ...skipLines);
  return lines.join('\n');
}

module.exports = { median, summarise, markdown, TARGETS };
