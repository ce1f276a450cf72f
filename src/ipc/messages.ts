/** Typed messages between the primary and its workers (cluster IPC, JSON). */
import type { Model } from '../config/model';

/** One server's state as decided by the primary (checks, runtime API). */
export interface ServerStateUpdate {
  backend: string;
  server: string;
  /** Operational state from health checks. */
  up: boolean;
  /** Administrative state. */
  admin: 'ready' | 'drain' | 'maint';
  /** Effective weight (runtime API / agent may change it). */
  weight: number;
}

export type PrimaryToWorker =
  | { type: 'config'; generation: number; model: Model; ticketKeys: string /* base64, 48 bytes */; servers: ServerStateUpdate[] }
  | { type: 'drain'; gracePeriod: number }
  | { type: 'servers'; updates: ServerStateUpdate[] }
  | { type: 'reopen-logs' };

export type WorkerToPrimary =
  | { type: 'ready'; generation: number; listening: string[] }
  | { type: 'listen-failed'; generation: number; error: string }
  | { type: 'drained'; generation: number }
  | { type: 'counters'; generation: number; delta: CounterDelta };

/** Counter increments since the last report, keyed by proxy and server name. */
export interface CounterDelta {
  frontends: Record<string, Record<string, number>>;
  backends: Record<string, Record<string, number>>;
  servers: Record<string, Record<string, number>>;
}

export function isWorkerMessage(m: unknown): m is WorkerToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
export function isPrimaryMessage(m: unknown): m is PrimaryToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
