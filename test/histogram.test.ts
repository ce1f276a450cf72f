// Latency histograms through a real tslb process: a backend that answers after 30 ms,
// 20 requests, then the Prometheus scrape has them in the right buckets (cumulative,
// +Inf = _count) per backend and per server, and promtool stays clean.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LATENCY_BOUNDS_MS, newCounters, recordTimes } from '../src/worker/counters';
import { COUNTER_OFFSETS, COUNTER_SLOTS } from '../src/worker/report';
import { StatsAggregator } from '../src/primary/stats';
import { server, tcpModel } from './helpers/l4-model';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
const BACKEND_DELAY_MS = 30;
const REQUESTS = 20;

/**
 * One request on its own connection: on a keep-alive connection Tt also counts the
 * client's idle time before the request (HAProxy's Ti), which this test does not control.
 */
function getOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The `_bucket` samples of one series, by `le`, in output order. */
function buckets(body: string, family: string, labels: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${family}_bucket\\{${labels},le="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const m of body.matchAll(re)) out.set(m[1], Number(m[2]));
  return out;
}

function sample(body: string, name: string, labels: string): number {
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(body);
  assert.ok(m, `${name}{${labels}} missing`);
  return Number(m[1]);
}

describe('latency buckets', () => {
  it('a timer equal to a bound counts in that bound (le), above the last only in +Inf', () => {
    const c = newCounters();
    recordTimes(c, -1, -1, 25, 26);
    recordTimes(c, -1, -1, 10_001, 0);
    assert.equal(c.rtimeBuckets.length, LATENCY_BOUNDS_MS.length + 1);
    assert.equal(c.rtimeBuckets[LATENCY_BOUNDS_MS.indexOf(25)], 1);
    assert.equal(c.rtimeBuckets[LATENCY_BOUNDS_MS.length], 1);
    assert.equal(c.ttimeBuckets[LATENCY_BOUNDS_MS.indexOf(50)], 1);
    assert.equal(c.ttimeBuckets[0], 1);
    assert.equal(c.qtimeCount, 0);
  });

  it('the primary sums bucket deltas from every worker; clear counters all resets them', () => {
    const model = tcpModel([server('s1', 1)]);
    const stats = new StatsAggregator(model);
    const report = new Array<number>(COUNTER_SLOTS).fill(0);
    report[COUNTER_OFFSETS.rtimeBuckets + 4] = 3;
    report[COUNTER_OFFSETS.rtimeCount] = 3;
    stats.apply(101, { frontends: {}, backends: { be_tcp: report }, servers: {} });
    stats.apply(102, { frontends: {}, backends: { be_tcp: report }, servers: {} });
    const be = stats.backends.get('be_tcp')!;
    assert.equal(be.buckets('rtimeBuckets')[4], 6);
    assert.equal(be.get('rtimeCount'), 6);
    stats.clear(true);
    assert.equal(be.buckets('rtimeBuckets')[4], 0);
  });
});

describe('latency histograms through tslb', () => {
  let backend: http.Server;
  let lb: TslbProcess;
  let promPort: number;
  let body = '';

  before(async () => {
    backend = http.createServer((_req, res) => {
      setTimeout(() => res.end('slow\n'), BACKEND_DELAY_MS);
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const bePort = (backend.address() as AddressInfo).port;
    const fePort = await freePort();
    promPort = await freePort();
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${fePort}"]
    default_backend: app
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${bePort} }
prometheus:
  bind: "127.0.0.1:${promPort}"
`);
    for (let i = 0; i < REQUESTS; i++) assert.equal(await getOnce(fePort), 'slow\n');
    // Workers report once a second: wait until the primary has every request.
    const done = new RegExp(`^tslb_backend_total_time_seconds_count\\{proxy="app"\\} ${REQUESTS}$`, 'm');
    for (let i = 0; i < 50 && !done.test(body); i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = await scrape(promPort);
    }
  });

  after(async () => {
    await lb?.stop();
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
  });

  for (const [scope, labels] of [['backend', 'proxy="app"'], ['server', 'proxy="app",server="s1"']]) {
    it(`${scope} response and total times land in their buckets`, () => {
      for (const phase of ['response', 'total']) {
        const family = `tslb_${scope}_${phase}_time_seconds`;
        assert.match(body, new RegExp(`^# TYPE ${family} histogram$`, 'm'));
        const b = buckets(body, family, labels);
        assert.deepEqual([...b.keys()], ['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
        const values = [...b.values()];
        for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], `${family} buckets are cumulative`);
        // Nothing answers before the backend's 30 ms; on an idle machine all 20 land in
        // (25 ms, 50 ms], a loaded CI runner delays a few (seen: 17 of 20), none by 1 s.
        assert.equal(b.get('0.025'), 0, `${family} le=0.025`);
        assert.ok(b.get('0.05')! >= REQUESTS * 0.75, `${family} le=0.05 is ${b.get('0.05')}`);
        assert.equal(b.get('1'), REQUESTS, `${family} le=1`);
        assert.equal(b.get('+Inf'), REQUESTS);
        assert.equal(sample(body, `${family}_count`, labels), REQUESTS);
        const sum = sample(body, `${family}_sum`, labels);
        assert.ok(sum >= REQUESTS * 0.025 && sum < REQUESTS, `${family}_sum ${sum}`);
      }
    });
  }

  it('queue and connect times stay summaries next to promex averages and maxima', () => {
    assert.match(body, /^# TYPE tslb_backend_connect_time_seconds summary$/m);
    assert.equal(sample(body, 'tslb_backend_connect_time_seconds_count', 'proxy="app"'), REQUESTS);
    assert.match(body, /^# TYPE tslb_backend_response_time_average_seconds gauge$/m);
    assert.ok(sample(body, 'tslb_server_max_response_time_seconds', 'proxy="app",server="s1"') >= 0.025);
  });

  it('promtool check metrics reports nothing', { skip: !hasPromtool && 'promtool not installed (Debian package prometheus)' }, () => {
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, timeout: 10_000 });
    assert.equal(lint.stdout.toString() + lint.stderr.toString(), '');
    assert.equal(lint.status, 0);
  });
});
