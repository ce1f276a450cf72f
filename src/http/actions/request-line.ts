/**
 * set-method, set-path, replace-path, set-query, set-uri: the request line is
 * rebuilt once (src/http/head.ts setRequestLine), so later rules, fetches, the
 * routing and the server see the new one, whatever protocol the client spoke.
 * Values are log-format (`%[…]`), compiled once.
 */
import type { HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import { compileReplacement } from './headers';
import type { RuleAction } from './index';

type LineAct = Extract<HttpAction, { action: 'set-method' | 'set-path' | 'set-query' | 'set-uri' | 'replace-path' }>;

/** The target's parts around its path: `scheme://authority` before, `?query` after. */
export function pathBounds(ex: HttpExchange): { pathStart: number; queryStart: number } {
  const req = ex.req;
  const b = req.buf;
  let s = req.targetStart;
  const e = req.targetEnd;
  if (b[s] !== 47 /* / */) {
    const scheme = b.indexOf('://', s, 'latin1');
    if (scheme >= 0 && scheme < e) {
      s = scheme + 3;
      while (s < e && b[s] !== 47 && b[s] !== 63) s++;
    }
  }
  let q = s;
  while (q < e && b[q] !== 63 /* ? */) q++;
  return { pathStart: s, queryStart: q };
}

function setTarget(ex: HttpExchange, target: string): void {
  const req = ex.req;
  req.setRequestLine(ex.ctx.method(), target.replace(/[\s\0]/g, ''));
}

export function rebuild(ex: HttpExchange, path: string | undefined, query: string | undefined): void {
  const req = ex.req;
  const b = req.buf;
  const { pathStart, queryStart } = pathBounds(ex);
  const before = b.toString('latin1', req.targetStart, pathStart);
  const p = path ?? b.toString('latin1', pathStart, queryStart);
  const q = query === undefined ? b.toString('latin1', queryStart, req.targetEnd) : '?' + query;
  setTarget(ex, before + p + q);
}

/** The target's path and query become `pathAndQuery` (scheme and authority kept). */
export function setPathAndQuery(ex: HttpExchange, pathAndQuery: string): void {
  const req = ex.req;
  setTarget(ex, req.buf.toString('latin1', req.targetStart, pathBounds(ex).pathStart) + pathAndQuery);
}

export function requestLineAction(a: LineAct): RuleAction {
  if (a.action === 'replace-path') {
    const re = new RegExp(a.regex);
    const replace = compileReplacement(a.replace, 'request');
    return (ex) => {
      const m = re.exec(ex.ctx.path());
      if (m) rebuild(ex, replace(ex.ctx, m), undefined);
      return CONTINUE;
    };
  }
  const value = compileValueTemplate(a.value, 'request', []);
  const render = typeof value === 'string' ? () => value : value;
  switch (a.action) {
    case 'set-method':
      return (ex) => {
        const m = render(ex.ctx);
        if (m) ex.req.setRequestLine(m, ex.ctx.url());
        // The server answers the new method: a HEAD's response has no body to read.
        ex.isHead = m === 'HEAD';
        return CONTINUE;
      };
    case 'set-path':
      return (ex) => {
        rebuild(ex, render(ex.ctx), undefined);
        return CONTINUE;
      };
    case 'set-query':
      return (ex) => {
        rebuild(ex, undefined, render(ex.ctx));
        return CONTINUE;
      };
    case 'set-uri':
      return (ex) => {
        setTarget(ex, render(ex.ctx));
        return CONTINUE;
      };
  }
}
