/**
 * The stick-table store in-process: HAProxy's frequency counter arithmetic, LRU
 * eviction at `size` (never an entry in use), expiry, the primary's sums over
 * workers (and what an exited worker gives back), and memory bounded by `size`
 * under 100,000 distinct keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { freqAdd, freqRead, freqWait } from '../src/stick/freq';
import { CONN_CUR, CONN_RATE, GPC0, USE } from '../src/stick/layout';
import { StickStore, tableKey } from '../src/stick/store';
import { PrimaryStickTables, type TablePeer } from '../src/stick/primary';
import { tableId } from '../src/stick/layout';
import type { Frontend, Model, StickTableDef } from '../src/config/model';
import type { PrimaryToWorker, StickState } from '../src/ipc/messages';
import { Trackers, WorkerTables } from '../src/stick/worker';

const def = (over: Partial<StickTableDef> = {}): StickTableDef => ({
  name: 't',
  type: 'ip',
  keyLen: 32,
  size: 100,
  expire: 0,
  store: [{ type: 'gpc0' }, { type: 'conn_rate', period: 1000 }, { type: 'conn_cur' }],
  ...over,
});

test('freq counters follow HAProxy: the previous period weighs by the part of the current one still to run', () => {
  const v = [0, 0, 0];
  freqAdd(v, 0, 1000, 10_000, 10);
  assert.equal(freqRead(v, 0, 1000, 10_500, 0), 10, 'within the first period: its count');
  assert.equal(freqRead(v, 0, 1000, 10_500, 3), 13, 'pending events count in the current period');
  assert.equal(freqRead(v, 0, 1000, 11_250, 0), 7, 'a quarter into the next period: 3/4 of the previous 10');
  freqAdd(v, 0, 1000, 11_250, 4);
  assert.deepEqual(v, [11_000, 4, 10], 'rotated on the period boundary');
  assert.equal(freqRead(v, 0, 1000, 11_750, 0), 6, '4 now + 1/4 of 10');
  assert.equal(freqRead(v, 0, 1000, 13_100, 0), 0, 'two periods without events: nothing');
  // HAProxy's low-rate correction: a single past event reads as 1 until it is gone.
  const low = [0, 0, 0];
  freqAdd(low, 0, 1000, 0, 1);
  assert.equal(freqRead(low, 0, 1000, 1_900, 0), 1);
  // next_event_delay: at 10/period with 10 already, the next one waits.
  assert.ok(freqWait(v, 0, 1000, 11_250, 4, 0) > 0);
  assert.equal(freqWait(v, 0, 1000, 11_250, 100, 0), 0);
});

test('keys are normalised per table type', () => {
  assert.equal(tableKey(def(), '10.0.0.1'), '10.0.0.1');
  assert.equal(tableKey(def(), '::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(tableKey(def(), '::1'), undefined, 'an ip table takes no IPv6 address');
  assert.equal(tableKey(def({ type: 'ipv6' }), '10.0.0.1'), '::ffff:10.0.0.1');
  assert.equal(tableKey(def({ type: 'ipv6' }), '2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(tableKey(def({ type: 'integer' }), '42'), '42');
  assert.equal(tableKey(def({ type: 'integer' }), 'x'), undefined);
  assert.equal(tableKey(def({ type: 'string', keyLen: 3 }), 'abcdef'), 'abc');
  assert.equal(tableKey(def({ type: 'string' }), ['first', 'second']), 'first');
});

test('size evicts the least recently used entry not in use; expire frees; entries in use stay', () => {
  const s = new StickStore(def({ size: 2, expire: 100 }));
  const a = s.obtain('10.0.0.1', 0)!;
  s.obtain('10.0.0.2', 0);
  s.touch(a, 10);
  s.obtain('10.0.0.3', 10);
  assert.deepEqual([...s.entries()].map((e) => e.key), ['10.0.0.1', '10.0.0.3'], '10.0.0.2 was the least recently used');
  a.values[USE] = 1;
  s.obtain('10.0.0.4', 20);
  assert.deepEqual([...s.entries()].map((e) => e.key), ['10.0.0.1', '10.0.0.4'], 'the entry in use stays');
  s.peek('10.0.0.4')!.values[USE] = 1;
  assert.equal(s.obtain('10.0.0.5', 20), undefined, 'all in use: a new key is not stored');
  assert.ok(s.obtain('10.0.0.5', 20, true), 'the primary must store it (the least recently used goes, in use or not)');
  assert.deepEqual([...s.entries()].map((e) => e.key), ['10.0.0.4', '10.0.0.5']);
  s.sweep(1000);
  assert.deepEqual([...s.entries()].map((e) => e.key), ['10.0.0.4'], 'expired entries went, the one in use stays with a new expiry');
  assert.equal(s.peek('10.0.0.4')!.expires, 1100);
});

const turn = () => new Promise((r) => setImmediate(r));

test('the primary sums the workers increments, confirms to the sender, tells the others, and takes back an exited worker\'s gauges', async () => {
  const sent = new Map<string, PrimaryToWorker[]>();
  const peer = (name: string): TablePeer => {
    sent.set(name, []);
    return { send: (m) => (sent.get(name)!.push(m), true), isConnected: () => true };
  };
  const a = peer('a');
  const b = peer('b');
  const tables = new PrimaryStickTables(() => [a, b]);
  const d = def();
  const fe = { name: 't', stickTable: d } as Frontend;
  tables.useModel({ frontends: [fe], backends: [] });
  const store = tables.named('t')!;
  const id = tableId(d);
  const delta = (use: number, connCur: number, connRate: number): number[] => {
    const v = new Array<number>(store.layout.slots).fill(0);
    v[USE] = use;
    v[store.layout.slot[CONN_CUR]] = connCur;
    v[store.layout.slot[CONN_RATE] + 1] = connRate;
    return v;
  };
  tables.onBatch(a, { type: 'stick-batch', seq: 1, tables: { [id]: [['10.0.0.1', null, delta(2, 2, 2)]] } });
  await turn();
  tables.onBatch(b, { type: 'stick-batch', seq: 7, tables: { [id]: [['10.0.0.1', null, delta(1, 1, 1)]] } });
  await turn();
  const e = store.get('10.0.0.1', Date.now())!;
  assert.equal(store.read(e, CONN_CUR, Date.now()), 3);
  assert.equal(store.read(e, CONN_RATE, Date.now()), 3);
  const toA = sent.get('a')!;
  assert.deepEqual(
    toA.map((m) => (m.type === 'stick-state' ? m.ack : -1)),
    [1, undefined],
    'a gets its ack, then b\'s entries without one',
  );
  const last = toA[1] as Extract<PrimaryToWorker, { type: 'stick-state' }>;
  assert.equal((last.tables[id][0] as Exclude<StickState, [string]>)[3][store.layout.slot[CONN_CUR]], 3);
  tables.workerExited(a);
  await turn();
  assert.deepEqual(
    sent.get('b')!.map((m) => (m.type === 'stick-state' ? m.ack : -1)),
    [undefined, 7, undefined],
    'b: a\'s entries, its ack, the entries a gave back',
  );
  assert.equal(store.read(e, CONN_CUR, Date.now()), 1, 'a\'s two connections are gone');
  assert.equal(e.values[USE], 1);
  assert.equal(store.read(e, CONN_RATE, Date.now()), 3, 'rates are history, they stay');
  // Unknown table ids (a generation's table that changed shape) are still confirmed.
  tables.onBatch(b, { type: 'stick-batch', seq: 8, tables: { 'nope#0': [['x', null, []]] } });
  await turn();
  assert.equal((sent.get('b')!.at(-1) as { ack?: number }).ack, 8);
});

test('a reload keeps a table whose type and data are unchanged, and starts afresh when they change', () => {
  const tables = new PrimaryStickTables(() => []);
  const model = (d: StickTableDef): Pick<Model, 'frontends' | 'backends'> => ({ frontends: [{ name: 't', stickTable: d } as Frontend], backends: [] });
  tables.useModel(model(def()));
  tables.named('t')!.obtain('10.0.0.1', Date.now());
  tables.useModel(model(def({ size: 50, expire: 1000 })));
  assert.equal(tables.named('t')!.size, 1, 'size and expire change in place');
  tables.useModel(model(def({ store: [{ type: 'gpc0' }] })));
  assert.equal(tables.named('t')!.size, 0, 'other stored data: a new table');
});

/** The heap in use after a full collection. */
function heapAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

test('100,000 distinct keys leave a table at its size and the heap bounded', () => {
  const tables = new WorkerTables([def({ name: 'flood', size: 10_000, expire: 60_000 })]);
  const t = tables.byName.get('flood')!;
  const before = heapAfterGc();
  for (let i = 0; i < 100_000; i++) {
    const tr = new Trackers();
    tr.track(0, t, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    tr.release();
  }
  assert.equal(t.size, 10_000);
  const grown = heapAfterGc() - before;
  // ~300 bytes an entry: 10,000 entries are a few MB; 100,000 kept would be ~30 MB.
  assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);
  assert.equal(t.read(t.lookup('10.1.134.159'), GPC0), 0);
  assert.equal(t.read(t.lookup('10.1.134.159'), CONN_RATE), 1, 'the last keys are there');
  assert.equal(t.lookup('10.0.0.1'), undefined, 'the first ones went');
});
