/**
 * The worker side of maxconn slots leased from the primary (src/primary/slots.ts):
 * a worker reports how many requests wait for a limited server (`slot-want`),
 * receives slots (`slot-grant`) and gives idle ones back (`slot-return`) when the
 * primary asks it to keep at most `keep` of them because other workers wait
 * (`slot-keep`). Only used with more than one worker; one worker owns all slots
 * itself. (Stick tables have their own exchange: src/stick/worker.ts.)
 */
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages';
import type { Runtime, ServerRuntime } from './runtime';

let runtime: Runtime | undefined;
let listening = false;
const dirty = new Set<ServerRuntime>();
let flushScheduled = false;

/** Called by each Runtime: true when its servers' slots are leased from the primary. */
export function leaseSlots(rt: Runtime, workers: number): boolean {
  if (workers <= 1 || typeof process.send !== 'function') return false;
  runtime = rt;
  if (!listening) {
    listening = true;
    process.on('message', onMessage);
  }
  return true;
}

function send(m: WorkerToPrimary): void {
  if (process.connected) process.send!(m);
}

/** The queue length of a limited server changed: tell the primary (once per tick). */
export function reportWant(s: ServerRuntime): void {
  if (s.maxconn === 0 || s.queued === s.reportedWant) return;
  dirty.add(s);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushWants);
  }
}

function flushWants(): void {
  flushScheduled = false;
  for (const s of dirty) {
    if (s.queued === s.reportedWant) continue;
    s.reportedWant = s.queued;
    send({ type: 'slot-want', server: s.key, want: s.queued, limit: s.maxconn });
  }
  dirty.clear();
}

export function returnSlots(s: ServerRuntime, count: number): void {
  s.slots -= count;
  send({ type: 'slot-return', server: s.key, count, limit: s.maxconn });
}

function serverOf(key: string): ServerRuntime | undefined {
  const slash = key.indexOf('/');
  return runtime?.backends.get(key.slice(0, slash))?.byName.get(key.slice(slash + 1));
}

function onMessage(m: PrimaryToWorker): void {
  if (typeof m !== 'object' || m === null) return;
  switch (m.type) {
    case 'slot-grant': {
      const s = serverOf(m.server);
      if (!s) return;
      s.reportedWant = Math.max(0, s.reportedWant - m.count);
      s.keep = m.keep;
      s.backend.granted(s, m.count);
      return;
    }
    case 'slot-keep': {
      const s = serverOf(m.server);
      if (s) s.backend.setKeep(s, m.keep);
      return;
    }
  }
}
