/**
 * http-request track-scN and sc-inc-gpc0(N): the connection's stick counters
 * (src/stick/worker.ts Trackers), shared with its tcp-request rules. A counter an
 * http-request rule starts tracks until the end of its request (HAProxy's stream
 * counters), so the next request on the connection tracks its own key: behind a proxy
 * (set-src, source_from_header) each request counts for its own client. The request
 * that starts it is counted on its entry at once (the stick-counters module counted
 * it on the others before the rules ran). An HTTP/2 connection's streams share the
 * counters: a stream tracks only a counter no concurrent stream holds.
 */
import type { HttpAction } from '../../config/model';
import { fetches } from '../../rules/fetches';
import { compileGpt0Value, setGpt0, trackersOf } from '../../stick/tcp-rules';
import { stickTable } from '../../stick/worker';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

export function trackAction(a: Extract<HttpAction, { action: 'track-sc' }>): RuleAction {
  const table = stickTable(a.table)!;
  const fetch = fetches.get(a.fetch)!.fetch;
  const { counter, args } = a;
  return (ex) => {
    const key = table.key(fetch(ex.ctx, args));
    if (key !== undefined) {
      const trackers = trackersOf(ex.info, ex.client.sock);
      if (trackers.track(counter, table, key)) {
        trackers.countRequestOn(counter);
        ex.requestTracked |= 1 << counter;
      }
    }
    return CONTINUE;
  };
}

export function incGpc0Action(a: Extract<HttpAction, { action: 'sc-inc-gpc0' }>): RuleAction {
  const counter = a.counter;
  return (ex) => {
    ex.info.trackers?.incGpc0(counter);
    return CONTINUE;
  };
}

/** sc-set-gpt0(N) <int|expr>: the tcp-request action's value and setter. */
export function setGpt0Action(a: Extract<HttpAction, { action: 'sc-set-gpt0' }>): RuleAction {
  const counter = a.counter;
  const value = compileGpt0Value(a.value);
  return (ex) => {
    const trackers = ex.info.trackers;
    if (trackers !== undefined) setGpt0(trackers, counter, value, ex.ctx);
    return CONTINUE;
  };
}
