/**
 * What waits for a server slot (src/worker/runtime.ts explains the queueing): the
 * waiter interface the sessions implement, a queued request's entry, and the FIFO
 * the backend and its servers keep them in.
 */
import type { ServerRuntime } from './runtime';

/** A request waiting for a server slot. Implemented by the sessions (no closure per request). */
export interface SlotWaiter {
  /** Set by the backend while the waiter is queued. */
  queueEntry: QueueEntry | null;
  /** A slot on `server` is now held for this waiter (called on a later tick). */
  slotGranted(server: ServerRuntime): void;
  /** `timeout queue` expired: answer 503. */
  queueTimedOut(): void;
}

export class QueueEntry {
  live = true;
  constructor(
    readonly waiter: SlotWaiter,
    readonly server: ServerRuntime,
    /** Persistence or hashing named this server: no other server may serve it. */
    readonly bound: boolean,
    /** 0 = no `timeout queue`. */
    readonly deadline: number,
    /** Arrival order in the backend. */
    readonly seq: number,
  ) {}
}

/** FIFO with an advancing head (no shifting per dequeue). */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(v: T): void {
    this.items.push(v);
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i];
  }
}
