/**
 * HAProxy's global `maxcomprate` and `maxcompcpuusage` in a worker (src/compression.c,
 * src/flt_http_comp.c): over either limit, a response is not compressed at all when
 * it starts, and a gzip/deflate response already compressing lowers its level by one
 * after each piece (back up, to the configured level, once under them). Bytes that go
 * through at level 0 are HAProxy's `comp_byp`; only the others count in the rates.
 *
 * HAProxy's rates are per process, its CPU figure per thread: here each worker keeps
 * its share of the node's rate (maxcomprate / workers) over its own 1 s sliding
 * counters, and its idle percentage from its event loop's utilisation, sampled every
 * 500 ms while a CPU limit is set. With no limit set, `limited` is false and nothing
 * is measured.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { freqAdd, freqRead } from '../stick/freq';

const PERIOD = 1000;
const IDLE_SAMPLE_MS = 500;

/** Bytes per second this worker may feed to (and get from) its compressors; 0: no limit. */
let rateLimit = 0;
/** The least idle percentage under which compression backs off (HAProxy's compress_min_idle); 0: no limit. */
let minIdle = 0;
let idlePct = 100;
let idleTimer: NodeJS.Timeout | undefined;
let lastElu: EventLoopUtilization | undefined;
/** The node's workers, among which `maxcomprate` is shared. */
let workerCount = 1;
/** HAProxy's global.comp_bps_in and comp_bps_out: [tick, current period, previous period]. */
const bpsIn = [0, 0, 0];
const bpsOut = [0, 0, 0];

/** Whether a limit is set: the compressors then ask `throttled` after each piece. */
export let limited = false;

/** A config's limits: `maxCompRate` kB/s for the node, `maxCompCpuUsage` percent. */
export function setCompressionLimits(maxCompRate: number, maxCompCpuUsage: number, workers: number): void {
  workerCount = Math.max(1, workers);
  minIdle = 100 - Math.min(100, maxCompCpuUsage);
  setCompressionRate(maxCompRate);
  if (minIdle > 0 && !idleTimer) {
    lastElu = performance.eventLoopUtilization();
    idleTimer = setInterval(sampleIdle, IDLE_SAMPLE_MS);
    idleTimer.unref();
  } else if (minIdle === 0 && idleTimer) {
    clearInterval(idleTimer);
    idleTimer = undefined;
    idlePct = 100;
  }
}

/** `maxCompRate` kB/s for the node (the config's, or the runtime API's `set rate-limit http-compression global`). */
export function setCompressionRate(maxCompRate: number): void {
  rateLimit = maxCompRate > 0 ? Math.max(1, Math.floor((maxCompRate * 1024) / workerCount)) : 0;
  limited = rateLimit > 0 || minIdle > 0;
}

function sampleIdle(): void {
  const now = performance.eventLoopUtilization();
  idlePct = Math.round((1 - performance.eventLoopUtilization(now, lastElu).utilization) * 100);
  lastElu = now;
}

/** A response may start compressing: the input rate and the idle time are within the limits (select_compression_response_header). */
export function compressionAllowed(): boolean {
  if (!limited) return true;
  return !(rateLimit > 0 && freqRead(bpsIn, 0, PERIOD, Date.now(), 0) > rateLimit) && idlePct >= minIdle;
}

/** After a piece: over the output rate or under the idle time, the level goes down (comp_rfc195x_flush_or_finish). */
export function throttled(): boolean {
  return (rateLimit > 0 && freqRead(bpsOut, 0, PERIOD, Date.now(), 0) > rateLimit) || idlePct < minIdle;
}

/** Bytes into and out of a compressor working at a level above 0. */
export function countCompressionRate(bytesIn: number, bytesOut: number): void {
  const now = Date.now();
  if (bytesIn) freqAdd(bpsIn, 0, PERIOD, now, bytesIn);
  if (bytesOut) freqAdd(bpsOut, 0, PERIOD, now, bytesOut);
}
