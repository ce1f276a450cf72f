/**
 * One entry point for the primary: aggregates worker counters and serves them on the
 * runtime API socket, the stats page and the Prometheus endpoint, each bound only when
 * the model asks for it.
 */
import type { Model } from '../config/model';
import type { WorkerToPrimary } from '../ipc/messages';
import type { Logger } from '../log/logger';
import type { AcmeManager } from './acme';
import type { CertificateStore } from './certificates';
import { PrometheusExporter } from './prometheus';
import type { FleetStatus, PrimaryStickTables } from '../stick/primary';
import type { PeersReplication } from '../peers/replication';
import { RuntimeApi, type AskWorkers } from './runtime-api';
import { StatsPage } from './stats-page';
import { StatsAggregator, type ServerControl, type ServerHealthView, type StatsView } from './stats';
import { buildInfo } from './stats-info';
import { buildRows, type StatRow } from './stats-rows';

export interface ObservabilityDeps {
  log: Logger;
  supervisor: {
    generation: number;
    workerPids(): number[];
    reload(): Promise<boolean>;
    /** Asks the live workers (show sess, show errors, set maxconn frontend|global). */
    query?: AskWorkers;
    /** The stick tables (show/clear/set table). */
    tables?: PrimaryStickTables;
  };
  /** Server states from the health monitor (empty until it runs: states then come from the config). */
  health: () => ServerHealthView[];
  setAdmin(b: string, s: string, a: 'ready' | 'drain' | 'maint'): string;
  setWeight(b: string, s: string, w: number): string;
  /** A server's maxconn set at run time (the monitor sends it to the workers with the state). */
  setMaxconn?(b: string, s: string, maxconn: number): string;
  /** A server's address and port set at run time (checks and new connections follow them). */
  setAddress?(b: string, s: string, address: string, port: number): string;
  /** Served certificate files (`show/set/commit/abort ssl cert`). */
  certificates?: CertificateStore;
  /** `acme renew` / `acme status`. */
  acme?: AcmeManager;
  /** `show peers`, and ActivePeers/ConnectedPeers in `show info`. */
  peers?: PeersReplication;
}

const TICK = 1000;

// Compiled to <outDir>/src/primary/, three levels below the package root (as src/cli/main.ts reads it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = (require('../../../package.json') as { version: string }).version;

export class Observability implements StatsView {
  readonly stats: StatsAggregator;
  private current: Model;
  private runtimeApi?: RuntimeApi;
  private prometheus?: PrometheusExporter;
  private statsPage?: StatsPage;
  private readonly startedAt = Date.now();
  private stopping = false;
  private timer?: NodeJS.Timeout;
  private readonly control: ServerControl;

  constructor(
    model: Model,
    private readonly deps: ObservabilityDeps,
  ) {
    this.current = model;
    this.stats = new StatsAggregator(model);
    this.control = {
      setAdmin: (b, s, a) => deps.setAdmin(b, s, a),
      setWeight: (b, s, w) => deps.setWeight(b, s, w),
      setMaxconn: deps.setMaxconn && ((b, s, n) => deps.setMaxconn!(b, s, n)),
      setAddress: deps.setAddress && ((b, s, a, p) => deps.setAddress!(b, s, a, p)),
      reload: () => deps.supervisor.reload(),
    };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.stats.tick(this.deps.supervisor.workerPids()), TICK);
    this.timer.unref();
    await this.bind();
  }

  onWorkerMessage(pid: number, msg: WorkerToPrimary): void {
    if (msg.type === 'counters') this.stats.apply(pid, msg.delta);
  }

  async update(model: Model): Promise<void> {
    const previous = this.current;
    this.current = model;
    this.stats.update(model);
    if (JSON.stringify(previous.runtimeApi) !== JSON.stringify(model.runtimeApi)) {
      await this.runtimeApi?.close();
      this.runtimeApi = undefined;
      await this.bindRuntimeApi();
    }
    if (JSON.stringify(previous.prometheus) !== JSON.stringify(model.prometheus)) {
      await this.prometheus?.close();
      this.prometheus = undefined;
      await this.bindPrometheus();
    } else this.prometheus?.setModel(model);
    if (JSON.stringify(previous.stats) !== JSON.stringify(model.stats)) {
      await this.statsPage?.close();
      this.statsPage = undefined;
      await this.bindStatsPage();
    }
  }

  readonly acmeRenewals = { success: 0, failure: 0 };

  stickRedis(): FleetStatus[] {
    const tables = this.deps.supervisor.tables;
    const out: FleetStatus[] = [];
    for (const store of tables?.list() ?? []) {
      const s = tables!.fleet?.status(store);
      if (s) out.push(s);
    }
    return out;
  }

  acmeCounted(result: 'success' | 'failure'): void {
    this.acmeRenewals[result]++;
  }

  /** A certificate file was replaced at run time: the expiry gauge follows it. */
  certificatesChanged(): void {
    this.prometheus?.setModel(this.current);
  }

  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.runtimeApi?.close();
    this.runtimeApi = undefined;
    await this.prometheus?.close();
    this.prometheus = undefined;
    await this.statsPage?.close();
    this.statsPage = undefined;
  }

  // ---------------------------------------------------------------- StatsView
  model(): Model {
    return this.current;
  }

  health(): ServerHealthView[] {
    return this.deps.health();
  }

  rows(): StatRow[] {
    return buildRows({ model: this.current, stats: this.stats, health: this.deps.health(), now: Date.now() });
  }

  info(): [string, string | number][] {
    return buildInfo(
      { model: this.current, stats: this.stats, health: [], now: Date.now() },
      { startedAt: this.startedAt, workers: this.current.global.workers, stopping: this.stopping, peers: this.deps.peers?.counts() },
      VERSION,
    );
  }

  /** The TCP port of the runtime API when it listens on one (tests bind port 0). */
  runtimeApiPort(): number | undefined {
    return this.runtimeApi?.tcpPort();
  }

  /** The Prometheus listener's port (tests bind port 0). */
  prometheusPort(): number | undefined {
    return this.prometheus?.port;
  }

  /** The stats page listener's port (tests bind port 0). */
  statsPagePort(): number | undefined {
    return this.statsPage?.port;
  }

  private async bind(): Promise<void> {
    await this.bindRuntimeApi();
    await this.bindPrometheus();
    await this.bindStatsPage();
  }

  private async bindStatsPage(): Promise<void> {
    const settings = this.current.stats;
    if (!settings) return;
    const page = new StatsPage(settings, this, this.control, VERSION);
    await page.listen();
    this.statsPage = page;
    this.deps.log.info({ event: 'stats-page', address: settings.address, port: page.port, uri: settings.uri }, 'stats page listening');
  }

  private async bindPrometheus(): Promise<void> {
    const settings = this.current.prometheus;
    if (!settings) return;
    const tables = this.deps.supervisor.tables;
    const exporter = new PrometheusExporter(settings, this, VERSION, tables && (() => tables.list()));
    await exporter.listen();
    this.prometheus = exporter;
    this.deps.log.info({ event: 'prometheus', address: settings.address, port: exporter.port, uri: settings.uri }, 'Prometheus exporter listening');
  }

  private async bindRuntimeApi(): Promise<void> {
    const settings = this.current.runtimeApi;
    if (!settings || (!settings.socketPath && !settings.tcp)) return;
    const supervisor = this.deps.supervisor;
    const api = new RuntimeApi(settings, this, this.control, supervisor.query && ((what, args) => supervisor.query!(what, args)), this.deps.certificates, supervisor.tables, this.deps.acme, this.deps.peers);
    await api.listen();
    this.runtimeApi = api;
    this.deps.log.info({ event: 'runtime-api', socket: settings.socketPath, tcp: settings.tcp }, 'runtime API listening');
  }
}
