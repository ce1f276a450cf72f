/**
 * Ranges of the config's numbers, shared by the schema (YAML numbers) and the
 * HAProxy-syntax parsers (numbers inside option strings), so both refuse the
 * same values with the same range.
 */

/** HAProxy's int; also the longest delay Node's timers take (a longer one fires at once). */
export const MAX_INT = 2 ** 31 - 1;
/** Times are milliseconds: up to ~24.8 days, as HAProxy's "timer overflow" limit. */
export const MAX_TIME_MS = MAX_INT;
/** Byte sizes and counts of table entries. */
export const MAX_SIZE = MAX_INT;
/** maxconn / maxqueue, global, per frontend or per server. */
export const MAX_CONN = 10_000_000;
/** Event-loop workers (`workers: N`, the seed's nbproc). */
export const MAX_WORKERS = 512;
/** Server weights, as HAProxy. */
export const MAX_WEIGHT = 256;
/** Consecutive check results for rise / fall. */
export const MAX_RISE_FALL = 1000;
/** Connection retries after a failed attempt. */
export const MAX_RETRIES = 100;
/** Bytes a health check reads at most: HAProxy's check buffer is one tune.bufsize; more data ends the read. */
export const MAX_CHECK_RESPONSE = 16 * 1024;
/** Characters kept of a string stick-table key (`len`). */
export const MAX_STICK_KEY = 65535;
