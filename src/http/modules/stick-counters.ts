/**
 * The http counters of the connection's stick counters (src/stick/worker.ts
 * Trackers): http_req_cnt/rate on each request, before the http-request rules (so
 * `sc_http_req_rate(0)` in them includes this request, as in HAProxy);
 * http_err_cnt/rate on each exchange that ended with a 4xx, invalid requests
 * included (HAProxy counts both); bytes_in/out per exchange at its end, then the
 * counters an http-request track-sc started for the request stop. Built only for a
 * frontend whose rules track (tcp-request or http-request track-sc, its own or a
 * backend's): without it nothing runs per request.
 */
import type { Frontend } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

class StickCounters implements HttpModule {
  request(ex: HttpExchange): number {
    ex.info.trackers?.onHttpRequest();
    return CONTINUE;
  }

  log(ex: HttpExchange): void {
    const trackers = ex.info.trackers;
    if (!trackers) return;
    const tx = ex.tx;
    if (tx.status >= 400 && tx.status < 500) trackers.onHttpError();
    trackers.onBytesIn(tx.bytesRead);
    trackers.onBytesOut(tx.bytesSent);
    if (ex.requestTracked !== 0) trackers.untrack(ex.requestTracked);
  }
}

function tracks(f: Frontend): boolean {
  return f.backendsTrack === true || (f.tcpRequest ?? []).some((r) => r.act.action === 'track-sc') || f.httpRules.some((r) => r.act.action === 'track-sc');
}

const shared = new StickCounters();

export const stickCounters: ModuleDefinition = {
  name: 'stick-counters',
  create: (scope) => (scope.kind === 'frontend' && tracks(scope.config) ? shared : null),
};
