/**
 * The hashing balancers' common machinery (source, uri, url_param, hdr): an
 * algorithm supplies the key's hash, this class maps it to a server.
 * - `hash-type map-based` (default): slot `hash % total weight` of the static map;
 *   a request without a key goes round robin over the same map.
 * - `hash-type consistent`: nearest point on the ring, weights dynamic; a request
 *   without a key goes smooth round robin. The key hash is always avalanched
 *   (fullHash) first, as HAProxy's `hash-type consistent sdbm avalanche`: raw sdbm
 *   of similar keys (/a/1, /a/2…) lands in clusters and skews the ring's shares.
 * A hashed server at maxconn is still returned (HAProxy's default
 * `hash-preserve-affinity always`): affinity wins and the caller queues on it.
 */
import type { Backend } from '../config/model';
import type { Balancer, BalancedServer, BalanceKey, BalancerDefinition } from './balancer';
import { HashRing, pointsPerUnit } from './chash';
import { fullHash } from './hash';
import { ServerMap } from './map';
import { SmoothRoundRobin } from './roundrobin';

/** A key's unsigned 32-bit hash, or -1 when the request has no key. */
export type KeyHasher = (key: BalanceKey) => number;

export interface HashAlgorithm {
  name: string;
  checkArgs(args: string[]): string | undefined;
  /** Builds the key hasher from validated arguments. */
  hasher(args: string[]): KeyHasher;
  /**
   * Hashes request data (uri, url_param, hdr). A tcp backend has none, so it
   * balances round robin instead, as HAProxy does ("Layer 7 hash not possible for
   * tcp proxy, falling back to roundrobin").
   */
  layer7: boolean;
}

class MapHashBalancer implements Balancer {
  private readonly map = new ServerMap();

  constructor(
    private readonly backend: Backend,
    private readonly hasher: KeyHasher,
  ) {}

  reset(eligible: BalancedServer[]): void {
    this.map.build(eligible, (s) => this.backend.servers[s.index].weight);
  }

  pick(key: BalanceKey, avoid?: BalancedServer): BalancedServer | undefined {
    const h = this.hasher(key);
    return h < 0 ? this.map.next(avoid) : this.map.byHash(h, avoid);
  }
}

class ConsistentHashBalancer implements Balancer {
  private readonly ring: HashRing;
  private readonly roundRobin = new SmoothRoundRobin();

  constructor(
    private readonly backend: Backend,
    private readonly hasher: KeyHasher,
  ) {
    this.ring = new HashRing(pointsPerUnit(backend.servers.map((s) => s.weight)));
  }

  reset(eligible: BalancedServer[]): void {
    this.ring.build(eligible, (s) => this.backend.servers[s.index].id);
    this.roundRobin.reset(eligible);
  }

  pick(key: BalanceKey, avoid?: BalancedServer): BalancedServer | undefined {
    const h = this.hasher(key);
    if (h < 0) return this.roundRobin.pick(key, avoid);
    return this.ring.lookup(fullHash(h), avoid);
  }
}

export function hashDefinition(algorithm: HashAlgorithm): BalancerDefinition {
  return {
    name: algorithm.name,
    checkArgs: algorithm.checkArgs,
    create: (backend) => {
      if (algorithm.layer7 && backend.mode === 'tcp') return new SmoothRoundRobin();
      const hasher = algorithm.hasher(backend.balance.args);
      return backend.balance.hashType === 'consistent'
        ? new ConsistentHashBalancer(backend, hasher)
        : new MapHashBalancer(backend, hasher);
    },
  };
}
