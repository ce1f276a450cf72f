/**
 * What a node does with a peer's entries (the semantics README.md's "Peers" states):
 * - increments (`upd`) add to the entry, as a worker's batch does: two nodes counting
 *   the same key converge on the sum, so a limit holds on the total traffic;
 * - a resync (`sync`) merges value by value, keeping the larger: replaying it is
 *   harmless (no count doubles) and a node that rejoins empty gets the whole entry;
 * - values an operator set (`set`) replace the entry's, as HAProxy's peers do.
 * The gauges (use, conn_cur) are each node's own live connections and are never
 * learned (HAProxy's peers do not learn conn_cur either).
 */
import { freqRead } from '../stick/freq';
import { DATA_TYPES } from '../stick/layout';
import type { StickEntry, StickStore } from '../stick/store';
import { fromWire, type WireDelta, type WireEntry } from './wire';

function wellFormed(values: unknown, slots: number): values is number[] {
  return Array.isArray(values) && values.length === slots && values.every((n) => typeof n === 'number' && Number.isFinite(n));
}

/** Adds a peer's increments; the entries changed, or undefined when the message is malformed. */
export function addDeltas(store: StickStore, list: WireDelta[], now: number): StickEntry[] | undefined {
  const { slots, gauges } = store.layout;
  const changed: StickEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || !wellFormed(item[2], slots)) return undefined;
    const [key, server, delta] = item;
    for (const g of gauges) delta[g] = 0;
    // A table full of entries in use here keeps them: the peer's new key is not stored.
    const e = store.obtain(key, now);
    if (!e) continue;
    store.apply(e, delta, now);
    if (typeof server === 'string') e.server = server;
    store.touch(e, now);
    changed.push(e);
  }
  return changed;
}

/** Takes a peer's entries as values, merged (`max`) or replacing (`set`); undefined when malformed. */
export function takeEntries(store: StickStore, list: WireEntry[], mode: 'max' | 'set', now: number): StickEntry[] | undefined {
  const { slots, stored, slot, period } = store.layout;
  const changed: StickEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'number' || typeof item[2] !== 'string' || !wellFormed(item[3], slots)) return undefined;
    const [key, expiresIn, server, wire] = item;
    const remote = fromWire(wire, store.layout, now);
    const fresh = store.get(key, now) === undefined;
    const e = store.obtain(key, now);
    if (!e) continue;
    const v = e.values;
    for (const type of stored) {
      const at = slot[type];
      switch (DATA_TYPES[type].kind) {
        case 'gauge':
          break;
        case 'rate':
          if (mode === 'set' || freqRead(remote, at, period[type], now, 0) > freqRead(v, at, period[type], now, 0)) {
            v[at] = remote[at];
            v[at + 1] = remote[at + 1];
            v[at + 2] = remote[at + 2];
          }
          break;
        default:
          v[at] = mode === 'set' ? remote[at] : Math.max(v[at], remote[at]);
      }
    }
    if (server && (mode === 'set' || !e.server)) e.server = server;
    if (store.def.expire && expiresIn > 0) e.expires = mode === 'set' || fresh ? now + expiresIn : Math.max(e.expires, now + expiresIn);
    store.moveToEnd(e);
    changed.push(e);
  }
  return changed;
}
