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

/**
 * A `balance` line's words in the model's shape: the keyword's parenthesised
 * argument becomes the first argument, so `hdr(host) use_domain_only` gives
 * { algorithm: 'hdr', args: ['host', 'use_domain_only'] } and `random(3)` gives
 * { algorithm: 'random', args: ['3'] }. For the config loader.
 */
export function parseBalanceWords(words: readonly string[]): { algorithm: string; args: string[] } {
  const [head = '', ...rest] = words;
  const m = /^([a-z_-]+)\((.*)\)$/.exec(head);
  if (!m) return { algorithm: head, args: rest };
  return { algorithm: m[1], args: [m[2], ...rest] };
}
