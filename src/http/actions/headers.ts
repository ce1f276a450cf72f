/**
 * set-header / add-header / del-header: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction. The
 * added line is built once, when the rule is compiled, unless its value has `%[…]`
 * samples (rendered per request).
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

/** The added line, rendered per request only when the value has samples. */
function headerLine(a: Act<'set-header'> | Act<'add-header'>, response: boolean): (ex: HttpExchange) => string {
  // The loader reported any mistake in the value already.
  const value = compileValueTemplate(a.value, response ? 'response' : 'request', []);
  if (typeof value === 'string') {
    const line = `${a.name}: ${value}\r\n`;
    return () => line;
  }
  return (ex) => `${a.name}: ${value(ex.ctx)}\r\n`;
}

export function setHeaderAction(a: Act<'set-header'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  const line = headerLine(a, response);
  return response
    ? (ex) => {
        ex.res.dropNamed(name);
        ex.resExtras += line(ex);
        return CONTINUE;
      }
    : (ex) => {
        ex.req.dropNamed(name);
        ex.reqExtras += line(ex);
        return CONTINUE;
      };
}

export function addHeaderAction(a: Act<'add-header'>, response: boolean): RuleAction {
  const line = headerLine(a, response);
  return response
    ? (ex) => {
        ex.resExtras += line(ex);
        return CONTINUE;
      }
    : (ex) => {
        ex.reqExtras += line(ex);
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
