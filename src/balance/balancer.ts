/**
 * The balancer interface: one module per algorithm behind it (like HAProxy's lb_*.c),
 * registered in src/balance/registry.ts. A balancer only ever sees the servers that
 * are currently eligible (the backend runtime decides active vs backup, UP vs DOWN,
 * maintenance and weight 0) and picks one of them per connection or request.
 */
import type { Backend } from '../config/model';

/** A server as seen by balancers: its live, per-worker view. */
export interface BalancedServer {
  /** Position in the backend's server list. */
  readonly index: number;
  readonly name: string;
  /** Effective weight (user weight, possibly scaled by slowstart/agent). */
  weight: number;
  /** Connections/requests this worker currently has on the server. */
  active: number;
  /** Upper bound on `active` (0 = unlimited): this worker's share of the server's maxconn. */
  maxconn: number;
  /**
   * Connections the other workers hold on the server, as last reported through the
   * primary (absent or 0 with one worker). Load-aware algorithms (leastconn,
   * random) compare `active + peerActive`; maxconn checks use `active` alone.
   */
  peerActive?: number;
}

/** At its maxconn (this worker's share of it): a request placed there must queue. */
export function isFull(s: BalancedServer): boolean {
  return s.maxconn > 0 && s.active >= s.maxconn;
}

/** The server's load across the cluster, as best this worker knows it. */
export function clusterLoad(s: BalancedServer): number {
  return s.active + (s.peerActive ?? 0);
}

/** What a hashing balancer may look at. Fields not relevant to the mode are empty. */
export interface BalanceKey {
  /** Client address as seen by rules (after PROXY protocol). */
  src: string;
  /** Request path without query (http only). */
  path: string;
  /** Request target as received (http only). */
  uri: string;
  /** A request header's first value (http only). */
  header(name: string): string | undefined;
}

export interface Balancer {
  /** The set of eligible servers changed (state, weight, admin): rebuild any tables. */
  reset(eligible: BalancedServer[]): void;
  /**
   * Pick a server for this key. `avoid` is a server that just failed (redispatch):
   * it is only returned when no other server is eligible.
   * Returns undefined when nothing is eligible. The result may be at its maxconn
   * (`active >= maxconn`): every candidate was full, or a hashing algorithm kept
   * the key's affinity (HAProxy `hash-preserve-affinity always`). The caller then
   * queues the request rather than exceed maxconn.
   */
  pick(key: BalanceKey, avoid?: BalancedServer): BalancedServer | undefined;
  /** A connection/request was placed on / released from a server (leastconn needs it). */
  taken?(server: BalancedServer): void;
  released?(server: BalancedServer): void;
}

export interface BalancerDefinition {
  /** HAProxy keyword, e.g. `roundrobin`. */
  name: string;
  /** Validates `balance` arguments at config-check time; returns an error message or undefined. */
  checkArgs(args: string[]): string | undefined;
  create(backend: Backend): Balancer;
}
