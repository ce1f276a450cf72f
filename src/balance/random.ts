/**
 * random / random(N): draw N servers at random, in proportion to their live
 * weights, and keep the least loaded (cluster load / weight, a full server losing to one
 * with room): "power of two choices" with the default N = 2. `avoid` is never drawn
 * while another server is eligible.
 */
import { clusterLoad, isFull, type Balancer, type BalancedServer, type BalancerDefinition } from './balancer';
import { positiveInt } from './args';

const DEFAULT_DRAWS = 2;
/** Each draw costs a search per request: more than this only burns CPU. */
const MAX_DRAWS = 100;

class RandomChoices implements Balancer {
  private servers: BalancedServer[] = [];
  /** cumulative[i] = sum of weights of servers[0..i]. */
  private cumulative = new Float64Array(0);

  constructor(private readonly draws: number) {}

  reset(eligible: BalancedServer[]): void {
    this.servers = eligible.filter((s) => s.weight > 0);
    this.cumulative = new Float64Array(this.servers.length);
    let total = 0;
    for (let i = 0; i < this.servers.length; i++) {
      total += this.servers[i].weight;
      this.cumulative[i] = total;
    }
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    const n = this.servers.length;
    if (n === 0) return undefined;
    if (n === 1) return this.servers[0];
    let best: BalancedServer | undefined;
    for (let d = 0; d < this.draws; d++) {
      const s = this.draw(avoid);
      if (best === undefined || better(s, best)) best = s;
    }
    return best;
  }

  /** One weighted draw; `avoid` moves on to the next server. */
  private draw(avoid: BalancedServer | undefined): BalancedServer {
    const cumulative = this.cumulative;
    const n = cumulative.length;
    const target = Math.random() * cumulative[n - 1];
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] <= target) lo = mid + 1;
      else hi = mid;
    }
    const s = this.servers[lo];
    return s === avoid ? this.servers[lo + 1 === n ? 0 : lo + 1] : s;
  }
}

function better(a: BalancedServer, b: BalancedServer): boolean {
  const aFull = isFull(a);
  const bFull = isFull(b);
  if (aFull !== bFull) return bFull;
  return clusterLoad(a) * b.weight < clusterLoad(b) * a.weight;
}

export const random: BalancerDefinition = {
  name: 'random',
  checkArgs: (args) => {
    if (args.length === 0) return undefined;
    const draws = positiveInt(args[0]);
    if (args.length > 1 || draws === undefined || draws > MAX_DRAWS)
      return `random takes one optional argument, the number of draws (1..${MAX_DRAWS}), got "${args.join(' ')}"`;
    return undefined;
  },
  create: (backend) => new RandomChoices(positiveInt(backend.balance.args[0]) ?? DEFAULT_DRAWS),
};
