/**
 * Compiles a parsed Condition into one plain function the data path calls.
 * Fetches and match methods come from the keyword tables (fetches.ts).
 */
import type { Condition, ParsedSample } from '../config/model';
import type { SampleContext, Stage } from './context';
import { fetches, type Sample } from './fetches';
import { compileMatcher } from './matchers';
import { converters } from './converters';
import { patternRef, type PatternRef } from './patterns';
import { sampleText } from './sample-expr';

export type CompiledCondition = (ctx: SampleContext) => boolean;
export type CompiledSample = (ctx: SampleContext) => Sample;

/** A sample expression as one function: the fetch, then each converter. */
export function compileSample(expr: ParsedSample): CompiledSample {
  const def = fetches.get(expr.fetch);
  if (!def) throw new Error(`unknown fetch "${expr.fetch}"`);
  const fetch = def.fetch;
  const args = expr.args;
  if (expr.converters.length === 0) return (ctx) => fetch(ctx, args);
  const chain = expr.converters.map((c) => {
    const conv = converters.get(c.name);
    if (!conv) throw new Error(`unknown converter "${c.name}"`);
    return conv.compile(c.args);
  });
  return (ctx) => {
    let sample = fetch(ctx, args);
    for (let i = 0; i < chain.length; i++) sample = chain[i](sample);
    return sample;
  };
}

/** A name built per request from literal parts and samples (a dynamic `use_backend`). */
export function compileNameTemplate(parts: readonly (string | ParsedSample)[]): (ctx: SampleContext) => string {
  const compiled = parts.map((p) => (typeof p === 'string' ? p : compileSample(p)));
  if (compiled.length === 1 && typeof compiled[0] !== 'string') {
    const only = compiled[0];
    return (ctx) => sampleText(only(ctx), '');
  }
  return (ctx) => {
    let name = '';
    for (let i = 0; i < compiled.length; i++) {
      const p = compiled[i];
      name += typeof p === 'string' ? p : sampleText(p(ctx), '');
    }
    return name;
  };
}

/** The live copies of a leaf's `-f` files (src/rules/patterns.ts); the config check made sure they exist. */
function filesOf(names: readonly string[] | undefined): PatternRef[] {
  const refs: PatternRef[] = [];
  for (const name of names ?? []) {
    const ref = patternRef(name);
    if (ref) refs.push(ref);
  }
  return refs;
}

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
      const match = compileMatcher(cond.method, cond.patterns, cond.ignoreCase, filesOf(cond.files));
      if (cond.converters.length === 0) {
        // The common case, one call less.
        const fetch = fetches.get(cond.fetch)!.fetch;
        const args = cond.args;
        return (ctx) => match(fetch(ctx, args));
      }
      const sample = compileSample(cond);
      return (ctx) => match(sample(ctx));
    }
  }
}

type MatchLeaf = Extract<Condition, { kind: 'match' }>;

/** Exact string matches of one fetch without converters: consecutive ones share one lookup. */
function lookupKey(c: Condition): string | undefined {
  if (c.kind !== 'match' || c.method !== 'str' || c.converters.length !== 0 || c.files) return undefined;
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
