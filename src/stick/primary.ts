/**
 * The primary owns every stick table: the counters of a key are the sum of what all
 * workers of the node added (the worker side and the error bound are described in
 * ./worker.ts). A worker's batch is applied here in arrival order, and the new values
 * of the entries it touched go to every worker, with `ack` to the sender.
 *
 * Tables outlive generations: a reload that keeps a table's type and stored data
 * keeps its entries (its limits hold through the reload, the draining and the new
 * workers adding to the same counters); a new worker first gets a snapshot. What a
 * worker holds in gauges (use, conn_cur: its live connections) is taken back when it
 * exits. The runtime API (./commands.ts) reads and changes the tables here.
 */
import type { Model } from '../config/model';
import type { PrimaryToWorker, StickState, WorkerToPrimary } from '../ipc/messages';
import { stickTableDefs, tableId } from './layout';
import { StickEntry, StickStore } from './store';

/**
 * Counters kept beyond this node too (./redis.ts): told of the tables at each
 * generation, and of each worker's delta once applied here.
 */
export interface FleetCounters {
  useStores(stores: Iterable<StickStore>): void;
  added(store: StickStore, e: StickEntry, delta: number[], now: number): void;
  /** What `show table` and Prometheus say of the table's store beyond this node; undefined when it has none. */
  status(store: StickStore): FleetStatus | undefined;
}

export interface FleetStatus {
  table: string;
  state: 'connecting' | 'up' | 'down';
  /** Times the table fell back to counting on this node alone. */
  fallbacks: number;
}

/** A worker as the primary sends to it (node:cluster's Worker). */
export interface TablePeer {
  send(msg: PrimaryToWorker): boolean;
  isConnected(): boolean;
}

/** Hears what changes a node's tables, to pass on to its peers (src/peers/). */
export interface StickListener {
  /** A worker's increments were applied to `e` of table `id` (`server`: the `stick on` server it stored, or null). */
  added(id: string, store: StickStore, e: StickEntry, delta: number[], server: string | null): void;
  /** An operator set these entries' values (`set table`). */
  set(store: StickStore, entries: StickEntry[]): void;
}

const SWEEP_INTERVAL_MS = 1000;
/** Entries per snapshot message to a new worker. */
const SNAPSHOT_CHUNK = 4096;

function stateOf(e: StickEntry): StickState {
  return [e.key, e.expires, e.server, e.values];
}

/** What one worker added to an entry's gauges (in Layout.gauges order). */
interface Held {
  store: StickStore;
  amounts: number[];
}

export class PrimaryStickTables {
  private readonly byId = new Map<string, StickStore>();
  /** The tables of the newest generation, by name (what the runtime API names). */
  private byName = new Map<string, StickStore>();
  private currentIds = new Set<string>();
  private readonly held = new Map<TablePeer, Map<StickEntry, Held>>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Entries changed since the last flush, by table id then key (null: removed). */
  private readonly changes = new Map<string, Map<string, StickEntry | null>>();
  /** The last batch of each worker applied since the last flush, to confirm. */
  private readonly acks = new Map<TablePeer, number>();
  private flushing = false;
  /** Fleet-wide counters (tables with `redis`), set before the first generation. */
  fleet: FleetCounters | undefined;
  /** The peers replication, when a table is replicated. */
  listener: StickListener | undefined;

  constructor(
    /** Every worker that may hold tables (all generations). */
    private readonly peers: () => Iterable<TablePeer>,
  ) {}

  /** A generation starts with `model`: its tables exist (kept when unchanged), those no live generation uses go. */
  useModel(model: Pick<Model, 'frontends' | 'backends'>): void {
    const ids = new Set<string>();
    const byName = new Map<string, StickStore>();
    for (const def of stickTableDefs(model)) {
      const id = tableId(def);
      let store = this.byId.get(id);
      if (!store) this.byId.set(id, (store = new StickStore(def)));
      store.def = def;
      store.trim();
      ids.add(id);
      byName.set(def.name, store);
    }
    // The previous generation drains on its tables; older ones are gone.
    for (const id of this.byId.keys()) if (!ids.has(id) && !this.currentIds.has(id)) this.byId.delete(id);
    this.currentIds = ids;
    this.byName = byName;
    this.fleet?.useStores(this.byId.values());
    if (!this.sweeper && this.byId.size) {
      this.sweeper = setInterval(() => {
        const now = Date.now();
        for (const s of this.byId.values()) s.sweep(now);
      }, SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  /** A table by its id (./layout.ts tableId), any live generation's. */
  table(id: string): StickStore | undefined {
    return this.byId.get(id);
  }

  /** The newest generation's table `name`. */
  named(name: string): StickStore | undefined {
    return this.byName.get(name);
  }

  /** The newest generation's tables, in config order. */
  list(): StickStore[] {
    return [...this.byName.values()];
  }

  /**
   * A worker's increments: applied now; the entries' values go to every worker at the
   * end of this event-loop turn, with `ack` to the sender. Batches of several workers
   * that arrive together share one message per worker.
   */
  onBatch(worker: TablePeer, msg: Extract<WorkerToPrimary, { type: 'stick-batch' }>): void {
    const now = Date.now();
    for (const id in msg.tables) {
      const store = this.byId.get(id);
      if (!store) continue;
      for (const [key, server, delta] of msg.tables[id]) {
        const e = store.obtain(key, now, true)!;
        store.apply(e, delta, now);
        this.fleet?.added(store, e, delta, now);
        if (server !== null) e.server = server;
        store.touch(e, now);
        this.hold(worker, store, e, delta);
        this.note(id, key, e);
        this.listener?.added(id, store, e, delta, server);
      }
    }
    this.acks.set(worker, msg.seq);
    this.schedule();
  }

  /** A new worker of a generation of `model` learns the tables as they are. */
  sendSnapshot(worker: TablePeer, model: Pick<Model, 'frontends' | 'backends'>): void {
    for (const def of stickTableDefs(model)) {
      const id = tableId(def);
      const store = this.byId.get(id);
      if (!store || store.size === 0) continue;
      let chunk: StickState[] = [];
      for (const e of store.entries()) {
        chunk.push(stateOf(e));
        if (chunk.length === SNAPSHOT_CHUNK) {
          send(worker, { type: 'stick-state', tables: { [id]: chunk } });
          chunk = [];
        }
      }
      if (chunk.length) send(worker, { type: 'stick-state', tables: { [id]: chunk } });
    }
  }

  /** A worker exited: the connections it tracked are gone from use and conn_cur. */
  workerExited(worker: TablePeer): void {
    const held = this.held.get(worker);
    this.held.delete(worker);
    if (!held) return;
    const changed = new Map<StickStore, StickEntry[]>();
    for (const [e, h] of held) {
      if (h.store.peek(e.key) !== e) continue;
      const gauges = h.store.layout.gauges;
      for (let i = 0; i < gauges.length; i++) e.values[gauges[i]] = Math.max(0, e.values[gauges[i]] - h.amounts[i]);
      const list = changed.get(h.store);
      if (list) list.push(e);
      else changed.set(h.store, [e]);
    }
    for (const [store, entries] of changed) this.changed(store, entries);
  }

  /** Entries changed here (runtime API, an exited worker): their values to every worker. */
  changed(store: StickStore, entries: StickEntry[]): void {
    const id = tableId(store.def);
    for (const e of entries) this.note(id, e.key, e);
    this.schedule();
  }

  /** Entries an operator set (`set table`): to every worker and every peer. */
  set(store: StickStore, entries: StickEntry[]): void {
    this.changed(store, entries);
    this.listener?.set(store, entries);
  }

  /** Entries the runtime API removed. */
  removed(store: StickStore, keys: string[]): void {
    const id = tableId(store.def);
    for (const k of keys) this.note(id, k, null);
    this.schedule();
  }

  private note(id: string, key: string, e: StickEntry | null): void {
    let m = this.changes.get(id);
    if (!m) this.changes.set(id, (m = new Map()));
    m.set(key, e);
  }

  private schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  /** The changed entries to every worker, each batch's confirmation to its sender. */
  private flush(): void {
    this.flushing = false;
    const tables: Record<string, StickState[]> = {};
    for (const [id, m] of this.changes) tables[id] = [...m].map(([k, e]): StickState => (e ? stateOf(e) : [k]));
    const changed = this.changes.size > 0;
    this.changes.clear();
    for (const w of this.peers()) {
      const ack = this.acks.get(w);
      if (ack !== undefined) send(w, { type: 'stick-state', ack, tables });
      else if (changed) send(w, { type: 'stick-state', tables });
    }
    this.acks.clear();
  }

  private hold(worker: TablePeer, store: StickStore, e: StickEntry, delta: number[]): void {
    const gauges = store.layout.gauges;
    let map: Map<StickEntry, Held> | undefined;
    for (let i = 0; i < gauges.length; i++) {
      const d = delta[gauges[i]];
      if (d === 0) continue;
      map ??= this.held.get(worker) ?? this.held.set(worker, new Map()).get(worker)!;
      let h = map.get(e);
      if (!h) map.set(e, (h = { store, amounts: new Array<number>(gauges.length).fill(0) }));
      h.amounts[i] += d;
    }
    // Nothing held any more: forget the entry.
    const h = map?.get(e);
    if (h && h.amounts.every((n) => n <= 0)) map!.delete(e);
  }
}

function send(w: TablePeer, msg: PrimaryToWorker): void {
  if (w.isConnected()) w.send(msg);
}
