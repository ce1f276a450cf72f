/**
 * static-rr: round robin over HAProxy's weight-expanded map. Weights are static
 * (the configured weight; a live weight of 0 still takes a server out), and there
 * is no limit on the number of servers.
 */
import type { Backend } from '../config/model';
import type { Balancer, BalancedServer, BalancerDefinition } from './balancer';
import { noArguments } from './args';
import { ServerMap } from './map';

class StaticRoundRobin implements Balancer {
  private readonly map = new ServerMap();

  constructor(private readonly backend: Backend) {}

  reset(eligible: BalancedServer[]): void {
    this.map.build(eligible, (s) => this.backend.servers[s.index].weight);
  }

  pick(_key: unknown, avoid?: BalancedServer): BalancedServer | undefined {
    return this.map.next(avoid);
  }
}

export const staticRoundRobin: BalancerDefinition = {
  name: 'static-rr',
  checkArgs: noArguments('static-rr'),
  create: (backend) => new StaticRoundRobin(backend),
};
