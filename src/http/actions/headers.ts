/**
 * set-header / add-header / del-header: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction. The
 * added line is built once, when the rule is compiled.
 */
import type { HttpAction } from '../../config/model';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

export function setHeaderAction(a: Act<'set-header'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  const line = `${a.name}: ${a.value}\r\n`;
  return response
    ? (ex) => {
        ex.res.dropNamed(name);
        ex.resExtras += line;
        return CONTINUE;
      }
    : (ex) => {
        ex.req.dropNamed(name);
        ex.reqExtras += line;
        return CONTINUE;
      };
}

export function addHeaderAction(a: Act<'add-header'>, response: boolean): RuleAction {
  const line = `${a.name}: ${a.value}\r\n`;
  return response
    ? (ex) => {
        ex.resExtras += line;
        return CONTINUE;
      }
    : (ex) => {
        ex.reqExtras += line;
        return CONTINUE;
      };
}

export function delHeaderAction(a: Act<'del-header'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  return response
    ? (ex) => {
        ex.res.dropNamed(name);
        return CONTINUE;
      }
    : (ex) => {
        ex.req.dropNamed(name);
        return CONTINUE;
      };
}
