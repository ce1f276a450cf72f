/**
 * Sample expressions as written inside `%[…]`: a fetch with its arguments, then
 * converters (`hdr(host),lower`, `ssl_c_sha1,hex`). Parsed once against the fetch
 * and converter tables; access-log formats and header values evaluate them per use.
 */
import type { SampleContext, Stage } from './context';
import { converters, type Convert } from './converters';
import { fetches, type Sample } from './fetches';

export interface SampleExpr {
  /** Where the fetch is valid. */
  stages: Stage[];
  /** The converted sample; undefined when the fetch has none. */
  evaluate(ctx: SampleContext): Sample;
}

/** Parses `fetch(args),conv(args),…`; on a mistake, says why in `errors` and returns undefined. */
export function parseSampleExpr(expr: string, errors: string[]): SampleExpr | undefined {
  const parts: { name: string; args: string[] }[] = [];
  let i = 0;
  while (i < expr.length) {
    let j = i;
    while (j < expr.length && expr[j] !== '(' && expr[j] !== ',') j++;
    const name = expr.slice(i, j).trim();
    let args: string[] = [];
    if (expr[j] === '(') {
      const close = expr.indexOf(')', j);
      if (close < 0) {
        errors.push(`%[${expr}]: missing ')'`);
        return undefined;
      }
      args = expr.slice(j + 1, close).split(',').map((a) => a.trim()).filter((a) => a !== '');
      j = close + 1;
    }
    parts.push({ name, args });
    if (j < expr.length && expr[j] !== ',') {
      errors.push(`%[${expr}]: unexpected '${expr[j]}'`);
      return undefined;
    }
    i = j + 1;
  }
  const [first, ...convs] = parts;
  const def = first ? fetches.get(first.name) : undefined;
  if (!def) {
    errors.push(`%[${expr}]: unknown fetch '${first?.name ?? ''}'`);
    return undefined;
  }
  if (first.args.length < def.minArgs || first.args.length > def.maxArgs) {
    errors.push(`%[${expr}]: ${def.name} takes ${def.minArgs}..${def.maxArgs} arguments`);
    return undefined;
  }
  const chain: Convert[] = [];
  for (const c of convs) {
    const cd = converters.get(c.name);
    if (!cd) {
      errors.push(`%[${expr}]: unknown converter '${c.name}'`);
      return undefined;
    }
    // The config loader reads the map files of rules (conditions, use_backend names) only.
    if (cd.mapMethod) {
      errors.push(`%[${expr}]: map converters are only available in rule conditions and use_backend names`);
      return undefined;
    }
    chain.push(cd.compile(c.args));
  }
  const fetchArgs = first.args;
  return {
    stages: def.stages,
    evaluate: (ctx) => {
      let s = def.fetch(ctx, fetchArgs);
      for (const c of chain) s = c(s);
      return s;
    },
  };
}

/** A sample as text, as HAProxy's log-format writes it: `none` (`-`) when absent, the last of several values, booleans as 1/0. */
export function sampleText(s: Sample, none = '-'): string {
  if (s === undefined) return none;
  if (Array.isArray(s)) return s.length ? s[s.length - 1] : none;
  if (typeof s === 'boolean') return s ? '1' : '0';
  return String(s);
}

/**
 * A header value with `%[expr]` samples (HAProxy's log-format, samples only; `%%` is a
 * `%`), checked for `stage`. Text without samples stays a string; otherwise a function
 * renders it, dropping CR, LF and NUL so no sample can end the header. A `body`
 * (return's lf-string, lf-file) keeps them: its length is in its Content-Length.
 */
export function compileValueTemplate(value: string, stage: Stage, errors: string[], body = false): string | ((ctx: SampleContext) => string) {
  if (!value.includes('%')) return value;
  const texts: string[] = [];
  const exprs: SampleExpr[] = [];
  let text = '';
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '%') {
      text += value[i];
    } else if (value[i + 1] === '%') {
      text += '%';
      i++;
    } else if (value[i + 1] === '[' && value.indexOf(']', i) > 0) {
      const close = value.indexOf(']', i);
      const expr = parseSampleExpr(value.slice(i + 2, close), errors);
      if (expr && !expr.stages.includes(stage)) errors.push(`%[${value.slice(i + 2, close)}]: not available in ${stage} rules`);
      if (expr) {
        texts.push(text);
        exprs.push(expr);
        text = '';
      }
      i = close;
    } else text += '%';
  }
  if (exprs.length === 0) return text;
  texts.push(text);
  return (ctx) => {
    let out = texts[0];
    for (let k = 0; k < exprs.length; k++) out += sampleText(exprs[k].evaluate(ctx)) + texts[k + 1];
    return body || !/[\r\n\0]/.test(out) ? out : out.replace(/[\r\n\0]/g, '');
  };
}
