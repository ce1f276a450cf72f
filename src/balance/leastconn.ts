/**
 * leastconn (HAProxy's lb_fwlc.c): the server with the lowest weighted load, where
 * load is (active + 1) / weight for a busy server and 0 for an idle one (so idle
 * servers are all equal, whatever their weight). Ties go round robin: the scan
 * starts just after the last server picked. Servers at maxconn and `avoid` are
 * skipped while another can take the request.
 *
 * Load is `active + peerActive`: this worker's exact count plus the other workers'
 * last reported one, so a server holding long requests from another worker is
 * avoided here too.
 */
import { clusterLoad, isFull, type Balancer, type BalancedServer, type BalancerDefinition } from './balancer';
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
    // Rank: 0 = room, 1 = avoided with room, 2 = full, 3 = avoided and full. Lower
    // wins, then lower load.
    let best = -1;
    let bestRank = 4;
    for (let step = 0; step < n; step++) {
      const i = this.start + step < n ? this.start + step : this.start + step - n;
      const s = servers[i];
      const rank = (isFull(s) ? 2 : 0) + (s === avoid ? 1 : 0);
      if (rank < bestRank || (rank === bestRank && lighter(s, servers[best]))) {
        best = i;
        bestRank = rank;
      }
    }
    this.start = best + 1 === n ? 0 : best + 1;
    return servers[best];
  }
}

/** a's load below b's: (load+1)/weight, idle = 0, load counting every worker's. */
function lighter(a: BalancedServer, b: BalancedServer): boolean {
  const la = clusterLoad(a);
  const lb = clusterLoad(b);
  if (la === 0) return lb > 0;
  if (lb === 0) return false;
  return (la + 1) * b.weight < (lb + 1) * a.weight;
}

export const leastconn: BalancerDefinition = {
  name: 'leastconn',
  checkArgs: noArguments('leastconn'),
  create: () => new LeastConnections(),
};
