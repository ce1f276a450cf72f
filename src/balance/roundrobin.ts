/**
 * roundrobin: smooth weighted round robin (nginx's algorithm), so weights 3:1 give
 * s1 s1 s2 s1 … rather than bursts. Weight changes take effect at the next reset.
 */
import type { Balancer, BalancedServer, BalancerDefinition } from './balancer';

class SmoothRoundRobin implements Balancer {
  private servers: BalancedServer[] = [];
  private current: number[] = [];
  private total = 0;

  reset(eligible: BalancedServer[]): void {
    this.servers = eligible.filter((s) => s.weight > 0);
    this.current = new Array(this.servers.length).fill(0);
    this.total = 0;
    for (const s of this.servers) this.total += s.weight;
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    const servers = this.servers;
    let best = -1;
    let bestFull = -1;
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i];
      this.current[i] += s.weight;
      if (s === avoid && servers.length > 1) continue;
      if (s.maxconn > 0 && s.active >= s.maxconn) {
        if (bestFull < 0 || this.current[i] > this.current[bestFull]) bestFull = i;
        continue;
      }
      if (best < 0 || this.current[i] > this.current[best]) best = i;
    }
    // All servers saturated: still return the best one; the caller queues on it.
    if (best < 0) best = bestFull;
    if (best < 0) return undefined;
    this.current[best] -= this.total;
    return servers[best];
  }
}

export const roundrobin: BalancerDefinition = {
  name: 'roundrobin',
  checkArgs: (args) => (args.length ? `roundrobin takes no arguments (got "${args.join(' ')}")` : undefined),
  create: () => new SmoothRoundRobin(),
};
