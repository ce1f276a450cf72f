/**
 * `rate-limit sessions` over several workers: the primary owns each limited
 * frontend's count and hands sessions out as credits (worker side:
 * src/worker/session-rate.ts).
 *
 * - A worker reports the sessions it opened on its credits (`used`, counted then in
 *   the frontend's sliding counter), the connections it holds for want of one
 *   (`want`), and credits it gives back (`returned`).
 * - Credits are granted only while the count plus every credit still out stays
 *   under the limit: however late a report, the node never opens more than the
 *   limit allows. Waiting workers are served first, one credit at a time, the one
 *   served longest ago first; then, while nobody waits, each worker is topped up to
 *   a few credits ahead (a quarter of the limit over all workers), so sessions
 *   below the limit open without a round trip.
 * - A worker that waits while others hold idle credits has them recalled; when none
 *   are out, the next grant waits for the counter to allow one more (HAProxy's
 *   next_event_delay).
 * The count is per frontend name, shared by the generations of a reload as
 * HAProxy's old process stops accepting when the new one starts.
 */
import type { Worker } from 'node:cluster';
import type { WorkerToPrimary } from '../ipc/messages';
import { freqAdd, freqRead, freqWait } from '../stick/freq';
import { SESSION_RATE_PERIOD } from '../worker/session-rate';
import { longestWaiting, send } from './slots';

interface Pool {
  frontend: string;
  limit: number;
  /** [tick, current period, previous period] (src/stick/freq.ts). */
  counter: number[];
  credit: Map<Worker, number>;
  want: Map<Worker, number>;
  /** When each worker last got a credit it waited for (grant count), for fair turns. */
  servedAt: Map<Worker, number>;
  grants: number;
  timer: NodeJS.Timeout | undefined;
}

type RateMessage = Extract<WorkerToPrimary, { type: 'rate-want' }>;

export class SessionRateBroker {
  private readonly pools = new Map<string, Pool>();

  onMessage(worker: Worker, msg: RateMessage): void {
    let pool = this.pools.get(msg.frontend);
    if (!pool) {
      pool = { frontend: msg.frontend, limit: msg.limit, counter: [0, 0, 0], credit: new Map(), want: new Map(), servedAt: new Map(), grants: 0, timer: undefined };
      this.pools.set(msg.frontend, pool);
    }
    pool.limit = msg.limit;
    if (msg.used > 0) freqAdd(pool.counter, 0, SESSION_RATE_PERIOD, Date.now(), msg.used);
    pool.credit.set(worker, Math.max(0, (pool.credit.get(worker) ?? 0) - msg.used - msg.returned));
    pool.want.set(worker, msg.want);
    this.serve(pool);
  }

  workerExited(worker: Worker): void {
    for (const pool of this.pools.values()) {
      if (!pool.credit.delete(worker)) continue;
      pool.want.delete(worker);
      pool.servedAt.delete(worker);
      this.serve(pool);
    }
  }

  private serve(pool: Pool): void {
    if (pool.timer) clearTimeout(pool.timer);
    pool.timer = undefined;
    const now = Date.now();
    let out = 0;
    for (const c of pool.credit.values()) out += c;
    let room = pool.limit - freqRead(pool.counter, 0, SESSION_RATE_PERIOD, now, out);
    const grants = new Map<Worker, number>();
    const give = (w: Worker, n: number) => {
      pool.credit.set(w, pool.credit.get(w)! + n);
      grants.set(w, (grants.get(w) ?? 0) + n);
      room -= n;
    };
    for (; room > 0; ) {
      const next = longestWaiting(pool.want, pool.servedAt);
      if (!next) break;
      pool.servedAt.set(next, pool.grants++);
      pool.want.set(next, pool.want.get(next)! - 1);
      give(next, 1);
    }
    const waiting = longestWaiting(pool.want, pool.servedAt) !== undefined;
    if (!waiting) {
      const ahead = Math.floor(pool.limit / (4 * pool.credit.size));
      for (const [w, c] of pool.credit) if (room > 0 && c < ahead) give(w, Math.min(ahead - c, room));
    }
    for (const [w, count] of grants) send(w, { type: 'rate-grant', frontend: pool.frontend, count });
    if (!waiting) return;
    // Credits out come back or get used, and their reports serve again; the timer is for the counter to slide.
    for (const [w, c] of pool.credit) if (c > 0 && !(pool.want.get(w)! > 0)) send(w, { type: 'rate-recall', frontend: pool.frontend });
    out = 0;
    for (const c of pool.credit.values()) out += c;
    const wait = freqWait(pool.counter, 0, SESSION_RATE_PERIOD, Date.now(), pool.limit, out);
    pool.timer = setTimeout(servePool, Math.max(1, wait), this, pool);
  }

  /** For the timer. */
  retry(pool: Pool): void {
    pool.timer = undefined;
    this.serve(pool);
  }
}

function servePool(broker: SessionRateBroker, pool: Pool): void {
  broker.retry(pool);
}
