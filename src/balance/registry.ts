/** Every balancing algorithm, by its HAProxy keyword. A new algorithm adds one row. */
import type { BalancerDefinition } from './balancer';
import { first } from './first';
import { hdr } from './hdr';
import { leastconn } from './leastconn';
import { random } from './random';
import { roundrobin } from './roundrobin';
import { source } from './source';
import { staticRoundRobin } from './staticrr';
import { uri } from './uri';
import { urlParam } from './urlparam';

const definitions: BalancerDefinition[] = [
  roundrobin,
  staticRoundRobin,
  leastconn,
  source,
  uri,
  urlParam,
  hdr,
  random,
  first,
];

export const balancers: ReadonlyMap<string, BalancerDefinition> = new Map(definitions.map((d) => [d.name, d]));
