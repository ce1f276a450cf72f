/**
 * set-header / add-header / del-header / replace-header / replace-value: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction. An
 * added line is built once, when the rule is compiled, unless its value has `%[…]`
 * samples (src/rules/sample-expr.ts): then the samples are rendered per request.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { HDR_STRIDE } from '../head';
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

export function delHeaderAction(a: { name: string; match?: Act<'del-header'>['match'] }, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  if (a.match === undefined || a.match === 'str') {
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
  // `-m beg|end|sub|reg`: names compared lower-case (reg: the regex as written, on the name as sent).
  const re = a.match === 'reg' ? new RegExp(a.name) : undefined;
  const test =
    a.match === 'beg' ? (n: string) => n.toLowerCase().startsWith(name) : a.match === 'end' ? (n: string) => n.toLowerCase().endsWith(name) : a.match === 'sub' ? (n: string) => n.toLowerCase().includes(name) : (n: string) => re!.test(n);
  return (ex) => {
    const head = response ? ex.res : ex.req;
    const h = head.hdr;
    for (let i = 0; i < head.count; i++) {
      if (!head.drop[i] && test(head.buf.toString('latin1', h[i * HDR_STRIDE], h[i * HDR_STRIDE + 1]))) head.dropAt(i);
    }
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

/**
 * The output of a replace-* rule for a value `re` matched: the format (a log-format
 * value) with `\1`…`\9` replaced by the match's groups. As HAProxy's, the whole value
 * becomes that output: text outside the match is not kept.
 */
export function compileReplacement(fmt: string, stage: 'request' | 'response'): (ctx: HttpExchange['ctx'], m: RegExpExecArray) => string {
  const rendered = compileValueTemplate(fmt, stage, []);
  const refs = /\\[0-9]/;
  const expand = (text: string, m: RegExpExecArray): string => (refs.test(text) ? text.replace(/\\([0-9])/g, (_, d: string) => m[Number(d)] ?? '') : text);
  return typeof rendered === 'string' ? (_ctx, m) => expand(rendered, m) : (ctx, m) => expand(rendered(ctx), m);
}

/**
 * replace-header (each line of the header as a whole) and replace-value (each
 * comma-separated value): a line that changes is dropped and added again rewritten.
 */
export function replaceHeaderAction(a: Act<'replace-header'> | Act<'replace-value'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  const re = new RegExp(a.regex);
  const replace = compileReplacement(a.replace, response ? 'response' : 'request');
  const perValue = a.action === 'replace-value';
  const rewrite = (ex: HttpExchange, v: string): string => {
    if (!perValue) {
      const m = re.exec(v);
      return m ? replace(ex.ctx, m) : v;
    }
    return v
      .split(',')
      .map((part) => {
        const t = part.trim();
        const m = re.exec(t);
        return m ? replace(ex.ctx, m) : t;
      })
      .join(', ');
  };
  return (ex) => {
    const head = response ? ex.res : ex.req;
    for (let i = head.find(name); i >= 0; i = head.find(name, i + 1)) {
      if (head.drop[i]) continue;
      const v = head.value(i);
      const nv = rewrite(ex, v);
      if (nv === v) continue;
      head.dropAt(i);
      const line = `${a.name}: ${nv.replace(/[\r\n\0]/g, '')}\r\n`;
      if (response) ex.resExtras += line;
      else ex.reqExtras += line;
    }
    return CONTINUE;
  };
}
