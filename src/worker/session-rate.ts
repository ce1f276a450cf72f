/**
 * `rate-limit sessions N` of a frontend: at most N new sessions a second over all
 * workers. The count is a sess_rate(1s) entry per frontend in an internal stick
 * table (SESSION_RATE_TABLE), summed by the primary like every stick counter
 * (src/stick/worker.ts), so the limit is the node's, not a share per worker.
 *
 * HAProxy stops accepting while the frontend is at its rate: the excess waits in
 * the kernel's backlog. As with maxconn (./conn-limit.ts), Node cannot stop
 * accept(), so a connection over the rate is accepted and held paused, FIFO, and
 * goes on when one more session keeps the rate (HAProxy's next_event_delay); at
 * most HOLD_LIMIT wait per frontend, beyond that a new one is closed as a full
 * backlog would refuse it.
 */
import type * as net from 'node:net';
import { SESS_RATE, SESSION_RATE_TABLE } from '../stick/layout';
import type { StickEntry } from '../stick/store';
import { stickTable, type WorkerTable } from '../stick/worker';
import { HOLD_LIMIT } from './conn-limit';

export class SessionRateGate<L> {
  private readonly waiting: { socket: net.Socket; listener: L }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: number,
    private readonly table: WorkerTable,
    private readonly entry: StickEntry,
    /** Goes on with a connection let through after waiting. */
    private readonly resume: (socket: net.Socket, listener: L) => void,
  ) {}

  /** A new connection: true when it may go on now (it counts as a session); else it is held or closed. */
  admit(socket: net.Socket, listener: L): boolean {
    if (this.waiting.length === 0 && this.room()) {
      this.table.count(this.entry, SESS_RATE, 1);
      return true;
    }
    if (this.waiting.length >= HOLD_LIMIT) {
      socket.destroy();
      return false;
    }
    socket.pause();
    this.waiting.push({ socket, listener });
    this.arm();
    return false;
  }

  private room(): boolean {
    return this.table.read(this.entry, SESS_RATE) < this.limit;
  }

  private arm(): void {
    if (this.timer) return;
    const wait = this.table.store.wait(this.entry, SESS_RATE, this.limit, Date.now());
    this.timer = setTimeout(serveGate, Math.max(1, wait), this);
  }

  /** Lets waiting connections through while the rate allows, then waits for the next slot. */
  serve(): void {
    this.timer = undefined;
    while (this.waiting.length && this.room()) {
      const h = this.waiting.shift()!;
      if (h.socket.destroyed) continue;
      this.table.count(this.entry, SESS_RATE, 1);
      this.resume(h.socket, h.listener);
    }
    if (this.waiting.length) this.arm();
  }
}

function serveGate(gate: { serve(): void }): void {
  gate.serve();
}

/** The gate of a frontend with `rate-limit sessions`, or undefined. */
export function sessionRateGate<L>(frontend: string, limit: number | undefined, resume: (socket: net.Socket, listener: L) => void): SessionRateGate<L> | undefined {
  if (!limit) return undefined;
  const table = stickTable(SESSION_RATE_TABLE)!;
  const entry = table.obtain(frontend)!;
  return new SessionRateGate(limit, table, entry, resume);
}
