/**
 * The actions of http-request / http-response rules, by name: each compiles a
 * rule's action once (with the direction it runs in) into the function the rules
 * module calls when the rule's condition holds. One file per action family; where
 * each keyword is valid is the config's table (src/config/http-actions.ts).
 */
import type { HttpAction } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { denyAction, returnAction, tarpitAction } from './answer';
import { authAction } from './auth';
import { cacheStoreAction, cacheUseAction } from './cache';
import { captureAction } from './capture';
import { addHeaderAction, delHeaderAction, replaceHeaderAction, setHeaderAction } from './headers';
import { redirectAction } from './redirect';
import { requestLineAction } from './request-line';
import { setStatusAction } from './status';
import { incGpc0Action, setGpt0Action, trackAction } from './stick';
import { normalizeUriAction } from './normalize-uri';
import { setVarAction, unsetVarAction } from './vars';
import { setSrcAction } from './source';
import { waitForBodyAction } from './wait-for-body';

/** What a rule does when its condition holds: CONTINUE, STOP_RULES, or DONE when it answered. */
export type RuleAction = (ex: HttpExchange) => number;

/** `allow`: no later rule of this rule set runs; the exchange goes on. */
export const STOP_RULES = 2;
export { HOLD_RULES } from './wait-for-body';

type ActionName = HttpAction['action'];
type ActionCompiler<K extends ActionName> = (act: Extract<HttpAction, { action: K }>, response: boolean) => RuleAction;

const compilers: { [K in ActionName]: ActionCompiler<K> } = {
  allow: () => () => STOP_RULES,
  deny: denyAction,
  return: returnAction,
  tarpit: tarpitAction,
  'set-header': setHeaderAction,
  'add-header': addHeaderAction,
  'del-header': delHeaderAction,
  'replace-header': replaceHeaderAction,
  'replace-value': replaceHeaderAction,
  'set-method': requestLineAction,
  'set-path': requestLineAction,
  'set-query': requestLineAction,
  'set-uri': requestLineAction,
  'replace-path': requestLineAction,
  'set-var': setVarAction,
  'unset-var': unsetVarAction,
  'set-src': setSrcAction,
  'set-status': setStatusAction,
  auth: authAction,
  capture: captureAction,
  'track-sc': trackAction,
  'sc-inc-gpc0': incGpc0Action,
  'sc-set-gpt0': setGpt0Action,
  'normalize-uri': normalizeUriAction,
  'redirect-scheme': redirectAction,
  'redirect-location': redirectAction,
  'redirect-prefix': redirectAction,
  'cache-use': cacheUseAction,
  'cache-store': cacheStoreAction,
  'wait-for-body': waitForBodyAction,
};

/** `act` as a function, for a rule of the request (`response` false) or response rule set. */
export function compileAction(act: HttpAction, response: boolean): RuleAction {
  return (compilers[act.action] as ActionCompiler<ActionName>)(act, response);
}
