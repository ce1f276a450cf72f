/**
 * A worker's stick tables: its view of the counters the primary owns
 * (src/stick/primary.ts), exact across workers within a bounded delay.
 *
 * - An entry's `values` are the primary's last word; what this worker added since is
 *   kept apart, `unsent` until its next batch, then `inflight` until the primary
 *   confirms it. A read adds both, so a worker always sees its own increments at once
 *   and the other workers' once the primary has them and has told it.
 * - A worker sends one batch at a time (`stick-batch`), at most every
 *   BATCH_INTERVAL_MS: the increments of every entry touched since the previous one.
 *   The primary applies it, and sends the entries' new values to every worker
 *   (`stick-state`), with `ack` to this one. Messages between two processes arrive in
 *   order, so values that arrive with or after the `ack` include the confirmed batch:
 *   `inflight` is dropped then, never counted twice.
 * - So the count a limit sees misses at most the other workers' increments of the
 *   last BATCH_INTERVAL_MS plus one IPC round trip.
 * Outside a cluster worker (tests building a Runtime in-process) a table is on its
 * own: increments go straight into its values.
 */
import cluster from 'node:cluster';
import type { Model, StickTableDef } from '../config/model';
import type { PrimaryToWorker, StickDelta, WorkerToPrimary } from '../ipc/messages';
import {
  BYTES_IN_CNT,
  BYTES_IN_RATE,
  BYTES_OUT_CNT,
  BYTES_OUT_RATE,
  CONN_CNT,
  CONN_CUR,
  CONN_RATE,
  DATA_TYPES,
  GPC0,
  GPC0_RATE,
  GPT0,
  HTTP_ERR_CNT,
  HTTP_ERR_RATE,
  HTTP_REQ_CNT,
  HTTP_REQ_RATE,
  SESS_CNT,
  SESS_RATE,
  stickTableDefs,
  tableId,
  USE,
} from './layout';
import { StickEntry, StickStore, tableKey } from './store';

/**
 * Shortest time between two batches of a worker: bounds the IPC messages to 100 per second per worker.
 * Each batch is a round trip with the primary (a pipe write that wakes it, its answer to every worker):
 * at 5 ms they took 13 % of a busy worker's time under a constant flow of increments (bench/README.md).
 */
const BATCH_INTERVAL_MS = 10;
const SWEEP_INTERVAL_MS = 1000;

export class WorkerTable {
  readonly store: StickStore;
  readonly id: string;
  /** Entries with unsent increments. */
  dirty: StickEntry[] = [];

  constructor(
    def: StickTableDef,
    private readonly owner: WorkerTables,
  ) {
    this.store = new StickStore(def);
    this.id = tableId(def);
  }

  get def(): StickTableDef {
    return this.store.def;
  }

  get size(): number {
    return this.store.size;
  }

  /** The sample as a key of this table, or undefined when it cannot be one. */
  key(sample: string | number | boolean | string[] | undefined): string | undefined {
    return tableKey(this.store.def, sample);
  }

  stores(type: number): boolean {
    return this.store.layout.slot[type] >= 0;
  }

  /** The entry of `key` if present (expired ones are gone). */
  lookup(key: string): StickEntry | undefined {
    return this.store.get(key, Date.now());
  }

  /** The entry of `key`, made when missing, and touched; undefined when the table is full of entries in use. */
  obtain(key: string): StickEntry | undefined {
    const now = Date.now();
    const e = this.store.obtain(key, now);
    if (e) this.touch(e, now);
    return e;
  }

  /** Used now: expiry restarts here, and at the primary with the next batch. */
  touch(e: StickEntry, now: number): void {
    this.store.touch(e, now);
    if (!this.owner.standalone) this.pending(e);
  }

  /** Adds `n` to data type `type` (DATA_TYPES index) if the table stores it. */
  count(e: StickEntry, type: number, n: number): void {
    const at = this.store.layout.slot[type];
    if (at < 0) return;
    this.add(e, DATA_TYPES[type].kind === 'rate' ? at + 1 : at, n);
  }

  /** Adds `n` to the delta slot `at` (./layout.ts), or at once to the values outside a cluster. */
  add(e: StickEntry, at: number, n: number): void {
    if (!this.owner.standalone) {
      this.pending(e)[at] += n;
      return;
    }
    const delta = new Array<number>(this.store.layout.slots).fill(0);
    delta[at] = n;
    this.store.apply(e, delta, Date.now());
  }

  /** Sets tag `type` (gpt0) to `value` if the table stores it: the primary takes the last value set (./layout.ts). */
  setTag(e: StickEntry, type: number, value: number): void {
    const at = this.store.layout.slot[type];
    if (at < 0) return;
    if (this.owner.standalone) e.values[at] = value;
    else this.pending(e)[at] = value + 1;
  }

  /** `stick on`: `key` sticks to `server` (name). */
  setServer(e: StickEntry, server: string): void {
    e.server = server;
    if (this.owner.standalone) return;
    e.unsentServer = server;
    this.pending(e);
  }

  /** The value of a data type the table stores (0 for a missing entry). */
  read(e: StickEntry | undefined, type: number): number {
    return e ? this.store.read(e, type, Date.now()) : 0;
  }

  private pending(e: StickEntry): number[] {
    if (!e.unsent) {
      e.unsent = new Array<number>(this.store.layout.slots).fill(0);
      this.dirty.push(e);
      this.owner.schedule();
    }
    return e.unsent;
  }
}

/** The stick tables of this worker's config generation, and their exchange with the primary. */
export class WorkerTables {
  readonly byName = new Map<string, WorkerTable>();
  private readonly byId = new Map<string, WorkerTable>();
  /** Not in a cluster worker: each table stands alone. */
  readonly standalone: boolean;
  private seq = 0;
  /** Entries of the batch the primary has not confirmed yet (empty: none in flight). */
  private inflight: StickEntry[] = [];
  private waiting = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(defs: StickTableDef[]) {
    this.standalone = !cluster.isWorker;
    for (const def of defs) {
      const t = new WorkerTable(def, this);
      this.byName.set(def.name, t);
      this.byId.set(t.id, t);
    }
    if (defs.some((d) => d.expire)) {
      this.sweeper = setInterval(() => {
        const now = Date.now();
        for (const t of this.byName.values()) t.store.sweep(now);
      }, SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  /** A table has new increments: send them once the interval since the last batch is over and none is in flight. */
  schedule(): void {
    if (this.timer || this.waiting) return;
    this.timer = setTimeout(flushCurrent, Math.max(0, this.lastSent + BATCH_INTERVAL_MS - Date.now()));
  }

  /** Sends the unsent increments now (also when the worker leaves). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting || !process.connected) return;
    const tables: Record<string, StickDelta[]> = {};
    let any = false;
    for (const t of this.byName.values()) {
      if (t.dirty.length === 0) continue;
      const deltas: StickDelta[] = [];
      for (const e of t.dirty) {
        deltas.push([e.key, e.unsentServer, e.unsent!]);
        e.inflight = e.unsent;
        e.unsent = null;
        e.unsentServer = null;
        this.inflight.push(e);
      }
      t.dirty = [];
      tables[t.id] = deltas;
      any = true;
    }
    if (!any) return;
    this.waiting = true;
    this.lastSent = Date.now();
    process.send!({ type: 'stick-batch', seq: ++this.seq, tables } satisfies WorkerToPrimary);
  }

  /** The primary's values (and, with `ack`, the confirmation of this worker's batch). */
  received(m: Extract<PrimaryToWorker, { type: 'stick-state' }>): void {
    if (m.ack === this.seq && this.waiting) {
      for (const e of this.inflight) e.inflight = null;
      this.inflight = [];
      this.waiting = false;
    }
    const now = Date.now();
    for (const id in m.tables) {
      const t = this.byId.get(id);
      if (!t) continue;
      const store = t.store;
      for (const s of m.tables[id]) {
        if (s.length === 1) {
          store.remove(s[0]);
          continue;
        }
        const e = store.peek(s[0]) ?? store.obtain(s[0], now, true)!;
        e.expires = s[1];
        e.server = s[2];
        e.values = s[3];
        // Most recently used, as at the primary (the expiry comes from there).
        store.moveToEnd(e);
      }
    }
    if (!this.waiting && this.byName.size) for (const t of this.byName.values()) if (t.dirty.length) return this.schedule();
  }
}

let current: WorkerTables | undefined;
let listening = false;

function flushCurrent(): void {
  current?.flush();
}

/** The stick tables of a config generation, made when its Runtime is built; they serve the fetches and rules. */
export function useStickTables(model: Pick<Model, 'frontends' | 'backends'>): WorkerTables {
  current = new WorkerTables(stickTableDefs(model));
  if (!current.standalone && !listening) {
    listening = true;
    process.on('message', (m: PrimaryToWorker) => {
      if (typeof m === 'object' && m !== null && m.type === 'stick-state') current?.received(m);
    });
  }
  return current;
}

/** The table named `name` in this worker's generation. */
export function stickTable(name: string): WorkerTable | undefined {
  return current?.byName.get(name);
}

/** Sends what is unsent (the worker is leaving). */
export function flushStickTables(): void {
  current?.flush();
}

/**
 * The counters a connection tracks (HAProxy's sc0, sc1, sc2): `track-sc` rules fill
 * them, sc_* fetches read them, and the data path reports what happens on the
 * connection. The L7 pipeline calls `onHttpRequest()` for each request,
 * `onHttpError()` for each request answered 4xx (or invalid), and `onBytesIn(n)` /
 * `onBytesOut(n)` for the bytes it moves; `track()` serves `http-request track-sc`.
 * Made by `trackersOf` (src/stick/tcp-rules.ts) on the connection's first track, and
 * released when the connection closes.
 */
export class Trackers {
  readonly tables: (WorkerTable | undefined)[] = [undefined, undefined, undefined];
  readonly entries: (StickEntry | undefined)[] = [undefined, undefined, undefined];

  /**
   * Counter `n` tracks `key` in `table`: the entry's use, conn_cur, conn_cnt and
   * conn_rate count this connection. A counter already tracking keeps its entry (as
   * HAProxy ignores a later track-scN of the same N).
   */
  track(n: number, table: WorkerTable, key: string): boolean {
    if (this.entries[n]) return false;
    const e = table.obtain(key);
    if (!e) return false;
    this.tables[n] = table;
    this.entries[n] = e;
    table.add(e, USE, 1);
    table.count(e, CONN_CUR, 1);
    table.count(e, CONN_CNT, 1);
    table.count(e, CONN_RATE, 1);
    return true;
  }

  /**
   * `http-request track-sc` started counter `n` on a request already counted on the
   * others: its entry counts it too (as HAProxy's track-sc action does).
   */
  countRequestOn(n: number): void {
    const t = this.tables[n]!;
    const e = this.entries[n]!;
    t.count(e, HTTP_REQ_CNT, 1);
    t.count(e, HTTP_REQ_RATE, 1);
  }

  /** The connection became a session (its tcp-request connection and session rules let it through). */
  onSession(): void {
    this.each(SESS_CNT, SESS_RATE, 1);
  }

  onHttpRequest(): void {
    this.each(HTTP_REQ_CNT, HTTP_REQ_RATE, 1);
  }

  onHttpError(): void {
    this.each(HTTP_ERR_CNT, HTTP_ERR_RATE, 1);
  }

  onBytesIn(n: number): void {
    this.each(BYTES_IN_CNT, BYTES_IN_RATE, n);
  }

  onBytesOut(n: number): void {
    this.each(BYTES_OUT_CNT, BYTES_OUT_RATE, n);
  }

  /** sc-inc-gpc0(n) and sc_inc_gpc0(n): gpc0 and gpc0_rate of counter `n` + 1; the new gpc0 (gpc0_rate without it). */
  incGpc0(n: number): number | undefined {
    const t = this.tables[n];
    const e = this.entries[n];
    return t && e ? incrementGpc0(t, e) : undefined;
  }

  /** sc-set-gpt0(n): gpt0 of counter `n`'s entry becomes `value` (nothing when it does not track). */
  setGpt0(n: number, value: number): void {
    const t = this.tables[n];
    const e = this.entries[n];
    if (t && e) t.setTag(e, GPT0, value);
  }

  /** The connection ended: its trackers let go (conn_cur and use drop). */
  release(): void {
    this.untrack(0b111);
  }

  /** Counters in `mask` (bit n: scN) stop tracking: an http-request track-sc's, at the end of its request. */
  untrack(mask: number): void {
    for (let i = 0; i < 3; i++) {
      const t = this.tables[i];
      const e = this.entries[i];
      if (!t || !e || !(mask & (1 << i))) continue;
      t.add(e, USE, -1);
      t.count(e, CONN_CUR, -1);
      this.tables[i] = undefined;
      this.entries[i] = undefined;
    }
  }

  private each(cnt: number, rate: number, n: number): void {
    for (let i = 0; i < 3; i++) {
      const t = this.tables[i];
      if (!t) continue;
      const e = this.entries[i]!;
      t.count(e, cnt, n);
      t.count(e, rate, n);
    }
  }
}

/** HAProxy's smp_fetch_inc_gpc0: gpc0_rate and gpc0 + 1; returns gpc0, or gpc0_rate's current count without gpc0. */
export function incrementGpc0(t: WorkerTable, e: StickEntry): number {
  t.count(e, GPC0_RATE, 1);
  t.count(e, GPC0, 1);
  t.touch(e, Date.now());
  if (t.stores(GPC0)) return t.read(e, GPC0);
  return t.stores(GPC0_RATE) ? t.read(e, GPC0_RATE) : 0;
}
