/**
 * Arming timeouts from the config model. A timeout of 0 means none, as in HAProxy
 * (src/config/model.ts Timeouts): it gives no deadline and no timer rather than one
 * that expires at once.
 */

/** The deadline `ms` after `now`, or 0 (none: the session sweep skips it) for a timeout of 0. */
export function deadlineAfter(now: number, ms: number): number {
  return ms > 0 ? now + ms : 0;
}

/** `setTimeout(fn, ms)`, or no timer for a timeout of 0 (clearTimeout accepts undefined). */
export function timerAfter(ms: number, fn: () => void): NodeJS.Timeout | undefined {
  return ms > 0 ? setTimeout(fn, ms) : undefined;
}
