/**
 * set-header / add-header / del-header: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction. A
 * value without `%[…]` samples is built into its line once, when the rule is compiled.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

/** Appends `name: value` to the direction's line builder; a sampled value is rendered per request. */
function addLine(name: string, value: string, response: boolean): RuleAction {
  // The loader reported any mistake in the value already.
  const rendered = compileValueTemplate(value, response ? 'response' : 'request', []);
  if (typeof rendered === 'string') {
    const line = `${name}: ${rendered}\r\n`;
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
  const prefix = `${name}: `;
  return response
    ? (ex: HttpExchange) => {
        ex.resExtras += prefix + rendered(ex.ctx) + '\r\n';
        return CONTINUE;
      }
    : (ex: HttpExchange) => {
        ex.reqExtras += prefix + rendered(ex.ctx) + '\r\n';
        return CONTINUE;
      };
}

export function setHeaderAction(a: Act<'set-header'>, response: boolean): RuleAction {
  const del = delHeaderAction(a, response);
  const add = addLine(a.name, a.value, response);
  return (ex) => {
    del(ex);
    return add(ex);
  };
}

export function addHeaderAction(a: Act<'add-header'>, response: boolean): RuleAction {
  return addLine(a.name, a.value, response);
}

export function delHeaderAction(a: { name: string }, response: boolean): RuleAction {
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
