/**
 * first: the server with the lowest id (HAProxy `id`, default its position) that
 * has a free maxconn slot, so that as few servers as possible are in use. Weights
 * are ignored, as in HAProxy. When every server is full, the lowest id is returned
 * and the caller queues.
 */
import type { Backend } from '../config/model';
import { isFull, type Balancer, type BalancedServer, type BalancerDefinition } from './balancer';
import { noArguments } from './args';

class FirstAvailable implements Balancer {
  private servers: BalancedServer[] = [];

  constructor(private readonly backend: Backend) {}

  reset(eligible: BalancedServer[]): void {
    const ids = this.backend.servers;
    this.servers = eligible.filter((s) => s.weight > 0).sort((a, b) => ids[a.index].id - ids[b.index].id);
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    const servers = this.servers;
    let fallback: BalancedServer | undefined;
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i];
      if (isFull(s)) continue;
      if (s !== avoid) return s;
      fallback = s;
    }
    return fallback ?? servers[0];
  }
}

export const first: BalancerDefinition = {
  name: 'first',
  checkArgs: noArguments('first'),
  create: (backend) => new FirstAvailable(backend),
};
