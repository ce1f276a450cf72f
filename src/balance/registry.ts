/** Every balancing algorithm, by its HAProxy keyword. A new algorithm adds one row. */
import type { BalancerDefinition } from './balancer';
import { roundrobin } from './roundrobin';

const definitions: BalancerDefinition[] = [roundrobin];

export const balancers: ReadonlyMap<string, BalancerDefinition> = new Map(definitions.map((d) => [d.name, d]));
