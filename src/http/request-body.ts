/**
 * The request body buffered for the rules (HAProxy's `option http-buffer-request` and
 * `http-request wait-for-body`): what `req.body`, `req.body_len`, `req.body_param`
 * and `req.body_size` read. The exchange keeps the body's bytes as they came (its
 * wire bytes, forwarded unchanged once the server is connected, ./proxy-exchange.ts);
 * this keeps their payload (de-chunked), at most the buffer size (`tune.bufsize`),
 * and says when a wait is over: the body is complete, the buffer is full (as many
 * wire bytes as the buffer holds, framing included, as HAProxy's buffer holds
 * both), or at least the payload bytes asked for are in.
 */
import type { BufferedBody } from '../rules/context';
import { Dechunker, type DechunkSink } from '../http2/dechunk';

/** HAProxy's tune.bufsize default. */
const DEFAULT_BUFFER_SIZE = 16384;
let bufferSize = DEFAULT_BUFFER_SIZE;

/** The buffer size of this config generation (global `buf_size` / `tune.bufsize`). */
export function setRequestBufferSize(n: number): void {
  bufferSize = n;
}

const EMPTY = Buffer.alloc(0);
/** A payload buffer this small stays with its pooled exchange for the next request; a larger one goes with its request. */
const KEPT_BYTES = 16384;

/** The exchange side of a wait (./proxy-exchange.ts), called from a timer or the next tick without a closure. */
interface BodyWaiter {
  resumeAfterBody(token: number): void;
  bodyWaitExpired(): void;
}

export function resumeAfterBody(ex: BodyWaiter, token: number): void {
  ex.resumeAfterBody(token);
}

export function bodyWaitExpired(ex: BodyWaiter): void {
  ex.bodyWaitExpired();
}

/** One exchange's buffered body; made by its first request that buffers and kept with the pooled exchange. */
export class RequestBodyBuffer implements DechunkSink, BufferedBody {
  /** The payload so far is `data[0..length)`. */
  private data: Buffer = EMPTY;
  length = 0;
  /** text() of the payload so far, made once for every rule that reads it. */
  private asText: string | undefined = undefined;
  /** The whole body is in. */
  complete = false;
  /** Wire bytes received since buffering started: they fill the buffer. */
  private wire = 0;
  private limit = DEFAULT_BUFFER_SIZE;
  private chunked = false;
  private readonly dechunker = new Dechunker();
  /** A wait holds the request until `satisfied(atLeast)`, or its timer answers 408. */
  waiting = false;
  private atLeast = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** The request phase function that asked for the wait (its index in the frontend's, or the backend's, pipeline): it runs again after. */
  heldAt = 0;
  heldOnBackend = false;

  /** Buffering starts for a request whose body is chunked or not, already all received (`done`) or not. */
  start(chunked: boolean, done: boolean): void {
    this.length = 0;
    this.asText = undefined;
    this.wire = 0;
    this.limit = bufferSize;
    this.chunked = chunked;
    this.complete = done && !chunked;
    if (chunked) this.dechunker.reset();
  }

  /** Body bytes `buf[start..end)` as they go to the server (chunked framing validated, extensions cut); `done`: they end the body. */
  feed(buf: Buffer, start: number, end: number, done: boolean): void {
    this.wire += end - start;
    if (this.chunked) this.dechunker.feed(buf, start, end, this);
    else {
      this.chunkData(buf, start, end);
      if (done) this.complete = true;
    }
  }

  /** A wait starts (ended by `fed()`, or by the exchange at `timer`). */
  wait(atLeast: number, timer: NodeJS.Timeout | undefined): void {
    this.waiting = true;
    this.atLeast = atLeast;
    this.timer = timer;
  }

  held(at: number, onBackend: boolean): void {
    this.heldAt = at;
    this.heldOnBackend = onBackend;
  }

  /** feed(), then true when this ended the wait. */
  fed(buf: Buffer, start: number, end: number, done: boolean): boolean {
    this.feed(buf, start, end, done);
    return this.waiting && this.satisfied(this.atLeast) && this.stopWaiting();
  }

  /** Ends a wait; false when none was on. */
  stopWaiting(): boolean {
    if (!this.waiting) return false;
    this.waiting = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return true;
  }

  /** The wait is over: the body is complete, the buffer full, or at least `atLeast` payload bytes are in (0: no such bound). */
  satisfied(atLeast: number): boolean {
    return this.complete || this.wire >= this.limit || (atLeast > 0 && this.length >= atLeast);
  }

  /** The request is over: its payload is forgotten (a large buffer let go). */
  release(): void {
    this.length = 0;
    this.asText = undefined;
    if (this.data.length > KEPT_BYTES) this.data = EMPTY;
  }

  /** The payload as a binary sample (latin1: one character per byte). */
  text(): string {
    return (this.asText ??= this.data.toString('latin1', 0, this.length));
  }

  /** Payload bytes, kept up to the buffer size. */
  chunkData(buf: Buffer, start: number, end: number): boolean {
    const n = Math.min(end - start, this.limit - this.length);
    if (n <= 0) return true;
    const need = this.length + n;
    if (need > this.data.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, this.data.length * 2, 1024)));
      this.data.copy(grown, 0, 0, this.length);
      this.data = grown;
    }
    buf.copy(this.data, this.length, start, start + n);
    this.length = need;
    this.asText = undefined;
    return true;
  }

  chunkedEnd(): void {
    this.complete = true;
  }
}
