/**
 * Per-worker counters, plain numbers (and histogram buckets in Float64Arrays) on a
 * fixed-shape object so increments on the data path cost nothing. Workers send deltas to the primary (observability issue),
 * which aggregates; nothing on the request path waits for it.
 */
export interface Counters {
  /** Current sessions (connections for tcp, client connections for http). */
  sessCur: number;
  /** Requests waiting in a queue (server maxconn reached), and the peak. */
  queueCur: number;
  queueMax: number;
  sessMax: number;
  sessTotal: number;
  bytesIn: number;
  bytesOut: number;
  reqTotal: number;
  deniedReq: number;
  deniedResp: number;
  /** Connections closed by tcp-request connection rules (HAProxy dcon), and by session rules (dses). */
  deniedConn: number;
  deniedSess: number;
  errReq: number;
  errConn: number;
  errResp: number;
  retries: number;
  redispatches: number;
  hrsp1xx: number;
  hrsp2xx: number;
  hrsp3xx: number;
  hrsp4xx: number;
  hrsp5xx: number;
  hrspOther: number;
  /** Times a server was picked by the balancer. */
  lbTotal: number;
  cliAborts: number;
  srvAborts: number;
  /** Connections accepted (frontends; HAProxy conn_tot). */
  connTotal: number;
  /** http-request cache-use lookups and the hits among them, on the proxy whose rule ran (HAProxy cache_lookups/cache_hits). */
  cacheLookups: number;
  cacheHits: number;
  /**
   * Response bytes into the compressor and out of it, responses compressed (HAProxy comp_in,
   * comp_out, comp_rsp); bytes of compressed responses that passed at level 0 because of
   * maxcomprate or maxcompcpuusage (comp_byp).
   */
  compIn: number;
  compOut: number;
  compRsp: number;
  compByp: number;
  /**
   * Transaction timers (ms) for averages: queue (Tw), connect (Tc), response head (Tr),
   * total (Tt); sums and counts, recorded by src/log/transaction.ts when a timer was reached.
   */
  qtimeSum: number;
  qtimeCount: number;
  ctimeSum: number;
  ctimeCount: number;
  rtimeSum: number;
  rtimeCount: number;
  ttimeSum: number;
  ttimeCount: number;
  /** Largest timer seen by this worker (a per-worker maximum, like sessMax). */
  qtimeMax: number;
  ctimeMax: number;
  rtimeMax: number;
  ttimeMax: number;
  /**
   * Response (Tr) and total (Tt) time histograms: slot i counts the timers in
   * (LATENCY_BOUNDS_MS[i-1], LATENCY_BOUNDS_MS[i]], the last slot those above every bound.
   */
  rtimeBuckets: Float64Array;
  ttimeBuckets: Float64Array;
}

/** Upper bounds (ms, inclusive like Prometheus `le`) of the latency histogram buckets. */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export function newCounters(): Counters {
  return {
    sessCur: 0,
    queueCur: 0,
    queueMax: 0,
    sessMax: 0,
    sessTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
    reqTotal: 0,
    deniedReq: 0,
    deniedResp: 0,
    deniedConn: 0,
    deniedSess: 0,
    errReq: 0,
    errConn: 0,
    errResp: 0,
    retries: 0,
    redispatches: 0,
    hrsp1xx: 0,
    hrsp2xx: 0,
    hrsp3xx: 0,
    hrsp4xx: 0,
    hrsp5xx: 0,
    hrspOther: 0,
    lbTotal: 0,
    cliAborts: 0,
    srvAborts: 0,
    connTotal: 0,
    cacheLookups: 0,
    cacheHits: 0,
    compIn: 0,
    compOut: 0,
    compRsp: 0,
    compByp: 0,
    qtimeSum: 0,
    qtimeCount: 0,
    ctimeSum: 0,
    ctimeCount: 0,
    rtimeSum: 0,
    rtimeCount: 0,
    ttimeSum: 0,
    ttimeCount: 0,
    qtimeMax: 0,
    ctimeMax: 0,
    rtimeMax: 0,
    ttimeMax: 0,
    rtimeBuckets: new Float64Array(LATENCY_BOUNDS_MS.length + 1),
    ttimeBuckets: new Float64Array(LATENCY_BOUNDS_MS.length + 1),
  };
}

export function countStatus(c: Counters, status: number): void {
  if (status < 200) c.hrsp1xx++;
  else if (status < 300) c.hrsp2xx++;
  else if (status < 400) c.hrsp3xx++;
  else if (status < 500) c.hrsp4xx++;
  else if (status < 600) c.hrsp5xx++;
  else c.hrspOther++;
}

export function sessionOpened(c: Counters): void {
  c.sessTotal++;
  if (++c.sessCur > c.sessMax) c.sessMax = c.sessCur;
}

/** Add one transaction's timers (−1 = not reached, not counted). */
export function recordTimes(c: Counters, tw: number, tc: number, tr: number, tt: number): void {
  if (tw >= 0) {
    c.qtimeSum += tw;
    c.qtimeCount++;
    if (tw > c.qtimeMax) c.qtimeMax = tw;
  }
  if (tc >= 0) {
    c.ctimeSum += tc;
    c.ctimeCount++;
    if (tc > c.ctimeMax) c.ctimeMax = tc;
  }
  if (tr >= 0) {
    c.rtimeSum += tr;
    c.rtimeCount++;
    if (tr > c.rtimeMax) c.rtimeMax = tr;
    c.rtimeBuckets[latencyBucket(tr)]++;
  }
  if (tt >= 0) {
    c.ttimeSum += tt;
    c.ttimeCount++;
    if (tt > c.ttimeMax) c.ttimeMax = tt;
    c.ttimeBuckets[latencyBucket(tt)]++;
  }
}

/** The histogram slot of a timer: a few comparisons for the usual sub-100 ms times. */
function latencyBucket(ms: number): number {
  let i = 0;
  while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]) i++;
  return i;
}

export function queueEntered(c: Counters): void {
  if (++c.queueCur > c.queueMax) c.queueMax = c.queueCur;
}
