/**
 * Compiles a parsed Condition into one plain function the data path calls.
 * Fetches and match methods come from the keyword tables (fetches.ts).
 */
import type { Condition } from '../config/model';
import type { SampleContext, Stage } from './context';
import { fetches } from './fetches';
import { compileMatcher } from './matchers';
import { converters } from './converters';

export type CompiledCondition = (ctx: SampleContext) => boolean;

export function compileCondition(cond: Condition, stage: Stage): CompiledCondition {
  switch (cond.kind) {
    case 'true':
      return () => true;
    case 'false':
      return () => false;
    case 'not': {
      const inner = compileCondition(cond.expr, stage);
      return (ctx) => !inner(ctx);
    }
    case 'and': {
      const terms = cond.terms.map((t) => compileCondition(t, stage));
      return (ctx) => {
        for (let i = 0; i < terms.length; i++) if (!terms[i](ctx)) return false;
        return true;
      };
    }
    case 'or': {
      const terms = cond.terms.map((t) => compileCondition(t, stage));
      return (ctx) => {
        for (let i = 0; i < terms.length; i++) if (terms[i](ctx)) return true;
        return false;
      };
    }
    case 'match': {
      const def = fetches.get(cond.fetch);
      if (!def) throw new Error(`unknown fetch "${cond.fetch}"`);
      const fetch = def.fetch;
      const args = cond.args;
      const match = compileMatcher(cond.method, cond.patterns, cond.ignoreCase);
      if (cond.converters.length === 0) return (ctx) => match(fetch(ctx, args));
      const chain = cond.converters.map((c) => {
        const conv = converters.get(c.name);
        if (!conv) throw new Error(`unknown converter "${c.name}"`);
        return { convert: conv.convert, args: c.args };
      });
      return (ctx) => {
        let sample = fetch(ctx, args);
        for (let i = 0; i < chain.length; i++) sample = chain[i].convert(sample, chain[i].args);
        return match(sample);
      };
    }
  }
}

type MatchLeaf = Extract<Condition, { kind: 'match' }>;

/** Exact string matches of one fetch without converters: consecutive ones share one lookup. */
function lookupKey(c: Condition): string | undefined {
  if (c.kind !== 'match' || c.method !== 'str' || c.converters.length !== 0) return undefined;
  return `${c.fetch}(${c.args.join(',')})${c.ignoreCase ? ' -i' : ''}`;
}

/**
 * The index of the first condition that holds, or -1: a rule list evaluated in order
 * (`use_backend`), as HAProxy does. A run of rules that each compare the same fetch with
 * literal strings (1,000 `use_backend … if { hdr(host) -i name }` lines) fetches once and
 * looks the value up in one table of pattern → first rule, instead of testing rule by rule.
 */
export function compileFirstMatch(conds: Condition[], stage: Stage): (ctx: SampleContext) => number {
  const steps: ((ctx: SampleContext) => number)[] = [];
  for (let i = 0; i < conds.length; ) {
    const key = lookupKey(conds[i]);
    let j = i + 1;
    if (key !== undefined) while (j < conds.length && lookupKey(conds[j]) === key) j++;
    if (j - i > 1) steps.push(compileLookupRun(conds.slice(i, j) as MatchLeaf[], i));
    else steps.push(ruleStep(compileCondition(conds[i], stage), i));
    i = j;
  }
  return (ctx) => {
    for (let i = 0; i < steps.length; i++) {
      const r = steps[i](ctx);
      if (r >= 0) return r;
    }
    return -1;
  };
}

function ruleStep(test: CompiledCondition, index: number): (ctx: SampleContext) => number {
  return (ctx) => (test(ctx) ? index : -1);
}

function compileLookupRun(run: MatchLeaf[], base: number): (ctx: SampleContext) => number {
  const head = run[0];
  const def = fetches.get(head.fetch);
  if (!def) throw new Error(`unknown fetch "${head.fetch}"`);
  const fetch = def.fetch;
  const args = head.args;
  const ignoreCase = head.ignoreCase;
  const first = new Map<string, number>();
  run.forEach((c, k) => {
    for (const p of c.patterns) {
      const key = ignoreCase ? p.toLowerCase() : p;
      if (!first.has(key)) first.set(key, base + k);
    }
  });
  // As the `str` matcher compares (src/rules/matchers.ts): String(value), lowered with -i.
  const find = (v: string | number | boolean): number => first.get(ignoreCase ? String(v).toLowerCase() : String(v)) ?? -1;
  return (ctx) => {
    const s = fetch(ctx, args);
    if (s === undefined) return -1;
    if (!Array.isArray(s)) return find(s);
    let best = -1;
    for (let i = 0; i < s.length; i++) {
      const r = find(s[i]);
      if (r >= 0 && (best < 0 || r < best)) best = r;
    }
    return best;
  };
}
