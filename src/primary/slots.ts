/**
 * maxconn across workers: the primary owns each limited server's slots and leases
 * them to the workers of a generation (worker side: src/worker/cluster-state.ts).
 *
 * - A worker with requests waiting for a server reports how many (`slot-want`).
 *   Free slots go to waiting workers one at a time in turn, so the leases of all
 *   workers never add up to more than the server's maxconn.
 * - A worker keeps the slots it was granted (no IPC per request) until another
 *   worker waits for them: then every worker holding slots is told to keep at most
 *   `keep` = maxconn / (workers holding or wanting) and gives idle slots above that
 *   back (`slot-return`), at once or when its requests end. When nobody waits any
 *   more, the limit is lifted (`keep` = -1).
 * - A worker that exits gives its slots back.
 * During a reload the old and the new generation each have the full maxconn.
 */
import type { Worker } from 'node:cluster';
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages';

interface Pool {
  limit: number;
  held: Map<Worker, number>;
  want: Map<Worker, number>;
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
    if (!pool) this.pools.set(id, (pool = { limit: msg.limit, held: new Map(), want: new Map(), keep: -1 }));
    pool.limit = msg.limit;
    if (msg.type === 'slot-want') pool.want.set(worker, msg.want);
    else pool.held.set(worker, Math.max(0, (pool.held.get(worker) ?? 0) - msg.count));
    this.serve(msg.server, pool);
  }

  workerExited(worker: Worker): void {
    for (const [id, pool] of this.pools) {
      if (!pool.held.delete(worker) && !pool.want.delete(worker)) continue;
      pool.want.delete(worker);
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
    // One slot per waiting worker per round: waiting workers share fairly.
    for (let progress = true; free > 0 && progress; ) {
      progress = false;
      for (const [w, n] of pool.want) {
        if (n <= 0 || free <= 0) continue;
        pool.want.set(w, n - 1);
        pool.held.set(w, (pool.held.get(w) ?? 0) + 1);
        grants.set(w, (grants.get(w) ?? 0) + 1);
        free--;
        progress = true;
      }
    }
    let waiting = false;
    for (const n of pool.want.values()) if (n > 0) waiting = true;
    const members = new Set([...pool.held.keys(), ...pool.want.keys()]);
    const keep = waiting ? Math.floor(pool.limit / Math.max(1, members.size)) : -1;
    for (const [w, count] of grants) send(w, { type: 'slot-grant', server, count, keep });
    if (keep !== pool.keep) {
      pool.keep = keep;
      for (const w of members) if (!grants.has(w)) send(w, { type: 'slot-keep', server, keep });
    }
  }
}

function send(w: Worker, msg: PrimaryToWorker): void {
  if (w.isConnected()) w.send(msg);
}
