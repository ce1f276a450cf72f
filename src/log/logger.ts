/**
 * Process logger (pino, JSON lines on stdout). Asynchronous destination so logging
 * never blocks the event loop; flushed synchronously on exit.
 */
import pino from 'pino';
import { flushAccessLogs } from './access-sink';

export type Logger = pino.Logger;

let destination: pino.DestinationStream & { flushSync?: () => void } | undefined;

export function createLogger(role: 'primary' | 'worker', level: string): Logger {
  destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino(
    {
      level,
      base: { pid: process.pid, role },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Write out buffered lines (process and access logs) before the process exits. */
export function flushLogs(): void {
  flushAccessLogs();
  try {
    destination?.flushSync?.();
  } catch {
    // stdout already closed: nothing left to save
  }
}
