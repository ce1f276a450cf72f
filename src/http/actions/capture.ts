/**
 * http-request capture SAMPLE len N: the sample (its text, cut to N characters)
 * goes into the frontend's capture slot of this rule, which httplog's %hr shows.
 */
import type { HttpAction } from '../../config/model';
import { parseSampleExpr, sampleText } from '../../rules/sample-expr';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

export function captureAction(a: Extract<HttpAction, { action: 'capture' }>): RuleAction {
  // The loader reported any mistake in the expression already.
  const expr = parseSampleExpr(a.expr, [])!;
  const { len, slot } = a;
  return (ex) => {
    const s = expr.evaluate(ex.ctx);
    const text = s === undefined ? '' : sampleText(s);
    ex.tx.capture(slot, text.length > len ? text.slice(0, len) : text);
    return CONTINUE;
  };
}
