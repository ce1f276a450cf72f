/**
 * `http-request set-src EXPR`: the exchange's source address becomes the sample's
 * (HAProxy: `set-src hdr(x-forwarded-for) if { src 10.0.0.0/8 }`). What reads the
 * source afterwards sees it: ACLs and `src_*` fetches, `track-sc* src`, balance source,
 * the access log's client address and the X-Forwarded-For tslb adds. A sample that is
 * not an IP address leaves the source as it was (HAProxy ignores a failed conversion).
 */
import { isIP } from 'node:net';
import type { HttpAction } from '../../config/model';
import { parseSampleExpr } from '../../rules/sample-expr';
import type { HttpSampleContext } from '../sample';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

/** Sets `ctx`'s source to `address` when it is an IP address (an IPv4-mapped one as its IPv4); returns whether it did. */
export function setSource(ctx: HttpSampleContext, address: string): boolean {
  const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(a) === 0) return false;
  ctx.src = a;
  return true;
}

export function setSrcAction(a: Extract<HttpAction, { action: 'set-src' }>): RuleAction {
  // The loader reported any mistake in the expression already.
  const expr = parseSampleExpr(a.expr, [])!;
  return (ex) => {
    const s = expr.evaluate(ex.ctx);
    // hdr() gives every value: the last one is the nearest proxy's, as HAProxy's hdr() without an occurrence.
    const v = Array.isArray(s) ? s[s.length - 1] : s;
    if (v !== undefined) setSource(ex.ctx, String(v).trim());
    return CONTINUE;
  };
}
