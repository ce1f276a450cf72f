// The stats page in process, as HAProxy's reg-test webstats/webstats-scope-and-post-change
// drives it: `stats uri /`, `/?;csv;scope=b1`, then an admin POST `s=srv1&s=srv2&action=…&b=#<iid>`
// answered with 303, and the resulting states in the CSV (a backend whose servers are all
// in MAINT is DOWN, an unchecked server reads `no check`).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '../src/config/model';
import { StatsPage, humanTime, parseOptions } from '../src/primary/stats-page';
import { StatsAggregator, type ServerHealthView, type StatsView } from '../src/primary/stats';
import { buildInfo } from '../src/primary/stats-info';
import { buildRows } from '../src/primary/stats-rows';
import { server, tcpModel } from './helpers/l4-model';

function model(): Model {
  const base = tcpModel([server('srv1', 1), server('srv2', 2), server('srv3', 3)]);
  const b1 = { ...base.backends[0], name: 'b1', id: 3 };
  const b2 = { ...base.backends[0], name: 'b2', id: 4, servers: [server('srv1', 1), server('srv2', 2)] };
  return { ...base, frontends: [], backends: [b1, b2] };
}

describe('stats page (webstats reg-test shape)', () => {
  const m = model();
  const states = new Map<string, ServerHealthView>();
  for (const b of m.backends) for (const s of b.servers) states.set(`${b.name}/${s.name}`, { backend: b.name, server: s.name, up: true, admin: 'ready', weight: 1 });
  const stats = new StatsAggregator(m);
  const view: StatsView = {
    model: () => m,
    stats,
    health: () => [...states.values()],
    rows: () => buildRows({ model: m, stats, health: [...states.values()], now: Date.now() }),
    info: () => buildInfo({ model: m, stats, health: [], now: Date.now() }, { startedAt: Date.now(), workers: 1, stopping: false }, '0.0.0'),
  };
  const setAdmin = (b: string, s: string, a: 'ready' | 'drain' | 'maint') => {
    const h = states.get(`${b}/${s}`);
    if (!h) return 'No such server.';
    h.admin = a;
    return 'ok';
  };
  const page = new StatsPage({ address: '127.0.0.1', port: 0, uri: '/', refresh: 0, admin: true }, view, { setAdmin, setWeight: () => 'ok', reload: async () => true }, '0.0.0');
  const url = (p: string) => `http://127.0.0.1:${page.port}${p}`;
  const post = async (body: string) => {
    const res = await fetch(url('/'), { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get('location') };
  };

  before(() => page.listen());
  after(() => page.close());

  it('/?;csv;scope=b1 lists only b1', async () => {
    const csv = await (await fetch(url('/?;csv;scope=b1'))).text();
    const lines = csv.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines.map((l) => l.split(',').slice(0, 2).join(',')), ['b1,srv1', 'b1,srv2', 'b1,srv3', 'b1,BACKEND']);
  });

  it('admin POST by #iid, then the CSV shows MAINT/DRAIN and a DOWN backend', async () => {
    assert.deepEqual(await post('s=srv1&s=srv2&s=srv3&action=maint&b=%233'), { status: 303, location: '/;st=DONE' });
    assert.deepEqual(await post('s=srv2&action=drain&b=%233'), { status: 303, location: '/;st=DONE' });
    assert.deepEqual(await post('s=srv1&action=maint&b=%234'), { status: 303, location: '/;st=DONE' });
    assert.deepEqual(await post('action=maint&b=%234'), { status: 303, location: '/;st=NONE' });
    assert.deepEqual(await post('s=srv1&action=maint&b=%239'), { status: 303, location: '/;st=ERRP' });
    const csv = await (await fetch(url('/;csv'))).text();
    assert.match(csv, /\nb1,srv1.*MAINT.*\nb1,srv2.*DRAIN.*\nb1,srv3.*MAINT.*\nb1,BACKEND.*DOWN.*\nb2,srv1.*MAINT.*\nb2,srv2.*no check.*\nb2,BACKEND.*UP/);
  });

  it('options and human times as HAProxy prints them', () => {
    assert.deepEqual(parseOptions('?;csv;norefresh;scope=b%201&x'), { format: 'csv', norefresh: true, up: false, noMaint: false, scope: 'b 1' });
    assert.equal(parseOptions(';st=DONE').status, 'DONE');
    assert.deepEqual([5, 123, 7384, 200000].map(humanTime), ['5s', '2m3s', '2h3m', '2d7h']);
  });
});
