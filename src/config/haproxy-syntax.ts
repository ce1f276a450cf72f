/**
 * The value syntaxes every HAProxy line in the config is made of: words (quoting and
 * `\ ` escapes as HAProxy's parser splits them), times, sizes and escaped data, and
 * the `Parsed` result the line parsers return. The line parsers themselves are by
 * keyword: server-syntax.ts, option-syntax.ts, check-syntax.ts, backend-syntax.ts,
 * stick-syntax.ts. Each returns plain values plus messages; the loader attaches file
 * positions.
 */
import { splitHaproxyWords, type SplitOptions } from './words';
import { MAX_SIZE, MAX_TIME_MS } from './limits';

export type Parsed<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const TIME_RANGE = `must be 0..${MAX_TIME_MS} ms (~24.8 days)`;

/** HAProxy time: `500ms`, `5s`, `2m`, `1h`, `1d`, `100us`; a bare number is milliseconds. 0 means no timeout. */
export function parseTime(v: string | number): Parsed<number> {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { error: `bad time "${v}": must be an integer (ms)` };
    ms = v;
  } else {
    const m = /^(-?\d+)(us|ms|s|m|h|d)?$/.exec(v.trim());
    if (!m) return { error: `bad time "${v}": expected a number with an optional unit us|ms|s|m|h|d (e.g. 5s, 500ms)` };
    ms = Math.ceil(Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']);
  }
  // Longer delays would make Node's timers fire at once.
  return ms >= 0 && ms <= MAX_TIME_MS ? { value: ms } : { error: `bad time "${v}": ${TIME_RANGE}` };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

/** A byte size: `16384`, `16k`, `1m`, `1g`. */
export function parseSize(v: string | number): Parsed<number> {
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { error: `bad size "${v}": must be an integer` };
    n = v;
  } else {
    const m = /^(-?\d+)([kmg]?)$/i.exec(v.trim());
    if (!m) return { error: `bad size "${v}": expected a number with an optional unit k|m|g` };
    n = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  }
  return n >= 0 && n <= MAX_SIZE ? { value: n } : { error: `bad size "${v}": must be 0..${MAX_SIZE}` };
}

/**
 * Splits a line into words as HAProxy's config parser does: blanks separate
 * words, `\ ` is a literal space, and '…' / "…" quote. Other backslash
 * sequences (`\r\n` in the old httpchk header syntax) are kept as written.
 */
export function splitWords(text: string): string[] {
  return splitHaproxyWords(text, CONFIG_WORDS).words;
}

const CONFIG_WORDS: SplitOptions = { escapes: ' \t"\'', anyEscapeInDoubleQuotes: false, lineBreaksAreBlanks: false };

const ESCAPES: Record<string, string> = { r: '\r', n: '\n', t: '\t', '\\': '\\' };

/**
 * HAProxy's escapes in a word that is sent as data (`tcp-check send`, `agent-send`):
 * `\r`, `\n`, `\t`, `\\` and `\xNN`. (YAML double quotes may already have turned them into the bytes.)
 */
export function unescape(word: string): string {
  return word.replace(/\\(x[0-9A-Fa-f]{2}|[rnt\\])/g, (_, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ESCAPES[e]));
}
