/**
 * Consistent hashing ring (HAProxy's lb_chash.c): each server owns
 * `weight × nodesPerUnit` points placed at fullHash(id·65536 + n); a key goes to
 * the nearest point (either side, as HAProxy does). A server's points depend only
 * on its id and weight, so removing one of N servers moves only the keys it held
 * (about 1/N), and weight changes move only the keys of the changed server.
 */
import type { BalancedServer } from './balancer';
import { fullHash } from './hash';

/** Upper bound on ring points for the configured weights, to keep rebuilds cheap. */
const RING_BUDGET = 65536;
/** Points per unit of weight when weights are small: ±8% share spread at weight 1. */
const MAX_POINTS_PER_UNIT = 160;

/** Points per unit of weight for a backend, fixed for its lifetime so rebuilds agree. */
export function pointsPerUnit(configuredWeights: readonly number[]): number {
  let total = 0;
  for (const w of configuredWeights) total += w;
  return Math.max(1, Math.min(MAX_POINTS_PER_UNIT, Math.floor(RING_BUDGET / Math.max(1, total))));
}

export class HashRing {
  private points = new Uint32Array(0);
  private owners: BalancedServer[] = [];

  constructor(private readonly perUnit: number) {}

  get size(): number {
    return this.points.length;
  }

  /** `idOf` gives a server's stable id (HAProxy `id`), which places its points. */
  build(eligible: readonly BalancedServer[], idOf: (s: BalancedServer) => number): void {
    const servers = eligible.filter((s) => s.weight > 0);
    const counts = servers.map((s) => Math.min(65536, Math.max(1, Math.round(s.weight * this.perUnit))));
    let count = 0;
    for (const c of counts) count += c;
    // position · 2^16 + server slot packs into a double exactly (48 bits), so one
    // native numeric sort orders the whole ring.
    const packed = new Float64Array(count);
    let k = 0;
    for (let slot = 0; slot < servers.length; slot++) {
      const s = servers[slot];
      const base = Math.imul(idOf(s), 65536);
      const n = counts[slot];
      for (let j = 0; j < n; j++) packed[k++] = fullHash(base + j) * 65536 + slot;
    }
    packed.sort();
    const points = new Uint32Array(count);
    const owners = new Array<BalancedServer>(count);
    for (let i = 0; i < count; i++) {
      const slot = packed[i] % 65536;
      points[i] = (packed[i] - slot) / 65536;
      owners[i] = servers[slot];
    }
    this.points = points;
    this.owners = owners;
  }

  /** The server nearest to `hash`, walking on past `avoid` when another exists. */
  lookup(hash: number, avoid: BalancedServer | undefined): BalancedServer | undefined {
    const points = this.points;
    const n = points.length;
    if (n === 0) return undefined;
    // First point ≥ hash (wrapping to 0), then the closer of it and its predecessor.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    let next = lo === n ? 0 : lo;
    const prev = next === 0 ? n - 1 : next - 1;
    if (((hash - points[prev]) >>> 0) <= ((points[next] - hash) >>> 0)) next = prev;
    const owners = this.owners;
    if (avoid === undefined || owners[next] !== avoid) return owners[next];
    for (let step = 1; step < n; step++) {
      const i = next + step < n ? next + step : next + step - n;
      if (owners[i] !== avoid) return owners[i];
    }
    return avoid;
  }
}
