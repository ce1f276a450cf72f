/**
 * The primary: forks one event-loop worker per configured core, hands each its
 * config generation, respawns crashed workers with backoff, reloads (new
 * generation up first, then the old one drains) and stops gracefully.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Model } from '../config/model';
import { loadConfig, formatIssue, type ConfigIssue } from '../config/load';
import type { Logger } from '../log/logger';
import {
  isWorkerMessage,
  type ListenMode,
  type PrimaryToWorker,
  type QueryKind,
  type ServerStateUpdate,
  type WorkerToPrimary,
} from '../ipc/messages';
import { resolveListenMode } from './listen-mode';
import { SlotBroker } from './slots';
import { SessionRateBroker } from './session-rates';
import { PrimaryStickTables } from '../stick/primary';
import { workerEnvironment } from './worker-env';

interface Generation {
  id: number;
  model: Model;
  listenMode: ListenMode;
  /** Workers of this generation by worker slot (0..n-1). */
  slots: (Worker | undefined)[];
  ready: Set<number>;
  draining: boolean;
  /** Why its workers could not serve (a bind failed). */
  failed?: string;
}

interface WorkerRecord {
  generation: Generation;
  slot: number;
  ready: boolean;
  /** Exits of a draining or stopped worker are expected; others are crashes. */
  expectedExit: boolean;
  /** Its last reported load per `backend/server` (leastconn/random sharing). */
  load: Record<string, number>;
}

export interface SupervisorOptions {
  files: string[];
  log: Logger;
  /** Current server states (health checks); empty until checks run. */
  serverStates: () => ServerStateUpdate[];
  /**
   * Before a reload's workers start: finishes the model (server addresses from init-addr).
   * An error in what it returns refuses the reload.
   */
  prepare?: (model: Model) => Promise<ConfigIssue[]>;
  /** Called when a new generation serves, with its model. */
  onGeneration?: (model: Model, generation: number) => void;
  /** Every message from a worker (counters go to the stats aggregator). */
  onWorkerMessage?: (pid: number, msg: WorkerToPrimary) => void;
}

/** One worker's answer to a runtime API query. */
export interface WorkerAnswer {
  pid: number;
  generation: number;
  data: unknown;
}

interface PendingQuery {
  waiting: Set<Worker>;
  answers: WorkerAnswer[];
  finish(): void;
}

const READY_TIMEOUT = 15_000;
const MAX_BACKOFF = 10_000;
/** How long the runtime API waits for the workers' answers. */
const QUERY_TIMEOUT = 1000;

export class Supervisor {
  private readonly records = new Map<Worker, WorkerRecord>();
  private current?: Generation;
  private nextId = 1;
  private readonly ticketKeys = randomBytes(48).toString('base64');
  private stopping = false;
  private reloading = false;
  private crashes = 0;
  private lastCrash = 0;
  /** maxconn slots leased to workers (queueing/persistence: src/primary/slots.ts). */
  private readonly slots = new SlotBroker();
  private readonly sessionRates = new SessionRateBroker();
  /** The stick tables, whose counters the workers add to (src/stick/primary.ts). */
  readonly tables = new PrimaryStickTables(() => [...this.records.keys()]);
  private readonly queries = new Map<number, PendingQuery>();
  private nextQueryId = 1;

  constructor(private readonly opts: SupervisorOptions) {
    cluster.on('message', (worker, msg) => {
      if (isWorkerMessage(msg)) this.onMessage(worker, msg);
    });
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
  }

  get model(): Model | undefined {
    return this.current?.model;
  }

  get generation(): number {
    return this.current?.id ?? 0;
  }

  /** Start the first generation; rejects when its workers cannot serve. */
  async start(model: Model): Promise<void> {
    const listenMode = await resolveListenMode(model.global, this.opts.log);
    // After the listen mode: Node fixes cluster.schedulingPolicy at the first setupPrimary.
    cluster.setupPrimary({ exec: path.join(__dirname, '..', 'worker', 'main.js') });
    const gen = await this.spawnGeneration(model, listenMode);
    this.current = gen;
    this.opts.onGeneration?.(model, gen.id);
  }

  /** Re-read the config files; on success roll to a new generation, else keep serving. */
  async reload(): Promise<boolean> {
    if (this.stopping || this.reloading || !this.current) return false;
    this.reloading = true;
    const log = this.opts.log;
    try {
      const result = loadConfig(this.opts.files);
      for (const w of result.warnings) log.warn({ event: 'config-warning' }, formatIssue(w));
      if (!result.model || result.errors.length) {
        for (const e of result.errors) log.error({ event: 'config-error' }, formatIssue(e));
        log.error({ event: 'reload-failed', errors: result.errors.length, generation: this.current.id }, 'reload refused: configuration is invalid, still serving the previous one');
        return false;
      }
      const prepared = (await this.opts.prepare?.(result.model)) ?? [];
      for (const i of prepared) {
        if (i.severity === 'warning') log.warn({ event: 'config-warning' }, formatIssue(i));
        else log.error({ event: 'config-error' }, formatIssue(i));
      }
      if (prepared.some((i) => i.severity === 'error')) {
        log.error({ event: 'reload-failed', generation: this.current.id }, 'reload refused: Failed to initialize server(s) addr, still serving the previous configuration');
        return false;
      }
      const old = this.current;
      let next: Generation;
      try {
        next = await this.spawnGeneration(result.model, old.listenMode);
      } catch (err) {
        this.tables.useModel(old.model);
        log.error({ event: 'reload-failed', err: (err as Error).message, generation: old.id }, 'reload failed: new workers did not start, still serving the previous configuration');
        return false;
      }
      this.current = next;
      this.drainGeneration(old, result.model.global.gracePeriod);
      this.opts.onGeneration?.(result.model, next.id);
      log.info({ event: 'reloaded', generation: next.id, workers: next.slots.map((w) => w?.process.pid) }, `reloaded: generation ${next.id} serving, generation ${old.id} draining`);
      return true;
    } finally {
      this.reloading = false;
    }
  }

  /** Graceful stop: every worker drains within the grace period, then the promise resolves. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const grace = this.current?.model.global.gracePeriod ?? 0;
    const gens = new Set([...this.records.values()].map((r) => r.generation));
    for (const g of gens) this.drainGeneration(g, grace);
    await new Promise<void>((resolve) => {
      const check = () => (this.records.size === 0 ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  /** Send a message to every worker of the serving generation (e.g. server states). */
  broadcast(msg: PrimaryToWorker): void {
    for (const [w, r] of this.records) if (r.generation === this.current && r.ready && w.isConnected()) w.send(msg);
  }

  /**
   * Send a message to every worker of the serving generation, those still starting
   * included: one that has its config applies it; one that has not yet gets a config
   * made from the serving model as it is when the worker comes online.
   */
  sendServing(msg: PrimaryToWorker): void {
    for (const [w, r] of this.records) if (r.generation === this.current && w.isConnected()) w.send(msg);
  }

  /** Send a message to every live worker, draining generations included (they still log). */
  sendAll(msg: PrimaryToWorker): void {
    for (const w of this.records.keys()) if (w.isConnected()) w.send(msg);
  }

  /**
   * Ask every live worker that has its config (draining generations included: their
   * sessions are real) and gather the answers, in generation then slot order. A worker
   * that does not answer within QUERY_TIMEOUT, or exits first, is skipped and logged.
   */
  query(what: QueryKind, args: string[] = []): Promise<WorkerAnswer[]> {
    const id = this.nextQueryId++;
    const asked = [...this.records].filter(([w, r]) => r.ready && w.isConnected());
    asked.sort(([, a], [, b]) => a.generation.id - b.generation.id || a.slot - b.slot);
    if (asked.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const order = asked.map(([w]) => w.process.pid);
      const q: PendingQuery = {
        waiting: new Set(asked.map(([w]) => w)),
        answers: [],
        finish: () => {
          clearTimeout(timer);
          this.queries.delete(id);
          if (q.waiting.size) {
            const pids = [...q.waiting].map((w) => w.process.pid);
            this.opts.log.warn({ event: 'query-timeout', what, workers: pids }, `runtime API: worker(s) ${pids.join(', ')} did not answer '${what}'; skipped`);
          }
          resolve(q.answers.sort((a, b) => order.indexOf(a.pid) - order.indexOf(b.pid)));
        },
      };
      const timer = setTimeout(q.finish, QUERY_TIMEOUT);
      this.queries.set(id, q);
      for (const [w] of asked) w.send({ type: 'query', id, what, args } satisfies PrimaryToWorker);
    });
  }

  workerPids(): number[] {
    return [...this.records.keys()].map((w) => w.process.pid!).filter(Boolean);
  }

  private spawnGeneration(model: Model, listenMode: ListenMode): Promise<Generation> {
    const gen: Generation = {
      id: this.nextId++,
      model,
      listenMode,
      slots: new Array(model.global.workers).fill(undefined),
      ready: new Set(),
      draining: false,
    };
    this.tables.useModel(model);
    for (let slot = 0; slot < model.global.workers; slot++) this.fork(gen, slot);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`workers not ready after ${READY_TIMEOUT} ms`)), READY_TIMEOUT);
      const poll = setInterval(() => {
        if (gen.ready.size === model.global.workers) {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(gen);
        } else if (gen.failed) fail(new Error(gen.failed));
      }, 10);
      const fail = (err: Error) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.drainGeneration(gen, 0);
        reject(err);
      };
    });
  }

  private fork(gen: Generation, slot: number): void {
    const worker = cluster.fork(workerEnvironment(gen.model.global.logLevel, slot));
    gen.slots[slot] = worker;
    this.records.set(worker, { generation: gen, slot, ready: false, expectedExit: false, load: {} });
    // A message sent as the worker exits (isConnected() still true) fails with EPIPE, emitted
    // here; without a listener it would kill the primary. The message is moot: 'exit' follows.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      const expected = this.records.get(worker)?.expectedExit ?? true;
      this.opts.log[expected ? 'debug' : 'warn']({ event: 'worker-ipc-error', worker: worker.process.pid, err: err.message }, `message to worker ${worker.process.pid} failed: ${err.message}`);
    });
    worker.once('online', () => {
      worker.send({
        type: 'config',
        generation: gen.id,
        model: gen.model,
        listenMode: gen.listenMode,
        ticketKeys: this.ticketKeys,
        servers: this.opts.serverStates(),
      } satisfies PrimaryToWorker);
      this.tables.sendSnapshot(worker, gen.model);
    });
  }

  private drainGeneration(gen: Generation, gracePeriod: number): void {
    gen.draining = true;
    for (const [w, r] of this.records) {
      if (r.generation !== gen) continue;
      r.expectedExit = true;
      if (w.isConnected()) w.send({ type: 'drain', gracePeriod } satisfies PrimaryToWorker);
      // A worker that ignores the drain is killed shortly after its grace period.
      setTimeout(() => {
        if (!w.isDead()) w.process.kill('SIGKILL');
      }, gracePeriod + 5000).unref();
    }
  }

  private onMessage(worker: Worker, msg: WorkerToPrimary): void {
    const rec = this.records.get(worker);
    if (!rec) return;
    this.opts.onWorkerMessage?.(worker.process.pid!, msg);
    switch (msg.type) {
      case 'ready':
        rec.ready = true;
        rec.generation.ready.add(rec.slot);
        this.opts.log.info({ event: 'worker-ready', worker: worker.process.pid, generation: msg.generation, listening: msg.listening }, 'worker ready');
        break;
      case 'listen-failed':
        rec.generation.failed = msg.error;
        rec.expectedExit = true;
        this.opts.log.error({ worker: worker.process.pid, generation: msg.generation }, msg.error);
        break;
      case 'drained':
        rec.expectedExit = true;
        // Out of the cluster's round robin at once, then the worker exits (src/worker/main.ts: exit).
        if (worker.isConnected()) worker.disconnect();
        break;
      case 'load':
        rec.load = msg.active;
        this.sharePeerLoad(rec.generation, msg.active);
        break;
      // Queueing: maxconn leases.
      case 'slot-want':
      case 'slot-return':
        this.slots.onMessage(worker, rec.generation.id, msg);
        break;
      case 'rate-want':
        this.sessionRates.onMessage(worker, msg);
        break;
      case 'stick-batch':
        this.tables.onBatch(worker, msg);
        break;
      case 'query-reply': {
        const q = this.queries.get(msg.id);
        if (!q || !q.waiting.delete(worker)) break;
        q.answers.push({ pid: worker.process.pid!, generation: rec.generation.id, data: msg.data });
        if (q.waiting.size === 0) q.finish();
        break;
      }
    }
  }

  /** Tell every worker of the generation what the others place on the servers that changed. */
  private sharePeerLoad(gen: Generation, changed: Record<string, number>): void {
    const peers = [...this.records].filter(([w, r]) => r.generation === gen && w.isConnected());
    for (const [w, r] of peers) {
      const active: Record<string, number> = {};
      for (const key in changed) {
        let sum = 0;
        for (const [, other] of peers) if (other !== r) sum += other.load[key] ?? 0;
        active[key] = sum;
      }
      w.send({ type: 'peer-load', active } satisfies PrimaryToWorker);
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const rec = this.records.get(worker);
    this.records.delete(worker);
    if (!rec) return;
    if (rec.generation.slots[rec.slot] === worker) rec.generation.slots[rec.slot] = undefined;
    rec.generation.ready.delete(rec.slot);
    this.slots.workerExited(worker);
    this.sessionRates.workerExited(worker);
    this.tables.workerExited(worker);
    for (const q of this.queries.values()) if (q.waiting.delete(worker) && q.waiting.size === 0) q.finish();
    // Its load is gone: the others' view of the servers it used must drop it.
    if (Object.keys(rec.load).length) this.sharePeerLoad(rec.generation, rec.load);
    if (rec.expectedExit || this.stopping || rec.generation.draining) return;
    // A crash: respawn the same slot of the same generation, backing off when crashes repeat.
    const now = Date.now();
    this.crashes = now - this.lastCrash > 60_000 ? 1 : this.crashes + 1;
    this.lastCrash = now;
    const delay = Math.min(MAX_BACKOFF, 100 * 2 ** (this.crashes - 1));
    this.opts.log.error(
      { event: 'worker-crashed', worker: worker.process.pid, code, signal, respawnIn: delay },
      `worker ${worker.process.pid} exited unexpectedly (code ${code}, signal ${signal}); respawning in ${delay} ms`,
    );
    setTimeout(() => {
      if (!this.stopping && !rec.generation.draining) this.fork(rec.generation, rec.slot);
    }, delay);
  }
}
