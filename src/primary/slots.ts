/**
 * maxconn across workers: the primary owns each limited server's slots and leases
 * them to the workers of a generation (worker side: src/worker/cluster-state.ts).
 *
 * - A worker with requests waiting for a server reports how many (`slot-want`).
 *   Free slots go to waiting workers one at a time, the one served longest ago
 *   first, so no worker starves and the leases of all workers
 *   never add up to more than the server's maxconn.
 * - A worker keeps the slots it was granted (no IPC per request) until another
 *   worker waits for them: then every worker holding slots is told to keep at most
 *   `keep` = maxconn / (workers holding or wanting) and gives idle slots above that
 *   back (`slot-return`), at once or when its requests end. When nobody waits any
 *   more, the limit is lifted (`keep` = -1).
 * - A worker that exits gives its slots back. When maxconn is lowered (runtime API,
 *   agent) below what is leased, holders are asked to keep their share as well.
 * During a reload the old and the new generation each have the full maxconn.
 */
import type { Worker } from 'node:cluster';
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages';

interface Pool {
  limit: number;
  held: Map<Worker, number>;
  want: Map<Worker, number>;
  /** When each worker last got a slot (grant count), for round-robin turns. */
  servedAt: Map<Worker, number>;
  grants: number;
  /** Last keep sent (-1 = no limit). */
  keep: number;
}

type SlotMessage = Extract<WorkerToPrimary, { type: 'slot-want' | 'slot-return' }>;

export class SlotBroker {
  /** By `<generation> <backend/server>`. */
  private readonly pools = new Map<string, Pool>();

  onMessage(worker: Worker, generation: number, msg: SlotMessage): void {
    const id = `${generation} ${msg.server}`;
    let pool = this.pools.get(id);
    if (!pool) this.pools.set(id, (pool = { limit: msg.limit, held: new Map(), want: new Map(), servedAt: new Map(), grants: 0, keep: -1 }));
    pool.limit = msg.limit;
    if (msg.type === 'slot-want') pool.want.set(worker, msg.want);
    else pool.held.set(worker, Math.max(0, (pool.held.get(worker) ?? 0) - msg.count));
    this.serve(msg.server, pool);
  }

  workerExited(worker: Worker): void {
    for (const [id, pool] of this.pools) {
      if (!pool.held.delete(worker) && !pool.want.delete(worker)) continue;
      pool.want.delete(worker);
      pool.servedAt.delete(worker);
      if (pool.held.size === 0 && pool.want.size === 0) this.pools.delete(id);
      else this.serve(id.slice(id.indexOf(' ') + 1), pool);
    }
  }

  /** Leased slots of a server in a generation (tests, stats). */
  leased(generation: number, server: string): number {
    let n = 0;
    for (const c of this.pools.get(`${generation} ${server}`)?.held.values() ?? []) n += c;
    return n;
  }

  private serve(server: string, pool: Pool): void {
    let used = 0;
    for (const c of pool.held.values()) used += c;
    let free = pool.limit - used;
    const grants = new Map<Worker, number>();
    while (free > 0) {
      const next = longestWaiting(pool.want, pool.servedAt);
      if (!next) break;
      pool.servedAt.set(next, pool.grants++);
      pool.want.set(next, pool.want.get(next)! - 1);
      pool.held.set(next, (pool.held.get(next) ?? 0) + 1);
      grants.set(next, (grants.get(next) ?? 0) + 1);
      free--;
    }
    let waiting = false;
    for (const n of pool.want.values()) if (n > 0) waiting = true;
    const members = new Set([...pool.held.keys(), ...pool.want.keys()]);
    // Also when maxconn was lowered below what is leased (runtime API, agent).
    const keep = waiting || free < 0 ? Math.floor(pool.limit / Math.max(1, members.size)) : -1;
    for (const [w, count] of grants) send(w, { type: 'slot-grant', server, count, keep });
    if (keep !== pool.keep) {
      pool.keep = keep;
      for (const w of members) if (!grants.has(w)) send(w, { type: 'slot-keep', server, keep });
    }
  }
}

/** Of the workers that want some (`want` > 0), the one served longest ago (or never), for fair turns. */
export function longestWaiting(want: Map<Worker, number>, servedAt: Map<Worker, number>): Worker | undefined {
  let next: Worker | undefined;
  let nextAt = Infinity;
  for (const [w, n] of want) {
    const at = servedAt.get(w) ?? -1;
    if (n > 0 && at < nextAt) {
      next = w;
      nextAt = at;
    }
  }
  return next;
}

/** A message to a worker still connected. */
export function send(w: Worker, msg: PrimaryToWorker): void {
  if (w.isConnected()) w.send(msg);
}
