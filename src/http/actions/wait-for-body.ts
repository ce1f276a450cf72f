/**
 * `http-request wait-for-body time <time> [at-least <bytes>]` (HAProxy 2.4+): the rules
 * after it run once the request body is in (complete, the buffer full, or at least
 * `bytes` of it), or the client gets 408 after `time` (src/http/request-body.ts).
 */
import type { HttpAction } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

/** The request waits for its body: the rule set goes on from the next rule when it is in (beside CONTINUE, DONE, STOP_RULES). */
export const HOLD_RULES = 3;

export function waitForBodyAction(act: Extract<HttpAction, { action: 'wait-for-body' }>): RuleAction {
  const { time, atLeast } = act;
  return (ex: HttpExchange) => (ex.waitForBody(time, atLeast) === CONTINUE ? CONTINUE : HOLD_RULES);
}
