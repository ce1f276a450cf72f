/**
 * set-header / add-header / del-header: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction. An
 * added line is built once, when the rule is compiled, unless its value has `%[…]`
 * samples (src/rules/sample-expr.ts): then the samples are rendered per request.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

export function setHeaderAction(a: Act<'set-header'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  const add = addLine(a.name, a.value, response);
  return response
    ? (ex) => {
        ex.res.dropNamed(name);
        return add(ex);
      }
    : (ex) => {
        ex.req.dropNamed(name);
        return add(ex);
      };
}

export function addHeaderAction(a: Act<'add-header'>, response: boolean): RuleAction {
  return addLine(a.name, a.value, response);
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

/** Appends `name: value` to the request's or the response's added lines. */
function addLine(name: string, value: string, response: boolean): RuleAction {
  // The loader reported any mistake in the value already.
  const v = compileValueTemplate(value, response ? 'response' : 'request', []);
  if (typeof v === 'string') {
    const line = `${name}: ${v}\r\n`;
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
  return response
    ? (ex) => {
        ex.resExtras += `${name}: ${v(ex.ctx)}\r\n`;
        return CONTINUE;
      }
    : (ex) => {
        ex.reqExtras += `${name}: ${v(ex.ctx)}\r\n`;
        return CONTINUE;
      };
}
