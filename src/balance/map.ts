/**
 * HAProxy's map (lb_map.c): a table with one slot per unit of weight, servers
 * interleaved smoothly (weights 3:1 → s1 s1 s2 s1). `static-rr` walks it in order;
 * map-based hashing takes slot `hash % total weight`. Weights are static: the
 * configured weight counts, a live weight only decides in (> 0) or out.
 */
import { isFull, type BalancedServer } from './balancer';

export class ServerMap {
  private slots: BalancedServer[] = [];
  private cursor = 0;

  get size(): number {
    return this.slots.length;
  }

  /** `weightOf` gives each server's (configured) weight; servers at 0 get no slot. */
  build(eligible: readonly BalancedServer[], weightOf: (s: BalancedServer) => number): void {
    const servers = eligible.filter((s) => s.weight > 0 && weightOf(s) > 0);
    const weights = servers.map(weightOf);
    let total = 0;
    for (const w of weights) total += w;
    const score = new Array<number>(servers.length).fill(0);
    const slots = new Array<BalancedServer>(total);
    for (let o = 0; o < total; o++) {
      let best = 0;
      for (let i = 0; i < servers.length; i++) {
        score[i] += weights[i];
        if (score[i] > score[best]) best = i;
      }
      score[best] -= total;
      slots[o] = servers[best];
    }
    this.slots = slots;
    this.cursor = 0;
  }

  /** Map-based hashing: the slot `hash % total`, or the next one when that is `avoid`. */
  byHash(hash: number, avoid: BalancedServer | undefined): BalancedServer | undefined {
    const slots = this.slots;
    const n = slots.length;
    if (n === 0) return undefined;
    let i = hash % n;
    if (avoid === undefined || slots[i] !== avoid) return slots[i];
    for (let step = 1; step < n; step++) {
      i = i + 1 === n ? 0 : i + 1;
      if (slots[i] !== avoid) return slots[i];
    }
    return avoid;
  }

  /**
   * static-rr: the next slot whose server has a free maxconn slot and is not `avoid`;
   * failing that `avoid` when it has room, else the slot at the cursor (the caller queues).
   */
  next(avoid: BalancedServer | undefined): BalancedServer | undefined {
    const slots = this.slots;
    const n = slots.length;
    if (n === 0) return undefined;
    const start = this.cursor;
    let avoided = -1;
    for (let step = 0; step < n; step++) {
      const i = start + step < n ? start + step : start + step - n;
      const s = slots[i];
      if (isFull(s)) continue;
      if (s === avoid) {
        if (avoided < 0) avoided = i;
        continue;
      }
      this.cursor = i + 1 === n ? 0 : i + 1;
      return s;
    }
    const i = avoided >= 0 ? avoided : start;
    this.cursor = i + 1 === n ? 0 : i + 1;
    return slots[i];
  }
}
