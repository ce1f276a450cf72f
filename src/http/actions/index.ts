/**
 * The actions of http-request / http-response rules, by name: each compiles a
 * rule's action once (with the direction it runs in) into the function the rules
 * module calls when the rule's condition holds. One file per action family.
 */
import type { HttpAction } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { denyAction } from './deny';
import { addHeaderAction, delHeaderAction, setHeaderAction } from './headers';
import { redirectAction } from './redirect';

/** What a rule does when its condition holds: CONTINUE, or DONE when it answered. */
export type RuleAction = (ex: HttpExchange) => number;

type ActionName = HttpAction['action'];
type ActionCompiler<K extends ActionName> = (act: Extract<HttpAction, { action: K }>, response: boolean) => RuleAction;

const compilers: { [K in ActionName]: ActionCompiler<K> } = {
  'set-header': setHeaderAction,
  'add-header': addHeaderAction,
  'del-header': delHeaderAction,
  deny: denyAction,
  'redirect-scheme': redirectAction,
  'redirect-location': redirectAction,
  'redirect-prefix': redirectAction,
};

/** `act` as a function, for a rule of the request (`response` false) or response rule set. */
export function compileAction(act: HttpAction, response: boolean): RuleAction {
  return (compilers[act.action] as ActionCompiler<ActionName>)(act, response);
}
