/**
 * `caches:` sections, as HAProxy's `cache NAME` (configuration.txt 6.2.1): YAML keys
 * (`total_max_size`, `max_object_size`, `max_age`, `process_vary`,
 * `max_secondary_entries`) or the section's HAProxy lines in `options`
 * (`total-max-size 4`, `max-age 240`…); a YAML key wins over a line. The proxies use
 * a cache with `http-request cache-use NAME` and `http-response cache-store NAME`.
 */
import { splitWords } from './haproxy-syntax';
import type { CacheSettings } from './model';
import type { CacheInput } from './schema-sections';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';

type Locate = (segs: Seg[]) => Where;

const MB = 1024 * 1024;
/** HAProxy's defaults (cache.c): max-age 60 s, 10 variants per URL. */
const DEFAULT_MAX_AGE = 60;
const DEFAULT_SECONDARY = 10;

type Given = { totalMB?: number; maxObjectSize?: number; maxAge?: number; processVary?: boolean; maxSecondaryEntries?: number };

/** The keyword of each line, its bounds and where it goes. */
const LINES: Record<string, { min: number; max: number; set: (g: Given, n: number) => void }> = {
  'total-max-size': { min: 1, max: 4095, set: (g, n) => (g.totalMB = n) },
  'max-object-size': { min: 1, max: 2147483647, set: (g, n) => (g.maxObjectSize = n) },
  'max-age': { min: 0, max: 2147483647, set: (g, n) => (g.maxAge = n) },
  'max-secondary-entries': { min: 1, max: 65535, set: (g, n) => (g.maxSecondaryEntries = n) },
};

/** One `options` line into `g`, or why not. */
function applyLine(g: Given, line: string): string | undefined {
  const w = splitWords(line);
  if (w[0] === 'process-vary') {
    if (w.length !== 2 || (w[1] !== 'on' && w[1] !== 'off')) return 'process-vary expects on or off';
    g.processVary = w[1] === 'on';
    return undefined;
  }
  const kw = LINES[w[0] ?? ''];
  if (!kw) return `unknown cache keyword "${w[0] ?? ''}"${didYouMean(w[0] ?? '', [...Object.keys(LINES), 'process-vary'])}`;
  if (w.length !== 2 || !/^\d+$/.test(w[1])) return `${w[0]} expects an integer`;
  const n = Number(w[1]);
  if (n < kw.min || n > kw.max) return `${w[0]} must be between ${kw.min} and ${kw.max}`;
  kw.set(g, n);
  return undefined;
}

export function buildCaches(list: CacheInput[], at: Locate, diag: Diagnostics): CacheSettings[] {
  const out: CacheSettings[] = [];
  list.forEach((c, i) => {
    const base: Seg[] = ['caches', i];
    const g: Given = {};
    let badLine = false;
    (c.options ?? []).forEach((line, j) => {
      const err = applyLine(g, line);
      if (err) diag.error(at([...base, 'options', j]), err);
      badLine ||= err !== undefined;
    });
    if (c.total_max_size !== undefined) g.totalMB = c.total_max_size;
    if (c.max_object_size !== undefined) g.maxObjectSize = c.max_object_size;
    if (c.max_age !== undefined) g.maxAge = c.max_age;
    if (c.process_vary !== undefined) g.processVary = c.process_vary;
    if (c.max_secondary_entries !== undefined) g.maxSecondaryEntries = c.max_secondary_entries;
    if (g.totalMB === undefined) {
      if (!badLine) diag.error(at(base), `cache "${c.name}": total_max_size (or "total-max-size <MB>" in options) is required`);
      return;
    }
    const total = g.totalMB * MB;
    // HAProxy: a 256th of the cache by default, never above half of it.
    const maxObjectSize = g.maxObjectSize ?? Math.floor(total / 256);
    if (maxObjectSize > total / 2) {
      diag.error(at(c.max_object_size !== undefined ? [...base, 'max_object_size'] : base), `cache "${c.name}": max-object-size (${maxObjectSize}) must not be above half of total-max-size (${total / 2})`);
    }
    out.push({
      name: c.name,
      totalMaxSize: total,
      maxObjectSize,
      maxAge: g.maxAge ?? DEFAULT_MAX_AGE,
      processVary: g.processVary ?? false,
      maxSecondaryEntries: g.maxSecondaryEntries ?? DEFAULT_SECONDARY,
    });
  });
  return out;
}
