/**
 * Balancing algorithms over the Balancer interface: plain BalancedServer objects,
 * no sockets. Distribution checks use fixed key sets so results are deterministic
 * (except `random`, whose bounds are many standard deviations wide).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../src/config/model';
import type { BalancedServer, BalanceKey, Balancer } from '../src/balance/balancer';
import { balancers } from '../src/balance/registry';
import { parseBalanceLine } from '../src/config/backend-syntax';
import { addressHash, fullHash, sdbm } from '../src/balance/hash';

interface TestServer extends BalancedServer {
  id: number;
}

function servers(weights: number[], opts: { maxconn?: number; ids?: number[] } = {}): TestServer[] {
  return weights.map((weight, index) => ({
    index,
    name: `s${index + 1}`,
    id: opts.ids?.[index] ?? index + 1,
    weight,
    active: 0,
    maxconn: opts.maxconn ?? 0,
  }));
}

/** The fields balancers read from a Backend; the rest is irrelevant here. */
function backendFor(list: TestServer[], algorithm: string, args: string[] = [], hashType: 'map-based' | 'consistent' = 'map-based'): Backend {
  return {
    name: 'be',
    mode: 'http',
    balance: { algorithm, args, hashType },
    servers: list.map((s) => ({ name: s.name, id: s.id, weight: s.weight })),
  } as unknown as Backend;
}

function make(
  list: TestServer[],
  algorithm: string,
  args: string[] = [],
  hashType: 'map-based' | 'consistent' = 'map-based',
  eligible: TestServer[] = list,
): Balancer {
  const def = balancers.get(algorithm);
  assert.ok(def, algorithm);
  assert.equal(def.checkArgs(args), undefined);
  const b = def.create(backendFor(list, algorithm, args, hashType));
  b.reset(eligible);
  return b;
}

function key(parts: { src?: string; uri?: string; headers?: Record<string, string> } = {}): BalanceKey {
  const uri = parts.uri ?? '/';
  const q = uri.indexOf('?');
  return {
    src: parts.src ?? '127.0.0.1',
    uri,
    path: q < 0 ? uri : uri.slice(0, q),
    header: (name) => parts.headers?.[name],
  };
}

const ANY = key();

function names(b: Balancer, n: number, k: BalanceKey = ANY): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(b.pick(k)!.name);
  return out;
}

function shares(picked: (BalancedServer | undefined)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of picked) m.set(s!.name, (m.get(s!.name) ?? 0) + 1);
  return m;
}

function ipv4(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Deterministic PRNG (mulberry32) for the property tests. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertFairShare(m: Map<string, number>, total: number, count: number, tolerance: number, label: string): void {
  const fair = total / count;
  assert.equal(m.size, count, `${label}: every server used`);
  for (const [name, n] of m)
    assert.ok(Math.abs(n - fair) <= fair * tolerance, `${label}: ${name} got ${n}, fair ${fair} ±${tolerance * 100}%`);
}

// ------------------------------------------------------------------ roundrobin
test('roundrobin: weights 3:1 interleave smoothly (s1 s1 s2 s1) and split 3:1 over 4,000 picks', () => {
  const b = make(servers([3, 1]), 'roundrobin');
  assert.deepEqual(names(b, 8), ['s1', 's1', 's2', 's1', 's1', 's1', 's2', 's1']);
  const m = shares(Array.from({ length: 4000 }, () => b.pick(ANY)));
  assert.ok(Math.abs(m.get('s1')! - 3000) <= 90, `s1 ${m.get('s1')}`);
  assert.ok(Math.abs(m.get('s2')! - 1000) <= 30, `s2 ${m.get('s2')}`);
});

test('roundrobin: equal weights take turns and get equal shares', () => {
  const b = make(servers([1, 1, 1]), 'roundrobin');
  assert.deepEqual(names(b, 4), ['s1', 's2', 's3', 's1']);
  const m = shares(Array.from({ length: 3000 }, () => b.pick(ANY)));
  assert.deepEqual([...m.values()], [1000, 1000, 1000]);
});

test('roundrobin: a weight change applies at the next reset', () => {
  const list = servers([1, 1]);
  const b = make(list, 'roundrobin');
  list[1].weight = 3;
  b.reset(list);
  const m = shares(Array.from({ length: 400 }, () => b.pick(ANY)));
  assert.equal(m.get('s1'), 100);
  assert.equal(m.get('s2'), 300);
});

test('roundrobin and static-rr skip a server at maxconn while another has room', () => {
  for (const algo of ['roundrobin', 'static-rr']) {
    const list = servers([1, 1], { maxconn: 1 });
    const b = make(list, algo);
    list[0].active = 1;
    assert.deepEqual(names(b, 3), ['s2', 's2', 's2'], algo);
    list[1].active = 1;
    assert.ok(b.pick(ANY), `${algo}: all full still names a server to queue on`);
  }
});

test('static-rr: map order follows weights; live weight changes are ignored (static)', () => {
  const list = servers([3, 1]);
  const b = make(list, 'static-rr');
  assert.deepEqual(names(b, 8), ['s1', 's1', 's2', 's1', 's1', 's1', 's2', 's1']);
  list[1].weight = 30;
  b.reset(list);
  const m = shares(Array.from({ length: 400 }, () => b.pick(ANY)));
  assert.equal(m.get('s1'), 300);
});

// ------------------------------------------------------------------ leastconn
test('leastconn: sends new requests away from a server holding long requests', () => {
  const list = servers([1, 1, 1]);
  const b = make(list, 'leastconn');
  list[0].active = 1; // a long request on s1
  const a = b.pick(ANY)!;
  a.active++;
  const c = b.pick(ANY)!;
  c.active++;
  assert.deepEqual([a.name, c.name], ['s2', 's3']);
});

test('leastconn: counts the load other workers reported (peerActive)', () => {
  const list = servers([1, 1]);
  const b = make(list, 'leastconn');
  list[0].peerActive = 3; // long requests held by another worker
  assert.deepEqual(names(b, 3), ['s2', 's2', 's2']);
  list[1].active = 3;
  assert.equal(b.pick(ANY)!.name, 's1', 'equal cluster load, s1 next in turn');
  list[1].active = 4;
  assert.equal(b.pick(ANY)!.name, 's1');
});

test('leastconn: ties are broken round robin', () => {
  const b = make(servers([1, 1, 1]), 'leastconn');
  assert.deepEqual(names(b, 6), ['s1', 's2', 's3', 's1', 's2', 's3']);
});

test('leastconn: weights 3:1 hold concurrent load 3:1', () => {
  const list = servers([3, 1]);
  const b = make(list, 'leastconn');
  for (let i = 0; i < 400; i++) b.pick(ANY)!.active++;
  assert.ok(Math.abs(list[0].active - 300) <= 2, `s1 ${list[0].active}`);
});

test('leastconn: skips a server at maxconn', () => {
  const list = servers([1, 1], { maxconn: 2 });
  const b = make(list, 'leastconn');
  list[0].active = 2;
  list[1].active = 1;
  assert.deepEqual(names(b, 3), ['s2', 's2', 's2'], 'full s1 loses to a server with room');
  list[1].active = 3;
  assert.equal(b.pick(ANY)!.name, 's1', 'both full: the least loaded, for the caller to queue on');
});

// ------------------------------------------------------------------ source
for (const hashType of ['map-based', 'consistent'] as const) {
  test(`source (${hashType}): a client stays on one server; 2,000 clients spread within ±25%`, () => {
    const list = servers([1, 1, 1, 1]);
    const b = make(list, 'source', [], hashType);
    const picked: BalancedServer[] = [];
    for (let i = 0; i < 2000; i++) {
      const k = key({ src: ipv4(i * 7 + 1) });
      const s = b.pick(k)!;
      for (let r = 0; r < 3; r++) assert.equal(b.pick(k), s);
      picked.push(s);
    }
    assertFairShare(shares(picked), 2000, 4, 0.25, `source ${hashType}`);
  });
}

test('source: IPv4-mapped IPv6 hashes like IPv4; IPv6 parses; non-IP has no key', () => {
  assert.equal(addressHash('::ffff:10.1.2.3'), addressHash('10.1.2.3'));
  assert.equal(addressHash('10.1.2.3'), ((10 << 24) | (1 << 16) | (2 << 8) | 3) >>> 0);
  assert.equal(addressHash('2001:db8::1'), addressHash('2001:0db8:0:0:0:0:0:0001'));
  assert.equal(addressHash('::1'), 1);
  assert.equal(addressHash('/tmp/sock'), -1);
  assert.equal(addressHash('1.2.3'), -1);
  const b = make(servers([1, 1]), 'source');
  assert.ok(b.pick(key({ src: 'not-an-ip' })), 'no key falls back to round robin');
});

// ------------------------------------------------------------------ uri
test('uri: query ignored by default; whole, len and depth; absolute-form hashes like its path', () => {
  const list = servers([1, 1, 1, 1, 1, 1, 1, 1]);
  const on = (args: string[], uri: string): string => make(list, 'uri', args).pick(key({ uri }))!.name;
  const spread = (args: string[], uris: string[]): Set<string> => new Set(uris.map((u) => on(args, u)));
  assert.equal(on([], '/url1'), on([], '/url1?ignore=this-arg'));
  assert.equal(on([], '/url1'), on([], 'http://127.0.0.1/url1'));
  assert.equal(on([], '/url1?x'), on([], 'http://127.0.0.1:8080/url1?y'));
  // whole: the query counts, so 20 queries of one path land on several servers.
  const queries = Array.from({ length: 20 }, (_, i) => `/p?q=${i}`);
  assert.equal(spread([], queries).size, 1);
  assert.ok(spread(['whole'], queries).size > 1);
  // len 4: only "/abc" counts.
  const tails = Array.from({ length: 20 }, (_, i) => `/abc${i}/x`);
  assert.equal(spread(['len', '4'], tails).size, 1);
  assert.ok(spread([], tails).size > 1);
  // depth 1: only the first directory counts.
  const deep = Array.from({ length: 20 }, (_, i) => `/img/${i}/a.png`);
  assert.equal(spread(['depth', '1'], deep).size, 1);
  assert.ok(spread(['depth', '2'], deep).size > 1);
  assert.equal(on(['depth', '2'], '/img/1/a.png'), on(['depth', '2'], '/img/1/b.png'));
  assert.equal(sdbm('/img', 0, 4), sdbm('/img/1/a', 0, 4));
});

for (const hashType of ['map-based', 'consistent'] as const) {
  test(`uri (${hashType}): a path stays on one server; 2,000 paths spread within ±25%`, () => {
    const b = make(servers([1, 1, 1, 1]), 'uri', [], hashType);
    const picked: BalancedServer[] = [];
    for (let i = 0; i < 2000; i++) {
      const k = key({ uri: `/static/item-${i}.js?v=${i % 7}` });
      const s = b.pick(k)!;
      assert.equal(b.pick(key({ uri: `/static/item-${i}.js` })), s);
      picked.push(s);
    }
    assertFairShare(shares(picked), 2000, 4, 0.25, `uri ${hashType}`);
  });
}

// ------------------------------------------------------------------ consistent vs map-based
function remapped(algorithm: string, hashType: 'map-based' | 'consistent', n: number, keyOf: (i: number) => BalanceKey): number {
  const list = servers(new Array(n).fill(1));
  const b = make(list, algorithm, [], hashType);
  const before = Array.from({ length: 10000 }, (_, i) => b.pick(keyOf(i))!);
  const removed = list[Math.floor(n / 2)];
  b.reset(list.filter((s) => s !== removed));
  let moved = 0;
  for (let i = 0; i < before.length; i++) {
    const after = b.pick(keyOf(i))!;
    assert.notEqual(after, removed);
    if (after !== before[i]) moved++;
  }
  return moved / before.length;
}

for (const n of [4, 10]) {
  test(`consistent hashing remaps at most 1.5/N of keys when one of N=${n} servers is removed`, () => {
    for (const [algorithm, keyOf] of [
      ['source', (i: number) => key({ src: ipv4(i + 1) })],
      ['uri', (i: number) => key({ uri: `/k/${i}` })],
    ] as const) {
      const share = remapped(algorithm, 'consistent', n, keyOf);
      assert.ok(share <= 1.5 / n, `${algorithm}: ${share} moved, limit ${1.5 / n}`);
      assert.ok(share >= 0.5 / n, `${algorithm}: ${share} moved: the removed server held its share`);
    }
  });
}

test('map-based hashing remaps most keys when a server is removed', () => {
  assert.ok(remapped('uri', 'map-based', 4, (i) => key({ uri: `/k/${i}` })) > 0.5);
  assert.ok(remapped('source', 'map-based', 4, (i) => key({ src: ipv4(i + 1) })) > 0.5);
});

test('consistent hashing: weights 3:1 give about 3:1 of the keys', () => {
  const b = make(servers([3, 1]), 'uri', [], 'consistent');
  const m = shares(Array.from({ length: 4000 }, (_, i) => b.pick(key({ uri: `/w/${i}` }))));
  const ratio = m.get('s1')! / m.get('s2')!;
  assert.ok(ratio > 2.4 && ratio < 3.75, `ratio ${ratio}`);
});

test('hash weights: consistent moves keys only onto a server whose weight grew; map-based is static', () => {
  const list = servers([1, 1, 1, 1]);
  const keys = Array.from({ length: 4000 }, (_, i) => key({ uri: `/d/${i}` }));
  const ring = make(list, 'uri', [], 'consistent');
  const map = make(list, 'uri', [], 'map-based');
  const ringBefore = keys.map((k) => ring.pick(k));
  const mapBefore = keys.map((k) => map.pick(k));
  list[0].weight = 2;
  ring.reset(list);
  map.reset(list);
  let moved = 0;
  keys.forEach((k, i) => {
    const s = ring.pick(k);
    if (s !== ringBefore[i]) {
      moved++;
      assert.equal(s, list[0], 'a key only moves to the heavier server');
    }
    assert.equal(map.pick(k), mapBefore[i], 'map-based ignores live weights');
  });
  // s1 goes from 1/4 to 2/5 of the keys: about 15% move.
  assert.ok(moved > 0.08 * keys.length && moved < 0.22 * keys.length, `moved ${moved}`);
});

// ------------------------------------------------------------------ url_param / hdr
test('url_param: hashes the value; absent parameter goes round robin; check_post refused', () => {
  const list = servers([1, 1, 1, 1]);
  for (const hashType of ['map-based', 'consistent'] as const) {
    const b = make(list, 'url_param', ['user'], hashType);
    const s = b.pick(key({ uri: '/a?x=1&user=alice&y=2' }));
    assert.equal(b.pick(key({ uri: '/b?user=alice' })), s, hashType);
    assert.equal(b.pick(key({ uri: '/b?user=alice#frag' })), s, hashType);
    const users = new Set(Array.from({ length: 40 }, (_, i) => b.pick(key({ uri: `/?user=u${i}` }))!.name));
    assert.ok(users.size > 1, hashType);
    const rr = names(b, 4, key({ uri: '/a?username=alice&xuser=bob' }));
    assert.equal(new Set(rr).size, 4, `${hashType}: no parameter → round robin (${rr})`);
  }
  const def = balancers.get('url_param')!;
  assert.match(def.checkArgs([])!, /parameter name/);
  assert.match(def.checkArgs(['user', 'check_post'])!, /not supported/);
});

test('hdr(NAME): hashes the header; absent goes round robin; use_domain_only', () => {
  const list = servers([1, 1, 1, 1]);
  const b = make(list, 'hdr', ['X-Tenant']);
  const s = b.pick(key({ headers: { 'x-tenant': 'acme' } }));
  for (let i = 0; i < 5; i++) assert.equal(b.pick(key({ headers: { 'x-tenant': 'acme' } })), s);
  assert.equal(new Set(names(b, 4)).size, 4, 'no header → round robin');
  const d = make(list, 'hdr', ['host', 'use_domain_only'], 'consistent');
  assert.equal(
    d.pick(key({ headers: { host: 'www.example.com' } })),
    d.pick(key({ headers: { host: 'api.example.com' } })),
  );
  const def = balancers.get('hdr')!;
  assert.ok(def.checkArgs([]));
  assert.ok(def.checkArgs(['host', 'bogus']));
  // The config's `balance` line parser hands hdr(NAME) and random(N) over as arguments.
  const line = parseBalanceLine('hdr(Host) use_domain_only');
  assert.equal(balancers.get(line.algorithm)!.checkArgs(line.args), undefined);
  const r = parseBalanceLine('random(3)');
  assert.equal(balancers.get(r.algorithm)!.checkArgs(r.args), undefined);
});

// ------------------------------------------------------------------ random / first
test('random: with draws, picks the lesser-loaded server most of the time', () => {
  const fraction = (args: string[]): number => {
    const list = servers([1, 1]);
    list[0].active = 10;
    const b = make(list, 'random', args);
    let light = 0;
    for (let i = 0; i < 2000; i++) if (b.pick(ANY) === list[1]) light++;
    return light / 2000;
  };
  // P(light) = 1 - 0.5^draws: 0.5, 0.75, 0.999.
  assert.ok(Math.abs(fraction(['1']) - 0.5) < 0.06);
  assert.ok(Math.abs(fraction([]) - 0.75) < 0.06);
  assert.ok(fraction(['10']) > 0.99);
  assert.ok(balancers.get('random')!.checkArgs(['0']));
});

test('random: weights 3:1 give about 3:1 of the picks (single draw)', () => {
  const b = make(servers([3, 1]), 'random', ['1']);
  const m = shares(Array.from({ length: 4000 }, () => b.pick(ANY)));
  assert.ok(Math.abs(m.get('s1')! - 3000) < 200, `s1 ${m.get('s1')}`);
});

test('first: fills the lowest id to maxconn, then the next', () => {
  // Ids reversed: s3 has id 1, so it is filled first.
  const list = servers([1, 1, 1], { maxconn: 2, ids: [3, 2, 1] });
  const b = make(list, 'first');
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const s = b.pick(ANY)!;
    s.active++;
    order.push(s.name);
  }
  assert.deepEqual(order, ['s3', 's3', 's2', 's2', 's1', 's1']);
  list[1].active--; // s2 frees a slot
  assert.equal(b.pick(ANY)!.name, 's2');
});

// ------------------------------------------------------------------ every algorithm
const EVERY: [string, string[]][] = [
  ['roundrobin', []],
  ['static-rr', []],
  ['leastconn', []],
  ['source', []],
  ['uri', []],
  ['url_param', ['id']],
  ['hdr', ['x-k']],
  ['random', []],
  ['first', []],
];
const HASHED = new Set(['source', 'uri', 'url_param', 'hdr']);

test('every algorithm is registered and rejects bad arguments', () => {
  assert.deepEqual([...balancers.keys()].sort(), EVERY.map(([a]) => a).sort());
  for (const [algorithm] of EVERY) assert.ok(balancers.get(algorithm)!.checkArgs(['bogus', 'x']), algorithm);
  assert.ok(balancers.get('uri')!.checkArgs(['len']));
  assert.ok(balancers.get('uri')!.checkArgs(['depth', '-1']));
  assert.equal(balancers.get('uri')!.checkArgs(['whole', 'len', '10', 'depth', '3', 'path-only']), undefined);
});

function randomKey(rnd: () => number): BalanceKey {
  const n = Math.floor(rnd() * 1e6);
  return key({ src: ipv4(n), uri: `/p/${n}?id=${n}`, headers: { 'x-k': String(n) } });
}

test('property: picks come from the eligible set, never weight 0, and avoid is honoured', () => {
  const rnd = prng(42);
  for (const [algorithm, args] of EVERY) {
    for (const hashType of HASHED.has(algorithm) ? (['map-based', 'consistent'] as const) : (['map-based'] as const)) {
      for (let round = 0; round < 20; round++) {
        const count = 1 + Math.floor(rnd() * 8);
        const list = servers(Array.from({ length: count }, () => Math.floor(rnd() * 5)));
        // reset is also given weight-0 servers: the balancer must exclude them itself.
        const eligible = list.filter(() => rnd() < 0.8);
        const b = make(list, algorithm, args, hashType, eligible);
        const usable = eligible.filter((s) => s.weight > 0);
        for (let i = 0; i < 50; i++) {
          const k = randomKey(rnd);
          const s = b.pick(k);
          const label = `${algorithm}/${hashType} weights ${list.map((x) => x.weight)} eligible ${eligible.map((x) => x.name)}`;
          if (usable.length === 0) {
            assert.equal(s, undefined, label);
            continue;
          }
          assert.ok(s && usable.includes(s as TestServer), `${label}: picked ${s?.name}`);
          const again = b.pick(k, s);
          if (usable.length > 1) assert.notEqual(again, s, `${label}: avoid ${s.name}`);
          else assert.equal(again, s, `${label}: the only server is returned even when avoided`);
          if (HASHED.has(algorithm)) assert.equal(b.pick(k), s, `${label}: stable`);
        }
      }
    }
  }
});

test('property: non-hashing algorithms pick a server with room whenever one exists', () => {
  const rnd = prng(7);
  for (const algorithm of ['roundrobin', 'static-rr', 'leastconn', 'first']) {
    for (let round = 0; round < 50; round++) {
      const list = servers(Array.from({ length: 2 + Math.floor(rnd() * 6) }, () => 1 + Math.floor(rnd() * 4)), { maxconn: 2 });
      const b = make(list, algorithm);
      for (let i = 0; i < 40; i++) {
        for (const s of list) s.active = Math.floor(rnd() * 3);
        const avoid = rnd() < 0.5 ? list[Math.floor(rnd() * list.length)] : undefined;
        const s = b.pick(ANY, avoid)!;
        const room = list.filter((x) => x.active < x.maxconn);
        const label = `${algorithm}: active ${list.map((x) => x.active)} avoid ${avoid?.name} picked ${s.name}`;
        if (room.some((x) => x !== avoid)) assert.ok(s.active < s.maxconn && s !== avoid, label);
        else if (room.length) assert.equal(s, avoid, label);
      }
    }
  }
});

test('layer-7 hashing in a tcp backend balances round robin; source still hashes', () => {
  const list = servers([1, 1, 1]);
  for (const [algorithm, args] of [['uri', []], ['url_param', ['id']], ['hdr', ['host']]] as const) {
    const b = balancers.get(algorithm)!.create({ ...backendFor(list, algorithm, [...args]), mode: 'tcp' });
    b.reset(list);
    assert.deepEqual(names(b, 3, key({ uri: '' })), ['s1', 's2', 's3'], algorithm);
  }
  const src = balancers.get('source')!.create({ ...backendFor(list, 'source'), mode: 'tcp' });
  src.reset(list);
  assert.equal(new Set(names(src, 3, key({ src: '10.0.0.9' }))).size, 1);
});

test('hashing keeps affinity on a full server (the caller queues)', () => {
  const list = servers([1, 1, 1, 1], { maxconn: 1 });
  for (const hashType of ['map-based', 'consistent'] as const) {
    const b = make(list, 'uri', [], hashType);
    const k = key({ uri: '/same' });
    const s = b.pick(k)!;
    s.active = 1;
    assert.equal(b.pick(k), s, hashType);
    s.active = 0;
  }
});

test('sdbm and fullHash match the HAProxy hash functions', () => {
  assert.equal(sdbm('a', 0, 1), 97);
  assert.equal(sdbm('ab', 0, 2), 98 + 97 * 64 + 97 * 65536 - 97);
  assert.equal(sdbm('xaby', 1, 3), sdbm('ab', 0, 2));
  // Reference values computed with HAProxy's C full_hash (uint32 arithmetic).
  assert.equal(fullHash(0), fullHashReference(0));
  assert.equal(fullHash(65537), fullHashReference(65537));
  assert.equal(fullHash(0xffffffff), fullHashReference(0xffffffff));
});

/** A BigInt transcription of HAProxy's full_hash, as an independent reference. */
function fullHashReference(value: number): number {
  const M = 0xffffffffn;
  let a = BigInt(value) & M;
  a = ((a + 0x7ed55d16n) + (a << 12n)) & M;
  a = (a ^ 0xc761c23cn ^ (a >> 19n)) & M;
  a = ((a + 0x165667b1n) + (a << 5n)) & M;
  a = ((a + 0xd3a2646cn) ^ (a << 9n)) & M;
  a = ((a + 0xfd7046c5n) + (a << 3n)) & M;
  a = (a ^ 0xb55a4f09n ^ (a >> 16n)) & M;
  return Number((a * 3221225473n) & M);
}
