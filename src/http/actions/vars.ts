/**
 * set-var(scope.name) EXPR and unset-var(scope.name): a variable of the exchange
 * (`txn.`, `req.`, `res.`) or of the connection (`sess.`), read by `var(name)`.
 * The expression is a sample expression (`req.hdr(host),lower`), parsed once.
 */
import type { HttpAction } from '../../config/model';
import { parseSampleExpr } from '../../rules/sample-expr';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

export function setVarAction(a: Act<'set-var'>): RuleAction {
  const name = a.name;
  // The loader reported any mistake in the expression already.
  const expr = parseSampleExpr(a.expr, [])!;
  return (ex) => {
    const s = expr.evaluate(ex.ctx);
    // A sample with several values (a header's) keeps the last, as a log-format does.
    ex.ctx.setVariable(name, Array.isArray(s) ? s[s.length - 1] : s);
    return CONTINUE;
  };
}

export function unsetVarAction(a: Act<'unset-var'>): RuleAction {
  const name = a.name;
  return (ex) => {
    ex.ctx.setVariable(name, undefined);
    return CONTINUE;
  };
}
