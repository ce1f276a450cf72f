/**
 * The worker's live objects, compiled once per config generation from the model:
 * backends with their server states and balancer, frontends with their compiled
 * routing. The data path (tcp.ts, http/) only calls into these.
 *
 * Server slots and queueing (HAProxy `maxconn` / `maxqueue` / `timeout queue`),
 * shared by L4 and L7 through `BackendRuntime.acquire`:
 * - A request either gets a slot at once or waits FIFO in the queue of one server:
 *   the server its persistence (cookie, stick table) or hash names, or else the one
 *   the balancer chose. A slot freed on a server goes to its own oldest waiter,
 *   or, when it has none, to the oldest waiter of the backend not bound to a
 *   server (so a non-persistent request is served by whichever server frees first,
 *   as HAProxy's backend queue does).
 * - `maxqueue` bounds a server's queue; when it is full the request tries another
 *   server (room, then queue room), and gets 503 when none has any.
 * - A waiter still queued after `timeout queue` gets 503. Waiters bound to a
 *   server that goes down wait for it (or the timeout); unbound ones move on.
 * - With several workers, a server's maxconn slots belong to the primary
 *   (src/primary/slots.ts) and are leased to workers (src/worker/cluster-state.ts):
 *   the cluster never has more than maxconn requests on a server. Queues stay per
 *   worker, so `maxqueue` bounds each worker's queue of the server.
 */
import { setMaxHeaders } from '../http/head';
import { setRequestBufferSize } from '../http/request-body';
import { setCompressionLimits } from '../http/compression-limits';
import type { Backend, Frontend, Global, Model, Server } from '../config/model';
import type { BalancedServer, Balancer, BalanceKey } from '../balance/balancer';
import { balancers } from '../balance/registry';
import type { ServerStateUpdate } from '../ipc/messages';
import type { SampleContext } from '../rules/context';
import { compileFirstMatch, compileNameTemplate } from '../rules/compile';
import { frontendReadsPayload } from '../rules/fetches';
import { setUserlists } from '../auth/userlists';
import { loadPatternFiles } from '../rules/patterns';
import { setProxyStates, type ProxyStates } from '../rules/proxy-state';
import { Counters, newCounters, queueEntered } from './counters';
import { leaseSlots, reportWant, returnSlots } from './cluster-state';
import { StickTable } from './stick';
import { stickTable, useStickTables } from '../stick/worker';
import { compileTcpRules, type TcpRuleSets } from '../stick/tcp-rules';
import { closeIdleTo } from '../http/pool';
import { retireH2Links } from '../http2/upstream-pool';
import { compilePipeline, Pipeline } from '../http/pipeline';
import { useCaches } from '../http/cache/store';
import { HTTP_MODULES } from '../http/modules';
import { passiveHealthFor, serverStateChanged, type PassiveHealth } from './passive-health';
import { deadlineAfter } from './deadline';
import { Fifo, QueueEntry, type SlotWaiter } from './queue';

/** The pipeline of a tcp proxy: no L7 module. */
const NO_MODULES = new Pipeline();

/** Slowstart weight steps per period. */
const SLOWSTART_STEPS = 20;
/** Hashing algorithms keep a key on its server: a full one queues there. */
const HASHING = new Set(['source', 'uri', 'url_param', 'hdr']);

function grantWaiter(waiter: SlotWaiter, server: ServerRuntime): void {
  waiter.slotGranted(server);
}

export class ServerRuntime implements BalancedServer {
  readonly index: number;
  readonly name: string;
  /** Effective weight: `userWeight`, scaled down while slowstart ramps it up. */
  weight: number;
  /** Weight from the config, the runtime API or an agent. */
  userWeight: number;
  /** When slowstart began ramping the weight (0 = not ramping). */
  rampStart = 0;
  active = 0;
  /** Load other workers placed on this server (leastconn/random read it). */
  peerActive = 0;
  maxconn: number;
  /** Where to connect; the runtime API may move the server (`set server B/S addr`). */
  address: string;
  port: number;
  /** Address (or port) changes so far: a connection opened before the last one leads to the old address. */
  moves = 0;
  /** Operational state (health checks, decided by the primary). */
  up = true;
  admin: 'ready' | 'drain' | 'maint';
  readonly counters: Counters = newCounters();
  /** Value of the persistence cookie naming this server (`cookie` keyword, else its name). */
  readonly cookieValue: string;
  /** `backend/server`, the key of cluster messages. */
  readonly key: string;
  readonly queue = new Fifo<QueueEntry>();
  /** Live entries in `queue`. */
  queued = 0;
  /** Cluster mode: slots leased from the primary; `active` never exceeds it. */
  slots = 0;
  /** Cluster mode: most slots to keep when others wait (-1 = no limit). */
  keep = -1;
  /** Cluster mode: the queue length last reported to the primary. */
  reportedWant = 0;
  /** `observe` / `on-marked-down` / `on-marked-up` state (./passive-health.ts); null without those keywords. */
  readonly passive: PassiveHealth | null;

  constructor(
    readonly config: Server,
    readonly backend: BackendRuntime,
    index: number,
  ) {
    this.index = index;
    this.name = config.name;
    this.weight = config.weight;
    this.userWeight = config.weight;
    this.maxconn = config.maxconn;
    this.address = config.address;
    this.port = config.port;
    // No address yet (DNS, init-addr none): in maintenance until the primary sends one.
    this.admin = config.disabled || config.address === '' ? 'maint' : 'ready';
    this.cookieValue = config.cookie ?? config.name;
    this.key = `${backend.name}/${config.name}`;
    this.passive = passiveHealthFor(config, backend.config);
  }

  /** May take new traffic (drain still serves persistent sessions only). */
  get usable(): boolean {
    return this.up && this.admin === 'ready' && this.weight > 0;
  }

  /** May serve a request that persistence (cookie, stick table) sends to it: up and not in maintenance. */
  get persistable(): boolean {
    return this.up && this.admin !== 'maint';
  }

  /** A slot is free for one more request (in this worker's lease, with several workers). */
  get hasRoom(): boolean {
    return this.maxconn === 0 || this.active < (this.backend.leased ? Math.min(this.slots, this.maxconn) : this.maxconn);
  }
}

export class BackendRuntime {
  readonly servers: ServerRuntime[];
  readonly byName = new Map<string, ServerRuntime>();
  /** Servers by persistence cookie value. */
  readonly byCookie = new Map<string, ServerRuntime>();
  readonly counters: Counters = newCounters();
  readonly stick: StickTable | undefined;
  /** The L7 modules this backend uses (src/http/pipeline.ts), compiled with the runtime. */
  readonly pipeline: Pipeline;
  private readonly balancer: Balancer;
  private readonly hashing: boolean;
  private eligibleNow: ServerRuntime[] = [];
  /** Live waiters in all server queues. */
  queued = 0;
  private arrived = 0;
  /** Every queue entry in arrival order, for `timeout queue` (one timer per backend). */
  private readonly arrivals = new Fifo<QueueEntry>();
  private queueTimer: NodeJS.Timeout | undefined;
  private rampTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: Backend,
    /** Several workers: maxconn slots are leased from the primary. */
    readonly leased = false,
  ) {
    this.servers = config.servers.map((s, i) => new ServerRuntime(s, this, i));
    for (const s of this.servers) {
      this.byName.set(s.name, s);
      if (!this.byCookie.has(s.cookieValue)) this.byCookie.set(s.cookieValue, s);
    }
    const def = balancers.get(config.balance.algorithm) ?? balancers.get('roundrobin')!;
    this.balancer = def.create(config);
    // tcp backends run the http-only hashes as roundrobin (src/balance); source hashes in both.
    this.hashing = HASHING.has(config.balance.algorithm) && (config.mode === 'http' || config.balance.algorithm === 'source');
    if (config.stick) this.stick = new StickTable(config.stick, stickTable(config.name)!, this);
    this.pipeline = config.mode === 'http' ? compilePipeline(HTTP_MODULES, { kind: 'backend', config, runtime: this }) : NO_MODULES;
    this.refresh();
  }

  get name(): string {
    return this.config.name;
  }

  /**
   * Active servers that can take traffic; when none, the backups (the first one,
   * or all of them with `option allbackups`), as HAProxy does.
   */
  eligible(): ServerRuntime[] {
    const active = this.servers.filter((s) => !s.config.backup && s.usable);
    if (active.length) return active;
    const backups = this.servers.filter((s) => s.config.backup && s.usable);
    return this.config.allBackups ? backups : backups.slice(0, 1);
  }

  /** Servers taking new traffic (`nbsrv`): the active ones, else the backups in use. */
  get usableServers(): number {
    return this.eligibleNow.length;
  }

  /** Recompute the eligible set after a state or weight change. */
  refresh(): void {
    this.eligibleNow = this.eligible();
    this.balancer.reset(this.eligibleNow);
    // A raised maxconn or a new lease may let waiters through.
    if (this.queued) for (const s of this.servers) this.serve(s);
  }

  pick(key: BalanceKey, avoid?: ServerRuntime): ServerRuntime | undefined {
    return this.balancer.pick(key, avoid) as ServerRuntime | undefined;
  }

  /**
   * A server slot for this request: `forced` (persistence) when set, else the
   * balancer's pick (avoiding `avoid`). Returns the server with its slot taken;
   * null when the waiter was queued (it hears back through slotGranted or
   * queueTimedOut); undefined when no server can take it (503).
   */
  acquire(key: BalanceKey, avoid: ServerRuntime | undefined, forced: ServerRuntime | undefined, waiter: SlotWaiter): ServerRuntime | null | undefined {
    const s = forced ?? this.pick(key, avoid);
    if (!s) return undefined;
    const bound = forced !== undefined || this.hashing;
    if (s.queued === 0 && s.hasRoom) {
      this.take(s);
      return s;
    }
    if (!bound) {
      const other = this.roomiest();
      if (other) {
        this.take(other);
        return other;
      }
    }
    if (s.config.maxqueue === 0 || s.queued < s.config.maxqueue) return this.enqueue(s, bound, waiter);
    // That queue is full: another server, with room or else with queue room (HAProxy redispatches).
    const alt = this.pick(key, s);
    if (!alt || alt === s) return undefined;
    if (alt.queued === 0 && alt.hasRoom) {
      this.take(alt);
      return alt;
    }
    if (alt.config.maxqueue === 0 || alt.queued < alt.config.maxqueue) return this.enqueue(alt, false, waiter);
    return undefined;
  }

  /** The eligible server with room and the lowest load per weight, if any. */
  private roomiest(): ServerRuntime | undefined {
    let best: ServerRuntime | undefined;
    for (const s of this.eligibleNow) {
      if (s.queued || !s.hasRoom || s.weight === 0) continue;
      if (!best || (s.active + 1) * best.weight < (best.active + 1) * s.weight) best = s;
    }
    return best;
  }

  private enqueue(s: ServerRuntime, bound: boolean, waiter: SlotWaiter): null {
    const timeout = this.config.timeouts.queue;
    const entry = new QueueEntry(waiter, s, bound, deadlineAfter(Date.now(), timeout), this.arrived++);
    waiter.queueEntry = entry;
    s.queue.push(entry);
    s.queued++;
    this.queued++;
    queueEntered(s.counters);
    queueEntered(this.counters);
    if (entry.deadline) {
      this.arrivals.push(entry);
      if (!this.queueTimer) this.armQueueTimer(timeout);
    }
    if (this.leased) reportWant(s);
    return null;
  }

  /** The waiter gave up (client gone). */
  cancelWait(waiter: SlotWaiter): void {
    const e = waiter.queueEntry;
    if (!e) return;
    this.unqueue(e);
    if (this.leased) reportWant(e.server);
  }

  private unqueue(e: QueueEntry): void {
    e.live = false;
    e.waiter.queueEntry = null;
    e.server.queued--;
    this.queued--;
    e.server.counters.queueCur--;
    this.counters.queueCur--;
  }

  private armQueueTimer(ms: number): void {
    this.queueTimer = setTimeout(() => this.expireWaiters(), Math.max(1, ms));
    this.queueTimer.unref();
  }

  private expireWaiters(): void {
    this.queueTimer = undefined;
    const now = Date.now();
    for (let e = this.arrivals.peek(); e; e = this.arrivals.peek()) {
      if (!e.live) {
        this.arrivals.shift();
        continue;
      }
      if (e.deadline > now) return this.armQueueTimer(e.deadline - now);
      this.arrivals.shift();
      this.unqueue(e);
      if (this.leased) reportWant(e.server);
      e.waiter.queueTimedOut();
    }
  }

  /** A connection/request now uses this server. */
  take(server: ServerRuntime): void {
    server.active++;
    this.balancer.taken?.(server);
  }

  /** The request is done with the server: its slot goes to the next waiter (or back to the primary). */
  release(server: ServerRuntime): void {
    server.active--;
    this.balancer.released?.(server);
    if (this.leased && server.maxconn > 0) {
      // Others wait for this server in other workers: give the slot back rather than keep it.
      if (server.keep >= 0 && server.slots > server.keep) return returnSlots(server, 1);
    }
    if (this.queued) this.serve(server);
  }

  /** Hand free slots of `s` to waiters: its own first, then unbound ones queued elsewhere. */
  serve(s: ServerRuntime): void {
    while (this.queued && s.hasRoom) {
      let e: QueueEntry | undefined;
      while ((e = s.queue.peek()) && !e.live) s.queue.shift();
      if (e) s.queue.shift();
      else if (this.queued > s.queued && s.usable) e = this.oldestUnbound();
      if (!e) break;
      this.unqueue(e);
      if (e.server !== s && this.leased) reportWant(e.server);
      this.take(s);
      process.nextTick(grantWaiter, e.waiter, s);
    }
    if (this.leased) reportWant(s);
  }

  private oldestUnbound(): QueueEntry | undefined {
    let best: QueueEntry | undefined;
    for (const other of this.servers) {
      if (!other.queued) continue;
      for (const e of other.queue) {
        if (!e.live || e.bound) continue;
        if (!best || e.seq < best.seq) best = e;
        break;
      }
    }
    return best;
  }

  /** Cluster mode: the primary granted slots of `s`. */
  granted(s: ServerRuntime, count: number): void {
    s.slots += count;
    this.serve(s);
    this.trimLease(s);
  }

  /** Cluster mode: the primary set how many slots of `s` to keep while others wait. */
  setKeep(s: ServerRuntime, keep: number): void {
    s.keep = keep;
    this.trimLease(s);
  }

  /** Give back idle slots above the keep limit. */
  private trimLease(s: ServerRuntime): void {
    if (s.keep < 0 || s.queued) return;
    const idle = Math.min(s.slots - s.active, s.slots - s.keep);
    if (idle > 0) returnSlots(s, idle);
  }

  applyState(u: ServerStateUpdate): boolean {
    const s = this.byName.get(u.server);
    if (!s) return false;
    const wasUsable = s.up && s.admin === 'ready';
    const wasServing = s.up && s.admin !== 'maint';
    s.up = u.up;
    s.admin = u.admin;
    s.userWeight = u.weight;
    if (s.config.slowstart > 0 && !wasUsable && s.up && s.admin === 'ready') s.rampStart = Date.now();
    s.weight = this.effectiveWeight(s, Date.now());
    if (s.rampStart && !this.rampTimer) this.startRamp();
    if (u.maxconn !== undefined && u.maxconn !== s.maxconn) {
      s.maxconn = u.maxconn;
      // The primary learns a server's limit from the workers' messages: send one now.
      if (this.leased) {
        s.reportedWant = -1;
        reportWant(s);
      }
    }
    if ((u.address !== undefined && u.address !== s.address) || (u.port !== undefined && u.port !== s.port)) {
      s.address = u.address ?? s.address;
      s.port = u.port ?? s.port;
      s.moves++;
      // Pooled connections lead to the old address (busy ones are not pooled again: parkIdle).
      closeIdleTo(s);
      retireH2Links(s);
    }
    serverStateChanged(s, wasServing);
    return true;
  }

  /** Slowstart: the weight grows linearly from 1 to the user weight over the period. */
  private effectiveWeight(s: ServerRuntime, now: number): number {
    if (!s.rampStart) return s.userWeight;
    const elapsed = now - s.rampStart;
    if (elapsed >= s.config.slowstart) {
      s.rampStart = 0;
      return s.userWeight;
    }
    if (s.userWeight === 0) return 0;
    return Math.max(1, Math.ceil((s.userWeight * elapsed) / s.config.slowstart));
  }

  private startRamp(): void {
    let period = 0;
    for (const s of this.servers) if (s.rampStart) period = Math.max(period, s.config.slowstart);
    this.rampTimer = setInterval(() => {
      const now = Date.now();
      let ramping = false;
      for (const s of this.servers) {
        if (!s.rampStart) continue;
        s.weight = this.effectiveWeight(s, now);
        if (s.rampStart) ramping = true;
      }
      this.refresh();
      if (!ramping) {
        clearInterval(this.rampTimer);
        this.rampTimer = undefined;
      }
    }, Math.max(50, Math.floor(period / SLOWSTART_STEPS)));
    this.rampTimer.unref();
  }
}

export type Router = (ctx: SampleContext) => BackendRuntime | undefined;

export class FrontendRuntime {
  readonly counters: Counters = newCounters();
  readonly route: Router;
  /** A tcp frontend whose routing (or a backend's `stick on`) reads the ClientHello: connections wait for it. */
  readonly inspectsHello: boolean;
  /** The L7 modules this frontend uses (src/http/pipeline.ts), compiled with the runtime. */
  readonly pipeline: Pipeline;
  /** tcp-request rules by stage (src/stick/tcp-rules.ts); undefined without any. */
  readonly tcpRules: TcpRuleSets | undefined;

  constructor(
    readonly config: Frontend,
    backends: Map<string, BackendRuntime>,
    global: Global,
  ) {
    this.route = compileRouter(config, backends);
    this.pipeline = config.mode === 'http' ? compilePipeline(HTTP_MODULES, { kind: 'frontend', config, global }) : NO_MODULES;
    this.tcpRules = compileTcpRules(config.tcpRequest);
    this.inspectsHello = frontendReadsPayload(config, (name) => backends.get(name)?.config.stick);
  }

  get name(): string {
    return this.config.name;
  }
}

/**
 * use_backend rules in order, then (for TLS-terminated http) SNI/Host → backend
 * from the backends' host names, then the default backend. A rule with a dynamic
 * name whose name is no backend of the frontend's mode ends the rules with the
 * default backend, as HAProxy's does.
 */
function compileRouter(fe: Frontend, backends: Map<string, BackendRuntime>): Router {
  const firstRule = compileFirstMatch(
    fe.useBackend.map((r) => r.condition),
    fe.mode === 'http' ? 'request' : 'connection',
  );
  const targets = fe.useBackend.map((r) => backends.get(r.backend));
  const named = fe.useBackend.map((r) => (r.backendName ? compileNameTemplate(r.backendName) : undefined));
  const hosts = new Map<string, BackendRuntime>();
  for (const h of fe.hostBackends) if (!hosts.has(h.host)) hosts.set(h.host.toLowerCase(), backends.get(h.backend)!);
  const fallback = fe.defaultBackend ? backends.get(fe.defaultBackend) : undefined;
  const byHost = fe.mode === 'http' && hosts.size > 0;
  return (ctx) => {
    const i = firstRule(ctx);
    if (i >= 0) {
      const name = named[i];
      if (name === undefined) return targets[i];
      const b = backends.get(name(ctx));
      return b !== undefined && b.config.mode === fe.mode ? b : fallback;
    }
    if (byHost) {
      const name = ctx.sni ?? stripPort(ctx.header('host'));
      if (name) {
        const b = hosts.get(name.toLowerCase());
        if (b) return b;
      }
    }
    return fallback;
  };
}

function stripPort(host: string | undefined): string | undefined {
  if (!host) return undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

/** Everything one config generation runs on. */
export class Runtime implements ProxyStates {
  readonly backends = new Map<string, BackendRuntime>();
  readonly frontends: FrontendRuntime[];

  constructor(readonly model: Model) {
    // Before compiling: ACLs with -f and map converters look their files up, nbsrv/be_conn/fe_conn read this runtime.
    loadPatternFiles(model.patternFiles);
    setMaxHeaders(model.global.maxHeaders);
    setRequestBufferSize(model.global.bufSize);
    setCompressionLimits(model.global.maxCompRate ?? 0, model.global.maxCompCpuUsage ?? 100, model.global.workers);
    setProxyStates(this);
    // Before the proxies: `stick on`, tcp-request rules and fetches find their tables there.
    useStickTables(model);
    // Before the proxies: cache-use / cache-store rules find their cache there.
    useCaches(model.caches ?? [], model.global.workers);
    const leased = leaseSlots(this, model.global.workers);
    for (const b of model.backends) this.backends.set(b.name, new BackendRuntime(b, leased));
    setUserlists(model.userlists ?? []);
    this.frontends = model.frontends.map((f) => new FrontendRuntime(f, this.backends, model.global));
  }

  usableServers(backend: string): number {
    return this.backends.get(backend)?.usableServers ?? 0;
  }

  backendConnections(backend: string): number {
    const b = this.backends.get(backend);
    if (!b) return 0;
    let n = b.counters.sessCur;
    for (const s of b.servers) n += s.peerActive;
    return n;
  }

  frontendConnections(frontend: string): number {
    // A handful of frontends: a scan.
    for (let i = 0; i < this.frontends.length; i++) if (this.frontends[i].name === frontend) return this.frontends[i].counters.sessCur;
    return 0;
  }

  applyStates(updates: ServerStateUpdate[]): void {
    const touched = new Set<BackendRuntime>();
    for (const u of updates) {
      const b = this.backends.get(u.backend);
      if (b && b.applyState(u)) touched.add(b);
    }
    for (const b of touched) b.refresh();
  }
}
