/**
 * `rate-limit sessions N` of a frontend: at most N new sessions a second over all
 * workers, counted with HAProxy's sliding frequency counter (src/stick/freq.ts).
 *
 * HAProxy stops accepting while the frontend is at its rate: the excess waits in
 * the kernel's backlog. As with maxconn (./conn-limit.ts), Node cannot stop
 * accept(), so a connection over the rate is accepted and held paused, FIFO, and
 * goes on when one more session keeps the rate (HAProxy's next_event_delay); at
 * most HOLD_LIMIT wait per frontend, beyond that a new one is closed as a full
 * backlog would refuse it.
 *
 * One worker counts alone. With several, the primary owns the count
 * (src/primary/session-rates.ts) and hands out sessions: a worker opens one only
 * with a credit the primary granted, and reports what it used. The primary grants
 * only while the count plus every credit still out stays under N, so the node never
 * goes over, whatever the lag; below the limit each worker holds a few credits ahead,
 * so a new session does not wait for a round trip.
 */
import type * as net from 'node:net';
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages';
import { freqAdd, freqRead, freqWait } from '../stick/freq';
import { HOLD_LIMIT } from './conn-limit';

/** HAProxy's rate-limit sessions counts per second. */
export const SESSION_RATE_PERIOD = 1000;

interface Held<L> {
  socket: net.Socket;
  listener: L;
}

export abstract class SessionRateGate<L> {
  protected readonly waiting: Held<L>[] = [];

  constructor(
    readonly limit: number,
    /** Goes on with a connection let through after waiting. */
    private readonly resume: (socket: net.Socket, listener: L) => void,
  ) {}

  /** A new connection: true when it may go on now (it counts as a session); else it is held or closed. */
  admit(socket: net.Socket, listener: L): boolean {
    if (this.waiting.length === 0 && this.take()) return true;
    if (this.waiting.length >= HOLD_LIMIT) {
      socket.destroy();
      return false;
    }
    socket.pause();
    this.waiting.push({ socket, listener });
    this.queued();
    return false;
  }

  /** Lets waiting connections through while sessions may open. */
  serve(): void {
    while (this.waiting.length) {
      const h = this.waiting[0];
      if (!h.socket.destroyed && !this.take()) break;
      this.waiting.shift();
      if (!h.socket.destroyed) this.resume(h.socket, h.listener);
    }
    this.queued();
  }

  /** One session opens now if the rate allows it (it is then counted). */
  protected abstract take(): boolean;
  /** The waiting list changed. */
  protected abstract queued(): void;
}

/** The only worker: the count is its own. */
class LocalSessionRate<L> extends SessionRateGate<L> {
  /** [tick, current period, previous period] (./stick/freq.ts). */
  private readonly counter = [0, 0, 0];
  private timer: NodeJS.Timeout | undefined;

  protected take(): boolean {
    const now = Date.now();
    if (freqRead(this.counter, 0, SESSION_RATE_PERIOD, now, 0) >= this.limit) return false;
    freqAdd(this.counter, 0, SESSION_RATE_PERIOD, now, 1);
    return true;
  }

  protected queued(): void {
    if (this.timer || this.waiting.length === 0) return;
    const wait = freqWait(this.counter, 0, SESSION_RATE_PERIOD, Date.now(), this.limit, 0);
    this.timer = setTimeout(serveLocal, Math.max(1, wait), this);
  }

  onTimer(): void {
    this.timer = undefined;
    this.serve();
  }
}

function serveLocal(gate: { onTimer(): void }): void {
  gate.onTimer();
}

/** One of several workers: sessions open on credits from the primary. */
class LeasedSessionRate<L> extends SessionRateGate<L> {
  /** Sessions the primary let this worker open and it has not opened yet. */
  private credit = 0;
  /** Opened since the last report. */
  private used = 0;
  /** Credits given back since the last report. */
  private returned = 0;
  private reportedWant = -1;
  private reporting = false;

  constructor(
    readonly frontend: string,
    limit: number,
    resume: (socket: net.Socket, listener: L) => void,
  ) {
    super(limit, resume);
    // The first report asks for credits ahead, before the first connection.
    this.report();
  }

  protected take(): boolean {
    if (this.credit === 0) return false;
    this.credit--;
    this.used++;
    this.report();
    return true;
  }

  protected queued(): void {
    if (this.waiting.length !== this.reportedWant) this.report();
  }

  granted(count: number): void {
    this.credit += count;
    this.serve();
  }

  /** Another worker waits: credits nobody here waits for go back. */
  recalled(): void {
    if (this.waiting.length || this.credit === 0) return;
    this.returned += this.credit;
    this.credit = 0;
    this.report();
  }

  /** One message per event-loop turn with what changed. */
  private report(): void {
    if (this.reporting) return;
    this.reporting = true;
    setImmediate(sendReport, this);
  }

  flush(): void {
    this.reporting = false;
    const want = this.waiting.length;
    if (this.used === 0 && this.returned === 0 && want === this.reportedWant) return;
    send({ type: 'rate-want', frontend: this.frontend, limit: this.limit, want, used: this.used, returned: this.returned });
    this.reportedWant = want;
    this.used = 0;
    this.returned = 0;
  }
}

function sendReport(gate: { flush(): void }): void {
  gate.flush();
}

function send(m: WorkerToPrimary): void {
  if (process.connected) process.send!(m);
}

const leasedGates = new Map<string, { granted(count: number): void; recalled(): void }>();
let listening = false;

function onMessage(m: PrimaryToWorker): void {
  if (typeof m !== 'object' || m === null) return;
  if (m.type === 'rate-grant') leasedGates.get(m.frontend)?.granted(m.count);
  else if (m.type === 'rate-recall') leasedGates.get(m.frontend)?.recalled();
}

/** The gate of a frontend with `rate-limit sessions`, or undefined; `workers`: the configured worker count. */
export function sessionRateGate<L>(frontend: string, limit: number | undefined, workers: number, resume: (socket: net.Socket, listener: L) => void): SessionRateGate<L> | undefined {
  if (!limit) return undefined;
  if (workers <= 1 || typeof process.send !== 'function') return new LocalSessionRate(limit, resume);
  const gate = new LeasedSessionRate(frontend, limit, resume);
  leasedGates.set(frontend, gate);
  if (!listening) {
    listening = true;
    process.on('message', onMessage);
  }
  return gate;
}
