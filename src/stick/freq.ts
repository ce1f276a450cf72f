/**
 * HAProxy's frequency counters over a period (freq_ctr.c, freq_ctr.h), on three
 * slots of an entry's values: `[curr_tick, curr_ctr, prev_ctr]`. Events count in
 * the current period; a read adds the previous period's count weighted by the part
 * of the period still to run, so the rate slides instead of dropping to 0 at each
 * period boundary.
 */

/** update_freq_ctr_period: adds `inc` events at `now`, rotating the periods first when the current one is over. */
export function freqAdd(v: number[], at: number, period: number, now: number, inc: number): void {
  let tick = v[at];
  if (now - tick >= period) {
    v[at + 2] = v[at + 1];
    v[at + 1] = 0;
    tick += period;
    // Two periods or more without an event: nothing of the past remains.
    if (now - tick >= period) {
      v[at + 2] = 0;
      tick = now;
    }
    v[at] = tick;
  }
  v[at + 1] += inc;
}

/**
 * The events over the current and previous periods at `now`, the previous weighted by
 * the part of the current period still to run, times the period
 * (_freq_ctr_total_from_values); `pend` events are not yet in the counter.
 */
function freqTotal(v: number[], at: number, period: number, now: number, pend: number, lowRateCorrection: boolean): number {
  let remain = v[at] + period - now;
  let past = v[at + 2];
  let curr = v[at + 1];
  if (remain < 0) {
    // Past the current period: it is the previous one now, or long gone.
    remain += period;
    past = remain >= 0 ? curr : 0;
    curr = 0;
  }
  curr += pend;
  // HAProxy's correction at very low rates: no flapping between 0 and 1.
  if (lowRateCorrection && curr === 0 && past <= 1) return past * period;
  return past * remain + curr * period;
}

/**
 * read_freq_ctr_period with `pend` events not yet in the counter (a worker's own
 * increments the primary has not confirmed): the events per period at `now`.
 */
export function freqRead(v: number[], at: number, period: number, now: number, pend: number): number {
  return Math.floor(freqTotal(v, at, period, now, pend, true) / period);
}

/** `set table … data.<rate> V` (HAProxy's table_process_entry): V now, fading out over the next period. */
export function freqSet(v: number[], at: number, now: number, value: number): void {
  v[at] = now;
  v[at + 1] = value;
  v[at + 2] = 0;
}

/**
 * next_event_delay_period: ms to wait until one more event keeps the rate at most
 * `freq` per period (0: now).
 */
export function freqWait(v: number[], at: number, period: number, now: number, freq: number, pend: number): number {
  const total = freqTotal(v, at, period, now, pend, false);
  const limit = freq * period;
  if (total < limit) return 0;
  return Math.max(1, Math.floor((total - limit) / Math.max(1, freq)));
}
