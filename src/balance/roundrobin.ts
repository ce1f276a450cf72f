/**
 * roundrobin: smooth weighted round robin (nginx's algorithm), so weights 3:1 give
 * s1 s1 s2 s1 … rather than bursts. Weights are dynamic: each pick reads the live
 * weight, and a reset (state or weight change) starts a fresh cycle.
 *
 * Servers at maxconn and the `avoid` server sit out a pick entirely (they neither
 * gain credit nor count in the total), so they do not burst when they come back.
 */
import { isFull, type Balancer, type BalancedServer, type BalancerDefinition } from './balancer';
import { noArguments } from './args';

export class SmoothRoundRobin implements Balancer {
  private servers: BalancedServer[] = [];
  private current: number[] = [];

  reset(eligible: BalancedServer[]): void {
    this.servers = eligible.filter((s) => s.weight > 0);
    this.current = new Array(this.servers.length).fill(0);
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    const servers = this.servers;
    if (servers.length === 0) return undefined;
    // Prefer servers with room over `avoid` with room over full ones (the caller
    // queues); a pass without candidates changes nothing.
    let best = this.select(avoid, true);
    if (best < 0 && avoid !== undefined) best = this.select(undefined, true);
    if (best < 0) best = this.select(avoid, false);
    if (best < 0) best = this.select(undefined, false);
    return servers[best];
  }

  /** One smooth-WRR step over the candidates; -1 when there is none. */
  private select(avoid: BalancedServer | undefined, skipFull: boolean): number {
    const servers = this.servers;
    const current = this.current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i];
      if (s === avoid || (skipFull && isFull(s))) continue;
      current[i] += s.weight;
      total += s.weight;
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best >= 0) current[best] -= total;
    return best;
  }
}

export const roundrobin: BalancerDefinition = {
  name: 'roundrobin',
  checkArgs: noArguments('roundrobin'),
  create: () => new SmoothRoundRobin(),
};
