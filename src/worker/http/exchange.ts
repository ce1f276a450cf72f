/**
 * The per-request state of an HTTP session (head parsers, body framers, the sample
 * context and balance key over them), taken from a per-worker pool when a request
 * starts and returned when the connection goes idle: an idle keep-alive connection
 * holds only its socket and a small session (issue 3's memory per idle connection).
 */
import { HeadParser } from '../../http1/parser';
import { BodyFramer } from '../../http1/body';
import type { ConnectionInfo } from '../connection';
import { HttpBalanceKey, HttpSampleContext } from './rules';

export class Exchange {
  readonly req = new HeadParser(true);
  readonly res = new HeadParser(false);
  readonly reqBody = new BodyFramer();
  readonly resBody = new BodyFramer();
  readonly ctx = new HttpSampleContext(this.req, this.res);
  readonly key = new HttpBalanceKey(this.ctx);
}

/** Enough for the requests in flight on a busy worker; beyond it, exchanges are left to the GC. */
const POOL_MAX = 512;
const pool: Exchange[] = [];

export function takeExchange(info: ConnectionInfo, frontend: string): Exchange {
  const ex = pool.pop() ?? new Exchange();
  ex.ctx.bind(info, frontend);
  return ex;
}

/** The session is done with `ex`; nothing may use it afterwards. */
export function releaseExchange(ex: Exchange): void {
  ex.req.release();
  ex.res.release();
  ex.ctx.stage = 'request';
  if (pool.length < POOL_MAX) pool.push(ex);
}
