/** Match methods (`-m str|beg|end|sub|dom|dir|reg|ip|int|found|bool|len|bin`) compiled to predicates. */
import type { MatchMethod } from '../config/model';
import type { Sample } from './fetches';
import { buildLookup, type Lookup, type PatternMethod } from './pattern-index';
import { versionOf, type PatternRef } from './patterns';

export type Matcher = (sample: Sample) => boolean;

/**
 * A predicate over a sample: true when the sample (any value of a multi-valued one)
 * matches one of `patterns` or of the entries of `files` (`-f`). Without files the
 * lookup is built once; with files it is rebuilt on the first use after the runtime
 * API edited one of them.
 */
export function compileMatcher(method: MatchMethod, patterns: string[], ignoreCase: boolean, files: readonly PatternRef[] = []): Matcher {
  if (method === 'found') return (s) => s !== undefined && !(Array.isArray(s) && s.length === 0);
  if (method === 'bool') {
    return (s) => (Array.isArray(s) ? s.length > 0 : typeof s === 'number' ? s !== 0 : !!s);
  }
  if (files.length === 0) {
    const lookup = buildLookup(method, patterns, ignoreCase);
    return (s) => matchesAny(lookup, s);
  }
  const current = liveLookup(method, ignoreCase, files, patterns);
  return (s) => matchesAny(current(), s);
}

/**
 * The lookup over `files` (after `fixed` patterns, when given), rebuilt when one of
 * the files changed since the last call; indexes count from the first fixed pattern.
 */
export function liveLookup(method: PatternMethod, ignoreCase: boolean, files: readonly PatternRef[], fixed: readonly string[] = []): () => Lookup {
  let built = -1;
  let lookup: Lookup = () => -1;
  return () => {
    const version = versionOf(files);
    if (version !== built) {
      const keys = [...fixed];
      for (const f of files) for (const e of f.file.entries) keys.push(e.key);
      lookup = buildLookup(method, keys, ignoreCase);
      built = version;
    }
    return lookup;
  };
}

/** True when the sample, or one of its values, has a pattern. */
function matchesAny(lookup: Lookup, s: Sample): boolean {
  if (s === undefined) return false;
  if (Array.isArray(s)) {
    for (let i = 0; i < s.length; i++) if (lookup(s[i]) >= 0) return true;
    return false;
  }
  return lookup(s) >= 0;
}
