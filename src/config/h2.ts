/**
 * `global.h2` and HAProxy's `tune.h2.*` global lines (in `global.options`, ./global-options.ts): the HTTP/2
 * frontend settings handed to H2Connection (src/http2/connection-core.ts holds the
 * defaults). A YAML field and a line setting the same value: the YAML field wins.
 */
import { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE } from '../http2/frames';
import { MAX_TABLE_CAPACITY, TABLE_CAPACITY } from '../http2/hpack';
import { tuneNumber, type GlobalTuneLine, type TuneValue } from './global-options';
import type { H2Settings } from './model';
import type { GlobalInput } from './schema-global';
import type { Diagnostics, Seg, Where } from './source';
import { MAX_SIZE } from './limits';

type Field = 'max_concurrent_streams' | 'initial_window_size' | 'header_table_size' | 'max_header_list_size';

/** HAProxy's global keywords and the `global.h2` field each sets. */
const TUNE_LINES: ReadonlyArray<[GlobalTuneLine, Field]> = [
  ['tune.h2.max-concurrent-streams', 'max_concurrent_streams'],
  ['tune.h2.initial-window-size', 'initial_window_size'],
  ['tune.h2.header-table-size', 'header_table_size'],
];

export function buildH2Settings(g: GlobalInput, lines: ReadonlyMap<GlobalTuneLine, TuneValue>, at: (segs: Seg[]) => Where, diag: Diagnostics): H2Settings {
  const values = new Map<Field, TuneValue>();
  for (const [keyword, field] of TUNE_LINES) {
    const line = lines.get(keyword);
    if (line) values.set(field, line);
  }
  const h = g.h2 ?? {};
  for (const field of ['max_concurrent_streams', 'initial_window_size', 'header_table_size', 'max_header_list_size'] as const) {
    if (h[field] !== undefined) values.set(field, { value: h[field], segs: ['global', 'h2', field] });
  }
  const number = (field: Field, fallback: number, min: number, max: number): number => tuneNumber(values.get(field), field, min, max, at, diag) ?? fallback;
  return {
    maxConcurrentStreams: number('max_concurrent_streams', 100, 1, 10000),
    initialWindowSize: number('initial_window_size', DEFAULT_WINDOW_SIZE, DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE),
    headerTableSize: number('header_table_size', TABLE_CAPACITY, TABLE_CAPACITY, MAX_TABLE_CAPACITY),
    maxHeaderListSize: number('max_header_list_size', 65536, 1024, MAX_SIZE),
  };
}
