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
