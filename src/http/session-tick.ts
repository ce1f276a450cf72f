/**
 * One 250 ms timer per worker for every L7 session's timeouts (HTTP/1 connections and
 * HTTP/2 connections alike) and the sweep of idle server connections, instead of a timer
 * per protocol or per socket. Each session module hands its set of live sessions over
 * once; the timer starts with the first connection and never keeps the worker alive.
 */
import { sweepIdle } from './pool';

const TICK_MS = 250;

/** A live session whose deadlines the tick checks. */
export interface TimedSession {
  checkTimeouts(now: number): void;
}

const groups: ReadonlySet<TimedSession>[] = [];
let ticker: NodeJS.Timeout | undefined;

function tick(): void {
  const now = Date.now();
  for (const group of groups) for (const s of group) s.checkTimeouts(now);
  sweepIdle(now);
}

/** A session module's live sessions, checked on every tick from now on (call once per set). */
export function tickSessions(group: ReadonlySet<TimedSession>): void {
  groups.push(group);
}

/** Start the tick if it is not running (a connection arrived). */
export function startSessionTick(): void {
  if (ticker) return;
  ticker = setInterval(tick, TICK_MS);
  ticker.unref();
}
