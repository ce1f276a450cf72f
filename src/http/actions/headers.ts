/**
 * set-header / add-header / del-header / replace-header / replace-value: a removed header is marked in the head's
 * table, an added one goes into the exchange's line builder for its direction, and
 * each rule edits both, so later rules and fetches see earlier rules' edits (as
 * HAProxy's). An added line is built once, when the rule is compiled, unless its
 * value has `%[…]` samples (src/rules/sample-expr.ts): then they are rendered per request.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { type AddedNames, editAdded, nameBits, withoutAdded } from '../added-lines';
import { HDR_STRIDE, REMOVED } from '../head';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

/** The added lines of the message a rule edits: the request's, or the response's in response rules. */
function extrasOf(ex: HttpExchange, response: boolean): string {
  return response ? ex.resExtras : ex.reqExtras;
}

function setExtras(ex: HttpExchange, response: boolean, lines: string): void {
  if (response) ex.resExtras = lines;
  else ex.reqExtras = lines;
}

/** The filter of the names in those lines (src/http/added-lines.ts). */
function namesOf(ex: HttpExchange, response: boolean): AddedNames {
  return response ? ex.resAddedNames : ex.reqAddedNames;
}

/**
 * The message's added lines become `kept` (`added` without some lines, or `added`
 * itself) plus `line`, a line of the name with `bits` ('' for none).
 */
function replaceAdded(ex: HttpExchange, response: boolean, added: string, kept: string, line: string, bits: number): void {
  const next = kept + line;
  namesOf(ex, response).edited(added, next, bits);
  setExtras(ex, response, next);
}

/** `added` without its lines of this lower-case name, walked only when the filter says one may be there. */
function withoutName(ex: HttpExchange, response: boolean, added: string, name: string, bits: number): string {
  return added !== '' && namesOf(ex, response).mayHave(added, bits) ? withoutAdded(added, name) : added;
}

/** set-header: the value is rendered first (it may read the header it replaces), then every line of that name is replaced by one. */
export function setHeaderAction(a: Act<'set-header'>, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  const bits = nameBits(name);
  const line = compileLine(a.name, a.value, response);
  return (ex) => {
    const l = line(ex);
    (response ? ex.res : ex.req).dropNamed(name);
    const added = extrasOf(ex, response);
    replaceAdded(ex, response, added, withoutName(ex, response, added, name, bits), l, bits);
    return CONTINUE;
  };
}

export function addHeaderAction(a: Act<'add-header'>, response: boolean): RuleAction {
  const bits = nameBits(a.name.toLowerCase());
  const line = compileLine(a.name, a.value, response);
  return (ex) => {
    const added = extrasOf(ex, response);
    replaceAdded(ex, response, added, added, line(ex), bits);
    return CONTINUE;
  };
}

export function delHeaderAction(a: { name: string; match?: Act<'del-header'>['match'] }, response: boolean): RuleAction {
  const name = a.name.toLowerCase();
  if (a.match === undefined || a.match === 'str') {
    const bits = nameBits(name);
    return (ex) => {
      (response ? ex.res : ex.req).dropNamed(name);
      const added = extrasOf(ex, response);
      const kept = withoutName(ex, response, added, name, bits);
      if (kept !== added) replaceAdded(ex, response, added, kept, '', 0);
      return CONTINUE;
    };
  }
  // `-m beg|end|sub|reg`: names compared lower-case (reg: the regex as written, on the name as sent).
  const re = a.match === 'reg' ? new RegExp(a.name) : undefined;
  const test =
    a.match === 'beg' ? (n: string) => n.toLowerCase().startsWith(name) : a.match === 'end' ? (n: string) => n.toLowerCase().endsWith(name) : a.match === 'sub' ? (n: string) => n.toLowerCase().includes(name) : (n: string) => re!.test(n);
  const removeAdded = (n: string): null | undefined => (test(n) ? null : undefined);
  return (ex) => {
    const head = response ? ex.res : ex.req;
    const h = head.hdr;
    for (let i = 0; i < head.count; i++) {
      if (head.drop[i] !== REMOVED && test(head.buf.toString('latin1', h[i * HDR_STRIDE], h[i * HDR_STRIDE + 1]))) head.dropAt(i);
    }
    const added = extrasOf(ex, response);
    if (added !== '') setExtras(ex, response, editAdded(added, removeAdded));
    return CONTINUE;
  };
}

/** The line `name: value` a rule adds: built once when the value has no `%[…]` sample, else rendered per request. */
function compileLine(name: string, value: string, response: boolean): (ex: HttpExchange) => string {
  // The loader reported any mistake in the value already.
  const v = compileValueTemplate(value, response ? 'response' : 'request', []);
  if (typeof v === 'string') {
    const line = `${name}: ${v}\r\n`;
    return () => line;
  }
  return (ex) => `${name}: ${v(ex.ctx)}\r\n`;
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
    // The added lines first: a line of the head that changes joins them, rewritten once.
    const added = extrasOf(ex, response);
    if (added !== '') {
      setExtras(
        ex,
        response,
        editAdded(added, (n, v) => {
          if (n.toLowerCase() !== name) return undefined;
          const nv = rewrite(ex, v);
          return nv === v ? undefined : nv.replace(/[\r\n\0]/g, '');
        }),
      );
    }
    const head = response ? ex.res : ex.req;
    for (let i = head.find(name); i >= 0; i = head.find(name, i + 1)) {
      if (head.drop[i]) continue;
      const v = head.value(i);
      const nv = rewrite(ex, v);
      if (nv === v) continue;
      head.dropAt(i);
      setExtras(ex, response, extrasOf(ex, response) + `${a.name}: ${nv.replace(/[\r\n\0]/g, '')}\r\n`);
    }
    return CONTINUE;
  };
}
