/**
 * A stick table's entries, the same structure in the primary (which owns the
 * counters, ./primary.ts) and in each worker (its view, ./worker.ts):
 * - a Map by key, and a list in least-recently-touched order: a touch moves an entry
 *   to the end and pushes its expiry to `expire` from now, so the first entries are
 *   both the least recently used (evicted at `size`) and the first to expire (one
 *   sweep from the head). (A Map's own order would do, but deleting at its head
 *   leaves holes every later walk from the head skips: 6 us per eviction under a flood.)
 * - an entry in use (tracked by a live connection) is neither evicted nor expired, as
 *   in HAProxy: when `size` entries are all in use, a new key is not stored.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import type { StickTableDef } from '../config/model';
import { freqAdd, freqRead, freqSet, freqWait } from './freq';
import { DATA_TYPES, Layout, USE } from './layout';

/** Entries looked at for one not in use before a new key gives up (HAProxy scans a bounded number too). */
const EVICTION_SCAN = 32;

export class StickEntry {
  /** ms since the epoch after which the entry is gone; 0 = never. */
  expires = 0;
  /** `stick on`: the name of the server the key sticks to (HAProxy's server_key), '' when none. */
  server = '';
  /** Worker: increments not yet sent to the primary (a delta, ./layout.ts), and those sent but not confirmed. */
  unsent: number[] | null = null;
  inflight: number[] | null = null;
  /** Worker: a server stored here and not yet sent. */
  unsentServer: string | null = null;
  /** Neighbours in the table's least-recently-touched list (null at the ends, and once removed). */
  prev: StickEntry | null = null;
  next: StickEntry | null = null;

  constructor(
    readonly key: string,
    /** The values (./layout.ts); a worker's are the primary's last word. */
    public values: number[],
  ) {}
}

export class StickStore {
  private readonly byKey = new Map<string, StickEntry>();
  /** Least recently touched first. */
  private head: StickEntry | null = null;
  private tail: StickEntry | null = null;
  readonly layout: Layout;

  constructor(public def: StickTableDef) {
    this.layout = new Layout(def);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The entries, least recently touched first. */
  *entries(): IterableIterator<StickEntry> {
    for (let e = this.head; e; ) {
      const next = e.next;
      yield e;
      e = next;
    }
  }

  /** The live entry of `key`; an expired one is removed. */
  get(key: string, now: number): StickEntry | undefined {
    const e = this.byKey.get(key);
    if (e && e.expires !== 0 && e.expires <= now && !this.inUse(e)) {
      this.delete(e);
      return undefined;
    }
    return e;
  }

  /**
   * The entry of `key`, made when missing (the least recently used entry not in use
   * goes when the table is full). Undefined when every entry looked at is in use,
   * unless `force` (the primary, which must hold what workers count).
   */
  obtain(key: string, now: number, force = false): StickEntry | undefined {
    const found = this.get(key, now);
    if (found) return found;
    if (this.byKey.size >= this.def.size && !this.evictOne(force)) return undefined;
    const e = new StickEntry(key, new Array<number>(this.layout.slots).fill(0));
    if (this.def.expire) e.expires = now + this.def.expire;
    this.byKey.set(key, e);
    this.append(e);
    return e;
  }

  private evictOne(force: boolean): boolean {
    let scanned = 0;
    for (let e = this.head; e && scanned < EVICTION_SCAN; e = e.next, scanned++) {
      if (!this.inUse(e)) {
        this.delete(e);
        return true;
      }
    }
    if (!force || !this.head) return false;
    this.delete(this.head);
    return true;
  }

  /** A smaller `size` (reload): the least recently used entries go. */
  trim(): void {
    while (this.byKey.size > this.def.size) this.evictOne(true);
  }

  /** Used now: its expiry starts again and it becomes the most recently used. */
  touch(e: StickEntry, now: number): void {
    if (this.def.expire) e.expires = now + this.def.expire;
    this.moveToEnd(e);
  }

  /** Most recently used, its expiry unchanged (a worker learning the primary's entry); back in the table if it was removed. */
  moveToEnd(e: StickEntry): void {
    if (this.byKey.get(e.key) !== e) {
      const other = this.byKey.get(e.key);
      if (other) this.delete(other);
      this.byKey.set(e.key, e);
    } else if (e === this.tail) return;
    else this.unlink(e);
    this.append(e);
  }

  /** Tracked by a connection somewhere (with this worker's unconfirmed trackers). */
  inUse(e: StickEntry): boolean {
    return e.values[USE] + (e.unsent ? e.unsent[USE] : 0) + (e.inflight ? e.inflight[USE] : 0) > 0;
  }

  /** The entry stored under `key` (expired or not). */
  peek(key: string): StickEntry | undefined {
    return this.byKey.get(key);
  }

  remove(key: string): boolean {
    const e = this.byKey.get(key);
    if (e) this.delete(e);
    return e !== undefined;
  }

  /** Drops the expired entries (those in use live on: their expiry starts again). */
  sweep(now: number): void {
    if (!this.def.expire) return;
    const last = this.tail;
    for (let e = this.head; e; ) {
      if (e.expires > now) return;
      const next = e.next;
      if (this.inUse(e)) this.touch(e, now);
      else this.delete(e);
      if (e === last) return;
      e = next;
    }
  }

  private delete(e: StickEntry): void {
    this.byKey.delete(e.key);
    this.unlink(e);
  }

  private unlink(e: StickEntry): void {
    if (e.prev) e.prev.next = e.next;
    else if (this.head === e) this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else if (this.tail === e) this.tail = e.prev;
    e.prev = e.next = null;
  }

  private append(e: StickEntry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  /** Adds a delta (./layout.ts) to the values; gauges do not go below 0. */
  apply(e: StickEntry, delta: number[], now: number): void {
    const v = e.values;
    const { slot, period, stored } = this.layout;
    v[USE] = Math.max(0, v[USE] + delta[USE]);
    for (let i = 0; i < stored.length; i++) {
      const type = stored[i];
      const at = slot[type];
      switch (DATA_TYPES[type].kind) {
        case 'counter':
          v[at] += delta[at];
          break;
        case 'gauge':
          v[at] = Math.max(0, v[at] + delta[at]);
          break;
        case 'rate':
          if (delta[at + 1]) freqAdd(v, at, period[type], now, delta[at + 1]);
          break;
        case 'tag':
          if (delta[at] !== 0) v[at] = delta[at] - 1;
          break;
      }
    }
  }

  /** The value of a stored data type (DATA_TYPES index), with this worker's unconfirmed increments. */
  read(e: StickEntry, type: number, now: number): number {
    const at = this.layout.slot[type];
    const kind = DATA_TYPES[type].kind;
    const count = kind === 'rate' ? at + 1 : at;
    if (kind === 'tag') return tagRead(e, at);
    const pend = (e.unsent ? e.unsent[count] : 0) + (e.inflight ? e.inflight[count] : 0);
    if (kind === 'rate') return freqRead(e.values, at, this.layout.period[type], now, pend);
    return e.values[at] + pend;
  }

  /** ms until one more event of rate `type` keeps it at most `freq` per period (0: now), with unconfirmed increments. */
  wait(e: StickEntry, type: number, freq: number, now: number): number {
    const at = this.layout.slot[type];
    const pend = (e.unsent ? e.unsent[at + 1] : 0) + (e.inflight ? e.inflight[at + 1] : 0);
    return freqWait(e.values, at, this.layout.period[type], now, freq, pend);
  }

  /** `set table … data.<type> V`. */
  set(e: StickEntry, type: number, value: number, now: number): void {
    const at = this.layout.slot[type];
    if (DATA_TYPES[type].kind === 'rate') freqSet(e.values, at, now, value);
    else e.values[at] = value;
  }
}

/**
 * A sample as a key of a table of `type` (HAProxy's smp_to_stkey): ip tables take
 * IPv4 addresses, ipv6 tables IPv6 ones (IPv4 mapped into them), integer tables
 * unsigned 32-bit integers, string tables the text cut to `keyLen`. Undefined when
 * the sample cannot be a key (nothing is tracked or stored for it).
 */
export function tableKey(def: Pick<StickTableDef, 'type' | 'keyLen'>, sample: string | number | boolean | string[] | undefined): string | undefined {
  const v = Array.isArray(sample) ? sample[0] : sample;
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  switch (def.type) {
    case 'ip':
      if (isIPv4(s)) return s;
      return s.startsWith('::ffff:') && isIPv4(s.slice(7)) ? s.slice(7) : undefined;
    case 'ipv6':
      if (isIPv4(s)) return `::ffff:${s}`;
      // One text per address (HAProxy keys by the binary address): `2001:DB8:0::1` is `2001:db8::1`.
      return isIPv6(s) ? new SocketAddress({ address: s, family: 'ipv6' }).address : undefined;
    case 'integer': {
      const n = typeof v === 'number' ? v : /^\d+$/.test(s) ? Number(s) : NaN;
      return Number.isInteger(n) && n >= 0 ? String(n % 2 ** 32) : undefined;
    }
    case 'string':
      return s.length > def.keyLen ? s.slice(0, def.keyLen) : s;
  }
}

/** A tag's value: this worker's last unconfirmed set (delta slot 1 + value), else the primary's. */
function tagRead(e: StickEntry, at: number): number {
  if (e.unsent && e.unsent[at] !== 0) return e.unsent[at] - 1;
  if (e.inflight && e.inflight[at] !== 0) return e.inflight[at] - 1;
  return e.values[at];
}
