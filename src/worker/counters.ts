/**
 * Per-worker counters, plain numbers on a fixed-shape object so increments on the
 * data path cost nothing. Workers send deltas to the primary (observability issue),
 * which aggregates; nothing on the request path waits for it.
 */
export interface Counters {
  /** Current sessions (connections for tcp, client connections for http). */
  sessCur: number;
  sessMax: number;
  sessTotal: number;
  bytesIn: number;
  bytesOut: number;
  reqTotal: number;
  deniedReq: number;
  deniedResp: number;
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
}

export function newCounters(): Counters {
  return {
    sessCur: 0,
    sessMax: 0,
    sessTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
    reqTotal: 0,
    deniedReq: 0,
    deniedResp: 0,
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
