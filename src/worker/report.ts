/**
 * Worker side of the counters: once a second, send the primary what changed since the
 * previous report. The data path only increments plain numbers (counters.ts); this
 * timer reads them off the event loop's critical path and nothing ever waits for the
 * primary.
 */
import type { CounterReport, WorkerToPrimary } from '../ipc/messages';
import { type Counters, newCounters } from './counters';
import type { Runtime } from './runtime';

const TEMPLATE = newCounters();
/** The keys of Counters in report order. */
export const COUNTER_KEYS = Object.keys(TEMPLATE) as (keyof Counters)[];
/** Keys holding one number (the others hold histogram buckets). */
export type NumericKey = { [K in keyof Counters]: Counters[K] extends number ? K : never }[keyof Counters];
/** Keys holding an array of histogram buckets. */
export type BucketsKey = Exclude<keyof Counters, NumericKey>;
/** How many values each key takes in a report array: 1 for a number, the bucket count for a histogram. */
export const COUNTER_WIDTHS: Readonly<Record<keyof Counters, number>> = Object.fromEntries(
  COUNTER_KEYS.map((k) => {
    const v = TEMPLATE[k];
    return [k, typeof v === 'number' ? 1 : v.length];
  }),
) as Record<keyof Counters, number>;
let slots = 0;
/** Where each key starts in a report array (COUNTER_KEYS order, histograms flattened in place). */
export const COUNTER_OFFSETS: Readonly<Record<keyof Counters, number>> = Object.fromEntries(
  COUNTER_KEYS.map((k) => {
    const at = slots;
    slots += COUNTER_WIDTHS[k];
    return [k, at];
  }),
) as Record<keyof Counters, number>;
/** Length of a report array. */
export const COUNTER_SLOTS = slots;
/** Keys reported as absolute per-worker values rather than deltas. */
export const GAUGE_KEYS: ReadonlySet<NumericKey> = new Set<NumericKey>(['sessCur', 'sessMax', 'queueCur', 'queueMax']);

const REPORT_INTERVAL = 1000;
const GAUGE_FLAGS = COUNTER_KEYS.map((k) => GAUGE_KEYS.has(k as NumericKey));

interface Tracked {
  kind: keyof CounterReport;
  name: string;
  counters: Counters;
  /** Values at the previous report. */
  last: Float64Array;
}

type Send = (msg: WorkerToPrimary) => void;

function sendToPrimary(msg: WorkerToPrimary): void {
  if (process.connected) process.send?.(msg);
}

/**
 * Starts the 1 s reports to the primary (or to `send`, for in-process use); returns
 * stop(), which sends a final report so nothing counted is lost.
 */
export function startCounterReports(runtime: Runtime, generation: number, send: Send = sendToPrimary, interval = REPORT_INTERVAL): () => void {
  const tracked: Tracked[] = [];
  const track = (kind: keyof CounterReport, name: string, counters: Counters) =>
    tracked.push({ kind, name, counters, last: new Float64Array(COUNTER_SLOTS) });
  for (const f of runtime.frontends) track('frontends', f.name, f.counters);
  for (const b of runtime.backends.values()) {
    track('backends', b.name, b.counters);
    for (const s of b.servers) track('servers', `${b.name}/${s.name}`, s.counters);
  }
  const report = () => {
    const delta = collectDelta(tracked);
    if (delta) send({ type: 'counters', generation, delta });
  };
  const timer = setInterval(report, interval);
  timer.unref();
  return () => {
    clearInterval(timer);
    report();
  };
}

/** The changes since the last call, or undefined when nothing changed. */
function collectDelta(tracked: Tracked[]): CounterReport | undefined {
  let delta: CounterReport | undefined;
  for (const t of tracked) {
    let changed = false;
    const values = new Array<number>(COUNTER_SLOTS);
    let slot = 0;
    for (let k = 0; k < COUNTER_KEYS.length; k++) {
      const v = t.counters[COUNTER_KEYS[k]];
      if (typeof v === 'number') {
        if (v !== t.last[slot]) changed = true;
        values[slot] = GAUGE_FLAGS[k] ? v : v - t.last[slot];
        t.last[slot++] = v;
        continue;
      }
      for (let b = 0; b < v.length; b++, slot++) {
        if (v[b] !== t.last[slot]) changed = true;
        values[slot] = v[b] - t.last[slot];
        t.last[slot] = v[b];
      }
    }
    if (!changed) continue;
    delta ??= { frontends: {}, backends: {}, servers: {} };
    delta[t.kind][t.name] = values;
  }
  return delta;
}
