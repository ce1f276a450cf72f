/**
 * HAProxy `global` lines accepted in `global.options` (the `tune.*` ones and the
 * compression limits tslb has a setting for), each read by the builder of what it tunes. A YAML field and a line setting
 * the same value: the YAML field wins.
 */
import { parseSize, splitWords } from './haproxy-syntax';
import type { GlobalInput } from './schema-global';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';

const GLOBAL_TUNE_LINES = [
  'tune.bufsize',
  'tune.h2.max-concurrent-streams',
  'tune.h2.initial-window-size',
  'tune.h2.header-table-size',
  'tune.http.maxhdr',
  'maxcomprate',
  'maxcompcpuusage',
] as const;
export type GlobalTuneLine = (typeof GLOBAL_TUNE_LINES)[number];

/** A line's value and where it was written. */
export interface TuneValue {
  value: string | number;
  segs: Seg[];
}

/** The `global.options` lines by keyword (the last one wins); unknown or malformed lines are errors. */
export function globalTuneLines(g: GlobalInput, at: (segs: Seg[]) => Where, diag: Diagnostics): Map<GlobalTuneLine, TuneValue> {
  const values = new Map<GlobalTuneLine, TuneValue>();
  (g.options ?? []).forEach((line, i) => {
    const segs: Seg[] = ['global', 'options', i];
    const [keyword = '', ...args] = splitWords(line);
    if (!(GLOBAL_TUNE_LINES as readonly string[]).includes(keyword)) {
      return diag.error(at(segs), `unsupported global line "${keyword}": global options take ${GLOBAL_TUNE_LINES.join(', ')}${didYouMean(keyword, GLOBAL_TUNE_LINES)}`);
    }
    if (args.length !== 1) return diag.error(at(segs), `${keyword} takes one value`);
    values.set(keyword as GlobalTuneLine, { value: args[0], segs });
  });
  return values;
}

/** A tuned number (a size with k/m/g allowed), checked against its range; undefined when unset or wrong (the error is reported). */
export function tuneNumber(v: TuneValue | undefined, name: string, min: number, max: number, at: (segs: Seg[]) => Where, diag: Diagnostics): number | undefined {
  if (!v) return undefined;
  const n = parseSize(v.value);
  if (n.error !== undefined) {
    diag.error(at(v.segs), n.error);
    return undefined;
  }
  if (n.value < min || n.value > max) diag.error(at(v.segs), `${name} must be ${min}..${max} (got ${n.value})`);
  return n.value;
}
