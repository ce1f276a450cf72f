/**
 * The worker's live objects, compiled once per config generation from the model:
 * backends with their server states and balancer, frontends with their compiled
 * routing. The data path (tcp.ts, http/) only calls into these.
 */
import type { Backend, Frontend, Model, Server } from '../config/model';
import type { BalancedServer, Balancer, BalanceKey } from '../balance/balancer';
import { balancers } from '../balance/registry';
import type { ServerStateUpdate } from '../ipc/messages';
import type { SampleContext } from '../rules/context';
import { compileCondition } from '../rules/compile';
import { Counters, newCounters } from './counters';

export class ServerRuntime implements BalancedServer {
  readonly index: number;
  readonly name: string;
  weight: number;
  active = 0;
  /** Load other workers placed on this server (leastconn/random read it). */
  peerActive = 0;
  maxconn: number;
  /** Operational state (health checks, decided by the primary). */
  up = true;
  admin: 'ready' | 'drain' | 'maint';
  readonly counters: Counters = newCounters();

  constructor(
    readonly config: Server,
    readonly backend: BackendRuntime,
    index: number,
  ) {
    this.index = index;
    this.name = config.name;
    this.weight = config.weight;
    this.maxconn = config.maxconn;
    this.admin = config.disabled ? 'maint' : 'ready';
  }

  /** May take new traffic (drain still serves persistent sessions only). */
  get usable(): boolean {
    return this.up && this.admin === 'ready' && this.weight > 0;
  }
}

export class BackendRuntime {
  readonly servers: ServerRuntime[];
  readonly byName = new Map<string, ServerRuntime>();
  readonly counters: Counters = newCounters();
  private readonly balancer: Balancer;

  constructor(readonly config: Backend) {
    this.servers = config.servers.map((s, i) => new ServerRuntime(s, this, i));
    for (const s of this.servers) this.byName.set(s.name, s);
    const def = balancers.get(config.balance.algorithm) ?? balancers.get('roundrobin')!;
    this.balancer = def.create(config);
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

  /** Recompute the eligible set after a state or weight change. */
  refresh(): void {
    this.balancer.reset(this.eligible());
  }

  pick(key: BalanceKey, avoid?: ServerRuntime): ServerRuntime | undefined {
    return this.balancer.pick(key, avoid) as ServerRuntime | undefined;
  }

  /** A connection/request now uses this server. */
  take(server: ServerRuntime): void {
    server.active++;
    this.balancer.taken?.(server);
  }

  release(server: ServerRuntime): void {
    server.active--;
    this.balancer.released?.(server);
  }

  applyState(u: ServerStateUpdate): boolean {
    const s = this.byName.get(u.server);
    if (!s) return false;
    s.up = u.up;
    s.admin = u.admin;
    s.weight = u.weight;
    if (u.maxconn !== undefined) s.maxconn = u.maxconn;
    return true;
  }
}

export type Router = (ctx: SampleContext) => BackendRuntime | undefined;

export class FrontendRuntime {
  readonly counters: Counters = newCounters();
  readonly route: Router;

  constructor(
    readonly config: Frontend,
    backends: Map<string, BackendRuntime>,
  ) {
    this.route = compileRouter(config, backends);
  }

  get name(): string {
    return this.config.name;
  }
}

/**
 * use_backend rules in order, then (for TLS-terminated http) SNI/Host → backend
 * from the backends' host names, then the default backend.
 */
function compileRouter(fe: Frontend, backends: Map<string, BackendRuntime>): Router {
  const rules = fe.useBackend.map((r) => ({
    test: compileCondition(r.condition, fe.mode === 'http' ? 'request' : 'connection'),
    backend: backends.get(r.backend)!,
  }));
  const hosts = new Map<string, BackendRuntime>();
  for (const h of fe.hostBackends) if (!hosts.has(h.host)) hosts.set(h.host.toLowerCase(), backends.get(h.backend)!);
  const fallback = fe.defaultBackend ? backends.get(fe.defaultBackend) : undefined;
  const byHost = fe.mode === 'http' && hosts.size > 0;
  return (ctx) => {
    for (let i = 0; i < rules.length; i++) if (rules[i].test(ctx)) return rules[i].backend;
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
export class Runtime {
  readonly backends = new Map<string, BackendRuntime>();
  readonly frontends: FrontendRuntime[];

  constructor(readonly model: Model) {
    for (const b of model.backends) this.backends.set(b.name, new BackendRuntime(b));
    this.frontends = model.frontends.map((f) => new FrontendRuntime(f, this.backends));
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
