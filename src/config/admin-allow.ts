/**
 * Source allowlists of the admin listeners (stats page, Prometheus, the runtime API's
 * tcp listener): the native `allow: [cidr…]`, and on the HTTP ones the HAProxy line a
 * stats frontend uses for it, `[stats] http-request deny unless { src … }` (or
 * `… deny if !{ src … }`). The listeners refuse other sources before any handler runs
 * (src/primary/admin-http.ts).
 */
import { patternError } from '../rules/pattern-index';
import type { Diagnostics, Seg, Where } from './source';

const DENY_UNLESS_SRC = /^\s*(?:stats\s+)?http-request\s+deny\s+(?:unless\s+|if\s+!\s*)\{\s*src\s+([^}]+?)\s*\}\s*$/;

/** The allowed networks (the field's, then the lines'), or undefined when every source may connect. */
export function adminAllow(allow: string[] | undefined, options: string[] | undefined, segs: Seg[], at: (segs: Seg[]) => Where, diag: Diagnostics): string[] | undefined {
  const nets: string[] = [];
  const add = (list: string[], where: Where) => {
    for (const n of list) {
      const err = patternError('ip', n);
      if (err) diag.error(where, err);
      else nets.push(n);
    }
  };
  if (allow) add(allow, at([...segs, 'allow']));
  (options ?? []).forEach((line, i) => {
    const m = DENY_UNLESS_SRC.exec(line);
    if (!m) diag.error(at([...segs, 'options', i]), `"${line.trim()}": this listener takes "http-request deny unless { src <address|cidr>… }" (its allowed sources)`);
    else add(m[1].split(/\s+/), at([...segs, 'options', i]));
  });
  return nets.length || allow || options?.length ? nets : undefined;
}
