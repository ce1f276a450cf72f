/**
 * leastconn (HAProxy's lb_fwlc.c): the server with the lowest weighted load, where
 * load is (active + 1) / weight for a busy server and 0 for an idle one (so idle
 * servers are all equal, whatever their weight). Ties go round robin: the scan
 * starts just after the last server picked. Servers at maxconn and `avoid` are
 * skipped while another can take the request.
 *
 * `active` is this worker's count only; see the report / README for how the
 * cluster keeps it meaningful across workers.
 */
import type { Balancer, BalancedServer, BalancerDefinition } from './balancer';
import { noArguments } from './args';

export class LeastConnections implements Balancer {
  private servers: BalancedServer[] = [];
  private start = 0;

  reset(eligible: BalancedServer[]): void {
    this.servers = eligible.filter((s) => s.weight > 0);
    this.start = 0;
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    const servers = this.servers;
    const n = servers.length;
    if (n === 0) return undefined;
    // Rank: 0 = free and not avoided, 1 = avoided with room, 2 = full. Lower wins,
    // then lower load.
    let best = -1;
    let bestRank = 3;
    for (let step = 0; step < n; step++) {
      const i = this.start + step < n ? this.start + step : this.start + step - n;
      const s = servers[i];
      const rank = s.maxconn > 0 && s.active >= s.maxconn ? 2 : s === avoid ? 1 : 0;
      if (rank < bestRank || (rank === bestRank && lighter(s, servers[best]))) {
        best = i;
        bestRank = rank;
      }
    }
    this.start = best + 1 === n ? 0 : best + 1;
    return servers[best];
  }
}

/** a's load below b's: (a.active+1)/a.weight < (b.active+1)/b.weight, idle = 0. */
function lighter(a: BalancedServer, b: BalancedServer): boolean {
  if (a.active === 0) return b.active > 0;
  if (b.active === 0) return false;
  return (a.active + 1) * b.weight < (b.active + 1) * a.weight;
}

export const leastconn: BalancerDefinition = {
  name: 'leastconn',
  checkArgs: noArguments('leastconn'),
  create: () => new LeastConnections(),
};
