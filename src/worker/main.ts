/**
 * Worker process entry: receives its config generation from the primary over IPC,
 * compiles it, binds its listeners and serves until told to drain.
 */
import type * as net from 'node:net';
import { setDefaultHighWaterMark } from 'node:stream';
import type { TlsCertificate } from '../config/model';
import { createLogger, flushLogs, type Logger } from '../log/logger';
import { isPrimaryMessage, type PrimaryToWorker, type WorkerToPrimary } from '../ipc/messages';
import { dropPrivileges } from '../primary/privileges';
import type { WorkerContext } from './connection';
import { replaceCertificate } from '../tls/pem';
import { startListeners, type Listening } from './listeners';
import { closeIdleUpstreams } from '../http/pool';
import { setAcmeTokens } from '../http/modules/acme-challenge';
import { reopenAccessLogs } from '../log/access-sink';
import { startCounterReports } from './report';
import { applyPeerLoad, startLoadReports } from './load-share';
import { answerQuery } from './queries';
import { Runtime } from './runtime';
import { flushStickTables } from '../stick/worker';

class Worker implements WorkerContext {
  runtime!: Runtime;
  draining = false;
  private exiting = false;
  private generation = 0;
  private readonly live = new Set<net.Socket>();
  private listening: Listening = { servers: [], terminators: [] };
  private clock = Date.now();
  /** Stops the counter and load reports, sending the last counters. */
  private stopReports: () => void = () => undefined;
  private readonly tick: NodeJS.Timeout;

  constructor(private log: Logger) {
    // One coarse clock tick per worker instead of a timer per socket.
    this.tick = setInterval(() => {
      this.clock = Date.now();
    }, 250);
    this.tick.unref();
  }

  now(): number {
    return this.clock;
  }

  track(socket: net.Socket): void {
    this.live.add(socket);
    (socket as TrackedSocket).tracker = this;
    socket.on('close', untrack);
  }

  untrack(socket: net.Socket): void {
    this.live.delete(socket);
    if (this.draining && this.live.size === 0) this.exit();
  }

  async configure(msg: Extract<PrimaryToWorker, { type: 'config' }>): Promise<void> {
    this.generation = msg.generation;
    this.log = this.log.child({ gen: msg.generation });
    this.log.level = msg.model.global.logLevel;
    this.runtime = new Runtime(msg.model);
    this.runtime.applyStates(msg.servers);
    try {
      this.listening = await startListeners(this.runtime.frontends, this, msg.listenMode, Buffer.from(msg.ticketKeys, 'base64'));
      // A certificate replaced while the binds were being set up.
      for (const t of this.listening.terminators) t.refresh();
    } catch (err) {
      send({ type: 'listen-failed', generation: msg.generation, error: (err as Error).message });
      flushLogs();
      process.exit(1);
    }
    const stopCounters = startCounterReports(this.runtime, msg.generation);
    const stopLoad = startLoadReports(this.runtime, msg.generation, send);
    this.stopReports = () => {
      stopLoad();
      stopCounters();
    };
    const { user, group } = msg.model.global;
    if (user || group) dropPrivileges(user, group);
    send({
      type: 'ready',
      generation: msg.generation,
      listening: this.runtime.frontends.flatMap((f) => f.config.binds.map((b) => `${f.name}@${b.address}:${b.port}`)),
    });
  }

  /** A certificate file's new contents: binds serving it swap their contexts for new handshakes. */
  swapCertificate(update: TlsCertificate): void {
    // Before its config, nothing to do: the config it gets carries the new contents.
    if (!this.runtime) return;
    const binds = replaceCertificate(this.runtime.model, update);
    try {
      for (const t of this.listening.terminators) t.refresh();
      this.log.debug({ event: 'cert-updated', file: update.source, binds }, `certificate ${update.source} replaced on ${binds} bind(s)`);
    } catch (err) {
      this.log.error({ event: 'cert-refused', file: update.source, err: (err as Error).message }, `certificate ${update.source} refused: ${(err as Error).message}`);
    }
  }

  /** The runtime API asks (src/worker/queries.ts answers). */
  answer(q: Extract<PrimaryToWorker, { type: 'query' }>): void {
    // A draining generation keeps its patterns: an edit's entry ids are the serving generation's.
    const data = q.what === 'pattern-edit' && this.draining ? -1 : answerQuery(q, this.live);
    send({ type: 'query-reply', id: q.id, data });
  }

  /** Stop accepting; let connections finish (see WorkerContext.draining), then exit. */
  drain(gracePeriod: number): void {
    if (this.draining) return;
    this.draining = true;
    this.log.info({ connections: this.live.size }, 'draining');
    for (const l of this.listening.servers) l.close();
    closeIdleUpstreams();
    if (this.live.size === 0) return this.exit();
    setTimeout(() => {
      this.log.warn({ connections: this.live.size }, 'grace period over, closing remaining connections');
      for (const s of this.live) s.destroy();
      this.exit();
    }, gracePeriod).unref();
  }

  private exit(): void {
    if (this.exiting) return;
    this.exiting = true;
    this.stopReports();
    // Its last stick-counter increments (the primary takes back its live connections' gauges when it exits).
    flushStickTables();
    send({ type: 'drained', generation: this.generation });
    flushLogs();
    // The primary answers 'drained' by disconnecting us: it first takes this worker out of
    // the cluster's round robin, whose connections already on their way are then handed
    // back to it (listeners closed) and go to another worker. Exiting on our own instead
    // lost them: a connection sent to a worker that exits before reading it hangs in the
    // primary for good. The timer covers a primary that is gone.
    if (!process.connected) process.exit(0);
    process.once('disconnect', () => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  }
}

/** A client socket with its worker: one shared 'close' listener, no closure per connection. */
interface TrackedSocket extends net.Socket {
  tracker?: Worker;
}

function untrack(this: TrackedSocket): void {
  this.tracker!.untrack(this);
}

function send(msg: WorkerToPrimary): void {
  if (process.connected) process.send?.(msg);
}

/**
 * Stream high-water mark of every socket in a worker (client, server, TLS): libuv reads
 * up to 64 KiB at a time, and a lower mark (Node 20's 16 KiB default) turns every large
 * read into a write that reports backpressure, so a pause and a resume per chunk (L4
 * 64 KiB responses measured 5.1k → 9k req/s with 64 KiB). Node 22+ uses 64 KiB already.
 */
const SOCKET_HIGH_WATER_MARK = 65536;

function main(): void {
  setDefaultHighWaterMark(false, SOCKET_HIGH_WATER_MARK);
  const log = createLogger('worker', process.env.TSLB_LOG_LEVEL ?? 'info');
  const worker = new Worker(log);
  process.on('message', (m: unknown) => {
    if (!isPrimaryMessage(m)) return;
    switch (m.type) {
      case 'config':
        void worker.configure(m);
        break;
      case 'drain':
        worker.drain(m.gracePeriod);
        break;
      case 'servers':
        worker.runtime?.applyStates(m.updates);
        break;
      case 'certificate':
        worker.swapCertificate(m.certificate);
        break;
      case 'acme-tokens':
        setAcmeTokens(m.tokens);
        break;
      case 'reopen-logs':
        reopenAccessLogs();
        break;
      case 'peer-load':
        if (worker.runtime) applyPeerLoad(worker.runtime, m.active);
        break;
      case 'query':
        worker.answer(m);
        break;
    }
  });
  // The primary owns signals: a worker only stops when told (or when the primary dies).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => worker.drain(0));
  process.on('SIGHUP', () => undefined);
  process.on('disconnect', () => {
    if (!worker.draining) worker.drain(0);
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception in worker');
    flushLogs();
    process.exit(70);
  });
}

main();
