/**
 * One HTTP/2 stream of a server connection (RFC 9113 §5.1): its state, request head and
 * trailers, both flow-control windows and the response data waiting for window.
 * Stream objects are pooled per process: H2Connection takes one for each new stream and
 * gives it back after its handler's onStreamClose() returned, so nothing may keep a
 * stream past that call.
 */
import { H2Head, type HeaderList } from './head';

/** Open: both sides may send. */
export const ST_OPEN = 1;
/** The client sent END_STREAM; the response is still being sent. */
export const ST_HALF_CLOSED_REMOTE = 2;
/**
 * Both sides are done, or the stream was reset. There is no half-closed (local) state:
 * a response that ends before the request does closes the stream with RST_STREAM(NO_ERROR).
 */
export const ST_CLOSED = 3;

export class H2Stream {
  id = 0;
  state = ST_CLOSED;
  /** The request head: valid from onRequestHead() until onStreamClose(). */
  readonly head = new H2Head();
  /** The request trailers, when onTrailers() was called. */
  trailers: H2Head | null = null;
  /** Free for the session: its exchange object for this stream. */
  userData: unknown = null;
  /** Set when the stream ended by the client's RST_STREAM (or the connection's end). */
  resetByPeer = false;

  // Receive side.
  /** Bytes the client may still send us on this stream. */
  recvWindow = 0;
  /** Bytes received and not yet given back with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Request body bytes received (checked against content-length). */
  recvBytes = 0;
  /** The consumer asked to hold the window (backpressure): no WINDOW_UPDATE until resumed. */
  paused = false;

  // Send side.
  /** Bytes the client lets us send on this stream (may go negative after a SETTINGS change). */
  sendWindow = 0;
  /** The final response head went out. */
  headSent = false;
  /** Response bytes waiting for window: copies, oldest first; `queueOffset` into the first. */
  readonly queue: Buffer[] = [];
  queueOffset = 0;
  queuedBytes = 0;
  /** END_STREAM goes with the last queued byte (or the trailers). */
  endQueued = false;
  trailersQueued: HeaderList | null = null;
  /** In the connection's list of streams with queued output. */
  sending = false;
  /** writeData() returned false: onStreamWritable() is owed. */
  wantWritable = false;
  /** When checkStalls() first saw the stream unable to send for lack of window (0: not stalled). */
  stalledAt = 0;

  get remoteClosed(): boolean {
    return this.state !== ST_OPEN;
  }

  init(id: number, recvWindow: number, sendWindow: number): void {
    this.id = id;
    this.state = ST_OPEN;
    this.head.reset(false);
    this.userData = null;
    this.resetByPeer = false;
    this.recvWindow = recvWindow;
    this.recvUnacked = 0;
    this.recvBytes = 0;
    this.paused = false;
    this.sendWindow = sendWindow;
    this.headSent = false;
    this.endQueued = false;
    this.sending = false;
    this.wantWritable = false;
    this.stalledAt = 0;
  }

  /** Drop what the stream still holds (queued output, trailers, a grown head buffer). */
  clear(): void {
    // Setting an array's length goes through the runtime even when it is already 0.
    if (this.queue.length) this.queue.length = 0;
    this.queueOffset = 0;
    this.queuedBytes = 0;
    this.trailersQueued = null;
    this.trailers = null;
    this.userData = null;
    this.head.shrink();
  }
}

const pool: H2Stream[] = [];
const POOL_MAX = 1024;

export function takeStream(): H2Stream {
  return pool.pop() ?? new H2Stream();
}

export function releaseStream(s: H2Stream): void {
  s.clear();
  if (pool.length < POOL_MAX) pool.push(s);
}
