/**
 * The last invalid message per proxy, for the runtime API's `show errors`: HAProxy
 * keeps a snapshot of the last request a frontend rejected as invalid and of the
 * last response a backend rejected. Bounded: one capture per direction and proxy,
 * each at most CAPTURE_BYTES of the message.
 */
import type { ConnectionInfo } from './connection';

/** Bytes of the rejected message kept (HAProxy keeps its buffer). */
const CAPTURE_BYTES = 4096;

export interface ErrorCapture {
  /** Event number in this worker. */
  event: number;
  /** Date.now() of the rejection. */
  at: number;
  kind: 'request' | 'response';
  frontend: string;
  backend?: string;
  server?: string;
  src: string;
  srcPort: number;
  /** Why the parser refused it. */
  reason: string;
  /** Length of the message received so far. */
  length: number;
  /** Its first CAPTURE_BYTES bytes, latin1. */
  data: string;
}

const captures = new Map<string, ErrorCapture>();
let events = 0;

/** Keep `message` as the last invalid request of `frontend` (or response of `backend`). */
export function captureInvalid(
  kind: ErrorCapture['kind'],
  message: Buffer,
  reason: string,
  frontend: string,
  backend: string | undefined,
  server: string | undefined,
  info: ConnectionInfo,
): void {
  const proxy = kind === 'request' ? frontend : backend ?? frontend;
  captures.set(`${kind} ${proxy}`, {
    event: events++,
    at: Date.now(),
    kind,
    frontend,
    backend,
    server,
    src: info.src,
    srcPort: info.srcPort,
    reason,
    length: message.length,
    data: message.toString('latin1', 0, Math.min(message.length, CAPTURE_BYTES)),
  });
}

export function errorCaptures(): { total: number; captures: ErrorCapture[] } {
  return { total: events, captures: [...captures.values()] };
}
