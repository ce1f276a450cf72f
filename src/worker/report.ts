/**
 * Worker side of the counters: once a second, send the primary what changed since the
 * previous report. The data path only increments plain numbers (counters.ts); this
 * timer reads them off the event loop's critical path and nothing ever waits for the
 * primary.
 */
import type { CounterReport, WorkerToPrimary } from '../ipc/messages';
import { type Counters, newCounters } from './counters';
import type { Runtime } from './runtime';

/** The order of values in a CounterReport array (every key of Counters). */
export const COUNTER_KEYS = Object.keys(newCounters()) as (keyof Counters)[];
/** Keys reported as absolute per-worker values rather than deltas. */
export const GAUGE_KEYS: ReadonlySet<keyof Counters> = new Set<keyof Counters>(['sessCur', 'sessMax', 'queueCur', 'queueMax']);

const REPORT_INTERVAL = 1000;
const GAUGE_INDEXES = COUNTER_KEYS.map((k) => GAUGE_KEYS.has(k));

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
    tracked.push({ kind, name, counters, last: new Float64Array(COUNTER_KEYS.length) });
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
    const values = new Array<number>(COUNTER_KEYS.length);
    for (let i = 0; i < COUNTER_KEYS.length; i++) {
      const now = t.counters[COUNTER_KEYS[i]];
      if (now !== t.last[i]) changed = true;
      values[i] = GAUGE_INDEXES[i] ? now : now - t.last[i];
      t.last[i] = now;
    }
    if (!changed) continue;
    delta ??= { frontends: {}, backends: {}, servers: {} };
    delta[t.kind][t.name] = values;
  }
  return delta;
}
