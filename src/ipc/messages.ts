/** Typed messages between the primary and its workers (cluster IPC, JSON). */
import type { Model, TlsCertificate } from '../config/model';

export type ListenMode = 'reuseport' | 'cluster';

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
  /** Effective maxconn when an agent changed it (0 = unlimited). */
  maxconn?: number;
  /** Address and port when the runtime API moved the server. */
  address?: string;
  port?: number;
}

export type PrimaryToWorker =
  | {
      type: 'config';
      generation: number;
      model: Model;
      /** How this worker binds: its own SO_REUSEPORT socket, or the cluster's shared handle. */
      listenMode: ListenMode;
      /** TLS session ticket keys shared by all workers (base64 of 48 bytes). */
      ticketKeys: string;
      servers: ServerStateUpdate[];
    }
  | { type: 'drain'; gracePeriod: number }
  | { type: 'servers'; updates: ServerStateUpdate[] }
  /** A certificate file's new contents (file watch, runtime API): binds serving `certificate.source` use it for new handshakes. */
  | { type: 'certificate'; certificate: TlsCertificate }
  /** The ACME HTTP-01 challenges pending (token → key authorization), all of them each time. */
  | { type: 'acme-tokens'; tokens: Record<string, string> }
  /** Reopen access-log files (logrotate moved them): SIGUSR1 to the primary. */
  | { type: 'reopen-logs' }
  /** Load the other workers of this generation place on servers, by `backend/server`. */
  | { type: 'peer-load'; active: Record<string, number> }
  /** maxconn slots of `backend/server` leased to this worker; keep at most `keep` while others wait (-1: all). */
  | { type: 'slot-grant'; server: string; count: number; keep: number }
  /** Other workers wait for `backend/server`: hold at most `keep` slots (-1: no limit any more). */
  | { type: 'slot-keep'; server: string; keep: number }
  /** `rate-limit sessions` of `frontend`: `count` more sessions this worker may open (src/primary/session-rates.ts). */
  | { type: 'rate-grant'; frontend: string; count: number }
  /** Another worker waits for sessions of `frontend`: give back the credits no connection here waits for. */
  | { type: 'rate-recall'; frontend: string }
  /** Stick-table entries as the primary holds them (src/stick/primary.ts); `ack` confirms this worker's batch. */
  | { type: 'stick-state'; ack?: number; tables: Record<string, StickState[]> }
  /** The runtime API asks every live worker (answered by a `query-reply` with the same id). */
  | WorkerQuery;

/** What the runtime API asks the workers (src/worker/queries.ts answers). */
export type QueryKind = 'sessions' | 'errors' | 'set-maxconn' | 'set-comp-rate' | 'pattern-edit' | 'caches';

export interface WorkerQuery {
  type: 'query';
  id: number;
  what: QueryKind;
  args: string[];
}

/**
 * One entry's increments in a worker's batch, by table id (src/stick/layout.ts): the
 * server `stick on` stored (null: unchanged) and the delta of its values.
 */
export type StickDelta = [key: string, server: string | null, delta: number[]];

/** One entry as the primary holds it (expiry in ms since the epoch, 0 = never); `[key]` alone: removed. */
export type StickState = [key: string, expires: number, server: string, values: number[]] | [key: string];

/**
 * One worker's counters since its previous report (src/worker/report.ts), by object
 * name: frontends and backends by name, servers by `backend/server`. Each array is in
 * COUNTER_KEYS order, bucket arrays flattened in place (COUNTER_OFFSETS); totals are deltas, the gauges (GAUGE_KEYS: current and max
 * sessions) are the worker's absolute values.
 */
export interface CounterReport {
  frontends: Record<string, number[]>;
  backends: Record<string, number[]>;
  servers: Record<string, number[]>;
}

export type WorkerToPrimary =
  | { type: 'ready'; generation: number; listening: string[] }
  | { type: 'counters'; generation: number; delta: CounterReport }
  | { type: 'listen-failed'; generation: number; error: string }
  | { type: 'drained'; generation: number }
  /** This worker's current load per server (`backend/server` → active), sent when it changes. */
  | { type: 'load'; generation: number; active: Record<string, number> }
  /** Requests waiting here for a slot of `backend/server` (its maxconn is `limit`). */
  | { type: 'slot-want'; server: string; want: number; limit: number }
  /** Slots of `backend/server` given back. */
  | { type: 'slot-return'; server: string; count: number; limit: number }
  /** `rate-limit sessions` of `frontend`: sessions opened on credits (`used`), connections held for one (`want`), credits given back. */
  | { type: 'rate-want'; frontend: string; limit: number; want: number; used: number; returned: number }
  /** `observe`: `errors` consecutive errors (the `error-limit`) on `backend/server` in this worker; `last` says what the last one was. */
  | { type: 'observed-errors'; backend: string; server: string; errors: number; last: string }
  /** Stick-table increments since the previous batch (src/stick/worker.ts), by table id. */
  | { type: 'stick-batch'; seq: number; tables: Record<string, StickDelta[]> }
  /** The answer to the primary's `query` with the same id. */
  | { type: 'query-reply'; id: number; data: unknown };

export function isWorkerMessage(m: unknown): m is WorkerToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
export function isPrimaryMessage(m: unknown): m is PrimaryToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}
