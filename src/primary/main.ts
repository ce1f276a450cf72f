/**
 * The primary process: owns the pidfile and signals, supervises workers, and (as
 * they land) runs health checks, stats, metrics and the runtime API.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import type { Model } from '../config/model';
import { createLogger, flushLogs } from '../log/logger';
import { AcmeManager } from './acme';
import { CertificateStore } from './certificates';
import { PeersReplication } from '../peers/replication';
import { HealthMonitor } from './health';
import { applyInitAddr } from './init-addr';
import { DnsDiscovery } from './resolvers';
import { Observability } from './observability';
import { resolveIdentity } from './privileges';
import { Supervisor } from './supervisor';
import { RedisCounters } from '../stick/redis';

export interface PrimaryOptions {
  files: string[];
  model: Model;
  pidfile?: string;
  debug: boolean;
}

/** Runs until stopped by a signal; resolves after a graceful stop. */
export async function runPrimary(opts: PrimaryOptions): Promise<void> {
  const { model } = opts;
  if (opts.debug) model.global.logLevel = 'debug';
  const log = createLogger('primary', model.global.logLevel);
  // Fail before binding anything when the configured user or group is missing.
  resolveIdentity(model.global.user, model.global.group);

  const pidfile = opts.pidfile ?? model.global.pidfile;
  if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);

  // Health checks run here; every state change reaches the serving workers at once.
  let health: HealthMonitor;
  const newMonitor = (m: Model) => {
    const monitor = new HealthMonitor(m, log, (updates) => supervisor.broadcast({ type: 'servers', updates }));
    // "N sessions active" in state-change messages, from the workers' counters.
    monitor.setSessionSource((b, s) => observability.stats.server(b, s)?.cur ?? 0);
    return monitor;
  };
  health = newMonitor(model);
  // DNS resolution moves servers through the monitor, as `set server addr` does.
  let discovery = new DnsDiscovery(model, health, log);
  // Replaced certificate files reach the serving workers (file watch, runtime API).
  const certificates = new CertificateStore({
    log,
    push: (certificate) => supervisor.sendServing({ type: 'certificate', certificate }),
    changed: () => observability.certificatesChanged(),
  });
  // ACME orders and renews global.acme's certificate, served through the store.
  const acme = new AcmeManager({
    log,
    pushTokens: (tokens) => supervisor.sendAll({ type: 'acme-tokens', tokens }),
    install: (file, text) => certificates.install(file, text),
    counted: (result) => observability.acmeCounted(result),
  });
  const supervisor: Supervisor = new Supervisor({
    files: opts.files,
    log,
    serverStates: () => health.snapshot(),
    // A reload's servers start where this generation's are (init-addr `last`).
    prepare: (m) => applyInitAddr(m, discovery.last),
    onWorkerMessage: (pid, msg) => {
      // Passive health: a worker saw error-limit consecutive errors on a server's traffic.
      if (msg.type === 'observed-errors') health.observed(msg.backend, msg.server, msg.errors, msg.last);
      // A worker started during an ACME order gets its tokens.
      if (msg.type === 'ready' && Object.keys(acme.pendingTokens()).length) supervisor.sendAll({ type: 'acme-tokens', tokens: acme.pendingTokens() });
      observability.onWorkerMessage(pid, msg);
    },
    onGeneration: (m, generation) => {
      certificates.setModel(m);
      acme.configure(m.global.acme);
      if (generation === 1) return;
      // A reload: carry server states over by name, then tell the new workers.
      const next = newMonitor(m);
      next.adopt(health);
      health.stop();
      health = next;
      health.start();
      const nextDiscovery = new DnsDiscovery(m, health, log);
      nextDiscovery.adopt(discovery);
      discovery.stop();
      discovery = nextDiscovery;
      discovery.start();
      supervisor.broadcast({ type: 'servers', updates: health.snapshot() });
      void observability.update(m);
      peers.update(m).catch((err: Error) => log.error({ event: 'peers-error', err: err.message }, `peers: ${err.message}`));
    },
  });
  // Stick tables naming a `peers` section are replicated with its members (src/peers/).
  const peers = new PeersReplication(supervisor.tables, log);
  const observability = new Observability(model, {
    log,
    peers,
    supervisor,
    health: () => health.health(),
    setAdmin: (b, s, a) => health.setAdmin(b, s, a),
    setWeight: (b, s, w) => health.setWeight(b, s, w),
    setMaxconn: (b, s, n) => health.setMaxconn(b, s, n),
    setAddress: (b, s, a, p) => health.setAddress(b, s, a, p),
    certificates,
    acme,
  });
  // Stick tables with `redis` count fleet-wide (src/stick/redis.ts).
  const fleet = new RedisCounters(log, (store, entries) => supervisor.tables.changed(store, entries));
  supervisor.tables.fleet = fleet;
  // Signal handlers before the start: a supervisor may signal as soon as the workers answer (a
  // HEALTHCHECK passes before the stats and API listeners are bound); what comes during the start
  // waits for its end instead of killing the process with the default action.
  let started!: () => void;
  const startup = new Promise<void>((resolve) => (started = resolve));
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ event: 'stopping', signal }, `${signal} received: stopping gracefully`);
      health.stop();
      discovery.stop();
      certificates.stop();
      acme.stop();
      peers.stop();
      void observability
        .close()
        .then(() => supervisor.stop())
        .then(() => fleet.close())
        .then(resolve);
    };
    process.on('SIGTERM', () => void startup.then(() => stop('SIGTERM')));
    process.on('SIGINT', () => void startup.then(() => stop('SIGINT')));
    const reload = (signal: string) => {
      log.info({ event: 'reload', signal }, `${signal} received: reloading configuration`);
      void supervisor.reload();
    };
    process.on('SIGHUP', () => void startup.then(() => reload('SIGHUP')));
    // logrotate: workers reopen their access-log files.
    process.on('SIGUSR1', () => supervisor.sendAll({ type: 'reopen-logs' }));
    process.on('SIGUSR2', () => void startup.then(() => reload('SIGUSR2')));
  });
  try {
    await supervisor.start(model);
    health.start();
    discovery.start();
    await peers.update(model);
    await observability.start();
  } catch (err) {
    log.fatal({ event: 'start-failed' }, `cannot start: ${(err as Error).message}`);
    await supervisor.stop();
    removePidfile(pidfile);
    flushLogs();
    process.exit(1);
  }
  log.info(
    { event: 'ready', generation: supervisor.generation, workers: supervisor.workerPids(), pid: process.pid },
    `tslb ready: ${model.global.workers} worker(s) serving generation ${supervisor.generation}`,
  );
  started();

  await stopped;
  log.info({ event: 'stopped' }, 'all workers stopped');
  removePidfile(pidfile);
  flushLogs();
  process.exit(0);
}

function removePidfile(pidfile: string | undefined): void {
  if (!pidfile) return;
  try {
    unlinkSync(pidfile);
  } catch {
    // already gone
  }
}
