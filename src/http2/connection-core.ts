/**
 * The part of an HTTP/2 server connection that does not read frames (connection.ts does):
 * the live streams, the response side (HEADERS, DATA within the peer's flow-control
 * windows, queued output, trailers), the request-body window the consumer gives back,
 * resets, GOAWAY, the stream and connection lifecycle, and the counters behind the
 * defences (glitches, control frames queued while the transport is backed up, stalls).
 */
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, E_CANCEL, E_ENHANCE_YOUR_CALM, E_NO_ERROR, F_END_STREAM, FRAME_HEADER_SIZE,
  FrameWriter, T_DATA,
} from './frames';
import { HpackEncoder, M_AUTO, TABLE_CAPACITY } from './hpack';
import { classifyName, HeaderList, isConnectionSpecific, type HeaderFields } from './head';
import { HDR_STRIDE, H_HOST, H_TE } from '../http/head';
import { releaseStream, ST_CLOSED, ST_HALF_CLOSED_REMOTE, type H2Stream } from './stream';

/** What the connection tells the session. Every call is synchronous; none may throw. */
export interface H2Handler {
  /**
   * Output to send, buf[start..end): the buffer is reused after the call, so whatever is
   * not written at once must be copied (socket-io's `forward()` does exactly this).
   * Return false when the transport is backed up; call `onSinkDrain()` when it drains.
   */
  write(buf: Buffer, start: number, end: number): boolean;
  /**
   * A valid request head, in `stream.head`. `endStream`: no body follows. When
   * `stream.head.tooLarge`, the decoded list passed maxHeaderListSize and the head holds
   * only the fields before the limit: answer 431 (RFC 9113 §10.5.1).
   */
  onRequestHead(stream: H2Stream, endStream: boolean): void;
  /** Request body bytes buf[start..end), valid only during the call (possibly empty when `endStream`). */
  onRequestData(stream: H2Stream, buf: Buffer, start: number, end: number, endStream: boolean): void;
  /** Request trailers, in `stream.trailers`; the request is complete. */
  onTrailers(stream: H2Stream): void;
  /** writeData() had returned false for this stream and it can take more now. */
  onStreamWritable(stream: H2Stream): void;
  /**
   * The stream is over: `code` is E_NO_ERROR after a complete exchange, else the reset's
   * code (`stream.resetByPeer` says whose). Called once per announced stream, also for
   * the handler's own reset(); the stream object is reused after the call returns.
   */
  onStreamClose(stream: H2Stream, code: number): void;
  /** The client sent GOAWAY: it opens no more streams. */
  onGoaway(lastStreamId: number, code: number): void;
  /**
   * The connection is finished (GOAWAY sent and no stream left, or an error): its last
   * output was written; end the transport. Called once, never after destroy().
   */
  onConnectionEnd(code: number): void;
}

export interface H2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: more open streams are refused with REFUSED_STREAM. */
  maxConcurrentStreams: number;
  /** Our per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE), at least 65,535. */
  initialWindowSize: number;
  /** Our SETTINGS_HEADER_TABLE_SIZE: the HPACK table the client may fill (4,096..65,536 bytes). */
  headerTableSize: number;
  /** Our connection receive window. */
  connectionWindowSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE, enforced on the decoded list; larger requests are announced `tooLarge` (431). */
  maxHeaderListSize: number;
  /** The most bytes of one header block (HEADERS + CONTINUATIONs) gathered before decoding. */
  maxHeaderBlockSize: number;
  /** The most CONTINUATION frames one header block may take. */
  maxContinuationFrames: number;
  /** Client resets of unfinished streams and client-caused stream errors tolerated per window. */
  maxGlitches: number;
  glitchWindowMs: number;
  /** SETTINGS/PING acknowledgements queued while the output is backed up before the connection is cut. */
  maxQueuedControlFrames: number;
  /** Huffman-encode response fields when it is shorter. */
  huffman: boolean;
}

export const DEFAULT_H2_OPTIONS: Readonly<H2Options> = {
  maxConcurrentStreams: 100,
  initialWindowSize: DEFAULT_WINDOW_SIZE,
  headerTableSize: TABLE_CAPACITY,
  connectionWindowSize: 1 << 20,
  maxHeaderListSize: 64 * 1024,
  maxHeaderBlockSize: 64 * 1024,
  maxContinuationFrames: 32,
  maxGlitches: 100,
  glitchWindowMs: 10_000,
  maxQueuedControlFrames: 1000,
  huffman: false,
};

/** Output collected past this is written before more is added (bounds the buffer). */
const FLUSH_AT = 64 * 1024;

export abstract class H2ConnectionCore {
  readonly options: Readonly<H2Options>;
  protected readonly out = new FrameWriter();
  protected readonly encoder: HpackEncoder;
  protected readonly streams = new Map<number, H2Stream>();
  /** Highest client stream id seen: ids up to it are closed if not in `streams`, above are idle. */
  protected lastStreamId = 0;
  protected goawaySent = false;
  protected peerGoaway = false;
  protected ended = false;
  protected peerInitialWindow = DEFAULT_WINDOW_SIZE;
  protected peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  protected connSendWindow = DEFAULT_WINDOW_SIZE;
  /** The stream of the DATA frame being read (forgotten when the stream closes: stream objects are pooled). */
  protected dataStream: H2Stream | null = null;
  /** Streams with queued output, in order. */
  private sending: H2Stream[] = [];
  private sinkBlocked = false;
  /** A stream that waits for onStreamWritable() emptied its queue, or the transport drained. */
  private drained = false;
  private controlWhileBlocked = 0;
  private glitches = 0;
  private glitchWindowStart = 0;
  /**
   * Output is flushed at the end of onData(); outside it, once at the end of the event-loop
   * turn (setImmediate): the responses of all the servers whose reads the turn delivered
   * leave in one TLS record and one write, instead of one each (a microtask per read).
   */
  protected inData = false;
  private flushScheduled = false;
  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    protected readonly handler: H2Handler,
    options: Partial<H2Options>,
  ) {
    this.options = { ...DEFAULT_H2_OPTIONS, ...options };
    this.encoder = new HpackEncoder(this.options.huffman);
  }

  /** The reader stops for good (the connection ended). */
  protected abstract stopReading(): void;

  get activeStreams(): number {
    return this.streams.size;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The transport is gone: every stream closes with CANCEL, nothing more is written. */
  destroy(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopReading();
    this.closeAll(E_CANCEL);
    this.out.release();
  }

  /** The transport drained after write() returned false. */
  onSinkDrain(): void {
    if (this.ended) return;
    this.sinkBlocked = false;
    this.controlWhileBlocked = 0;
    this.drained = true;
    this.pump();
    this.flush();
  }

  flush(): void {
    const o = this.out;
    if (o.len === 0) return;
    const ok = this.handler.write(o.buf!, 0, o.len);
    o.release();
    if (!ok) this.sinkBlocked = true;
  }

  protected scheduleFlush(): void {
    if (this.out.len >= FLUSH_AT) this.flush();
    else if (!this.inData && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushTask);
    }
  }

  // ---- sending ----

  /**
   * Send the response head: `:status` then `fields` (those not dropped; connection-specific
   * ones never go out, §8.2.2). A 1xx status may precede the final one.
   */
  respondHead(stream: H2Stream, status: number, fields: HeaderFields | null, endStream: boolean): void {
    if (this.ended || stream.state === ST_CLOSED || stream.headSent) return;
    if (status >= 200) stream.headSent = true;
    const o = this.out;
    const block = o.beginHeaders();
    this.encoder.begin(o);
    this.encoder.status(o, status);
    if (fields) this.encodeFields(fields);
    o.endHeaders(block, stream.id, endStream, this.peerMaxFrameSize);
    if (endStream) this.localEnded(stream);
    this.scheduleFlush();
  }

  protected encodeFields(f: HeaderFields): void {
    const h = f.hdr;
    const drop = f.drop;
    for (let i = 0; i < f.count; i++) {
      if (drop && drop[i]) continue;
      const o = i * HDR_STRIDE;
      const ns = h[o];
      const ne = h[o + 1];
      const k = classifyName(f.buf, ns, ne);
      if (isConnectionSpecific(k) || k === H_TE || k === H_HOST) continue;
      this.encoder.field(this.out, f.buf, ns, ne, f.buf, h[o + 2], h[o + 3], M_AUTO);
    }
  }

  /**
   * Response body bytes buf[start..end), after respondHead() (copied as needed: the buffer
   * may be reused after the call). Returns false when the stream or the transport cannot
   * take more now: wait for onStreamWritable().
   */
  writeData(stream: H2Stream, buf: Buffer, start: number, end: number, endStream: boolean): boolean {
    if (this.ended || stream.state === ST_CLOSED || stream.endQueued) return true;
    if (!stream.sending) {
      const n = Math.min(end - start, Math.max(0, Math.min(stream.sendWindow, this.connSendWindow)));
      if (n > 0 || (end === start && endStream)) {
        this.sendData(stream, buf, start, start + n, endStream && start + n === end);
        start += n;
      }
    }
    if (start < end) {
      stream.queue.push(Buffer.from(buf.subarray(start, end)));
      stream.queuedBytes += end - start;
      stream.endQueued = endStream;
      this.queueStream(stream);
    } else if (endStream) {
      if (stream.sending) stream.endQueued = true;
      else this.localEnded(stream);
    }
    this.scheduleFlush();
    if (stream.sending || this.sinkBlocked) {
      stream.wantWritable = true;
      return false;
    }
    return true;
  }

  /** DATA frames (at most the peer's frame size each) for buf[start..end), windows already checked. */
  private sendData(stream: H2Stream, buf: Buffer, start: number, end: number, endStream: boolean): void {
    const max = this.peerMaxFrameSize;
    stream.sendWindow -= end - start;
    this.connSendWindow -= end - start;
    do {
      const e = Math.min(end, start + max);
      this.out.data(stream.id, buf, start, e, endStream && e === end);
      start = e;
    } while (start < end);
  }

  /** Response trailers (END_STREAM), after the queued body if any. */
  writeTrailers(stream: H2Stream, fields: HeaderFields): void {
    if (this.ended || stream.state === ST_CLOSED || stream.endQueued) return;
    if (stream.sending) {
      stream.trailersQueued = new HeaderList().copyFrom(fields);
      stream.endQueued = true;
      return;
    }
    this.sendTrailers(stream, fields);
    this.scheduleFlush();
  }

  private sendTrailers(stream: H2Stream, fields: HeaderFields): void {
    const o = this.out;
    const block = o.beginHeaders();
    this.encoder.begin(o);
    this.encodeFields(fields);
    o.endHeaders(block, stream.id, true, this.peerMaxFrameSize);
    this.localEnded(stream);
  }

  private queueStream(stream: H2Stream): void {
    if (stream.sending) return;
    stream.sending = true;
    this.sending.push(stream);
  }

  /** Send queued output as the windows allow, one frame per stream per turn. */
  protected pump(): void {
    while (!this.sinkBlocked && this.sending.length > 0) {
      let progress = false;
      const list = this.sending;
      let kept = 0;
      for (let k = 0; k < list.length; k++) {
        const s = list[k];
        if (!s.sending) continue;
        if (s.state === ST_CLOSED) {
          // Closed with output still queued: closeStream() left it here; now it can go back to the pool.
          s.sending = false;
          releaseStream(s);
          continue;
        }
        if (this.sendQueued(s)) progress = true;
        if (s.sending) list[kept++] = s;
      }
      list.length = kept;
      if (!progress) break;
      if (this.out.len >= FLUSH_AT) this.flush();
    }
    if (this.drained && !this.sinkBlocked) this.notifyWritable();
  }

  /** onStreamWritable() for the streams that were told to wait and have nothing queued now. */
  private notifyWritable(): void {
    this.drained = false;
    for (const s of this.streams.values()) {
      if (s.wantWritable && !s.sending) {
        s.wantWritable = false;
        this.handler.onStreamWritable(s);
      }
    }
  }

  /** One frame of a stream's queue, or its end; true when something was sent. */
  private sendQueued(s: H2Stream): boolean {
    if (s.queuedBytes > 0) {
      const n = Math.min(s.queuedBytes, s.sendWindow, this.connSendWindow, this.peerMaxFrameSize);
      if (n <= 0) return false;
      s.stalledAt = 0;
      const last = n === s.queuedBytes && s.endQueued && !s.trailersQueued;
      const o = this.out;
      const b = o.reserve(FRAME_HEADER_SIZE + n);
      FrameWriter.header(b, o.len, n, T_DATA, last ? F_END_STREAM : 0, s.id);
      let w = o.len + FRAME_HEADER_SIZE;
      let left = n;
      while (left > 0) {
        const q = s.queue[0];
        const take = Math.min(left, q.length - s.queueOffset);
        q.copy(b, w, s.queueOffset, s.queueOffset + take);
        w += take;
        left -= take;
        s.queueOffset += take;
        if (s.queueOffset === q.length) {
          s.queue.shift();
          s.queueOffset = 0;
        }
      }
      o.len = w;
      s.queuedBytes -= n;
      s.sendWindow -= n;
      this.connSendWindow -= n;
      if (s.queuedBytes > 0) return true;
      if (s.wantWritable) this.drained = true;
      if (last) {
        s.sending = false;
        this.localEnded(s);
        return true;
      }
    }
    if (s.trailersQueued) {
      const t = s.trailersQueued;
      s.trailersQueued = null;
      s.sending = false;
      this.sendTrailers(s, t);
      return true;
    }
    s.sending = false;
    if (s.wantWritable) this.drained = true;
    if (s.endQueued) this.localEnded(s);
    return true;
  }

  /**
   * Hold the request body (the consumer is backed up): no WINDOW_UPDATE for this stream
   * until resumeRequestBody(). Bytes the client was already granted still arrive, at most
   * one window (SETTINGS_INITIAL_WINDOW_SIZE) of them.
   */
  pauseRequestBody(stream: H2Stream): void {
    stream.paused = true;
  }

  resumeRequestBody(stream: H2Stream): void {
    if (!stream.paused) return;
    stream.paused = false;
    if (this.ended || stream.remoteClosed || stream.recvUnacked === 0) return;
    this.creditStream(stream);
    this.scheduleFlush();
  }

  protected creditStream(stream: H2Stream): void {
    this.out.windowUpdate(stream.id, stream.recvUnacked);
    stream.recvWindow += stream.recvUnacked;
    stream.recvUnacked = 0;
  }

  /** Reset a stream (RST_STREAM with `code`); onStreamClose() follows at once. */
  reset(stream: H2Stream, code = E_CANCEL): void {
    if (this.ended || stream.state === ST_CLOSED) return;
    this.out.rstStream(stream.id, code);
    this.closeStream(stream, code);
    this.scheduleFlush();
  }

  /**
   * GOAWAY. With NO_ERROR it is graceful: streams the client opened so far finish, newer
   * ones are ignored (the client retries them elsewhere), and onConnectionEnd() comes
   * when the last one closes. Any other code ends the connection now.
   */
  goaway(code = E_NO_ERROR, debug = ''): void {
    if (this.ended) return;
    if (code !== E_NO_ERROR) return this.connectionError(code, debug);
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.out.goaway(this.lastStreamId, E_NO_ERROR, debug);
    }
    if (this.streams.size === 0) this.end(E_NO_ERROR);
    else this.scheduleFlush();
  }

  /**
   * The zero-window stall timeout, for the session's periodic timer: a stream that has had
   * output waiting for window since `timeoutMs` is reset (CANCEL); when the connection
   * window is the one at zero, the connection ends (ENHANCE_YOUR_CALM).
   */
  checkStalls(now: number, timeoutMs: number): void {
    if (this.ended) return;
    for (const s of this.sending) {
      if (s.state === ST_CLOSED || !s.sending || s.queuedBytes === 0) continue;
      if (s.sendWindow > 0 && this.connSendWindow > 0) {
        s.stalledAt = 0;
        continue;
      }
      if (s.stalledAt === 0) s.stalledAt = now;
      else if (now - s.stalledAt >= timeoutMs) {
        if (this.connSendWindow <= 0) return this.connectionError(E_ENHANCE_YOUR_CALM, 'flow-control window stalled');
        this.reset(s, E_CANCEL);
      }
    }
  }

  // ---- state changes ----

  /**
   * END_STREAM went out: the exchange is complete, the stream closes. A request still
   * sending its body is told to stop with RST_STREAM(NO_ERROR) (§8.1), so a stream is
   * never left half-closed (local).
   */
  protected localEnded(stream: H2Stream): void {
    if (stream.state !== ST_HALF_CLOSED_REMOTE) this.out.rstStream(stream.id, E_NO_ERROR);
    this.closeStream(stream, E_NO_ERROR);
  }

  protected closeStream(stream: H2Stream, code: number): void {
    stream.state = ST_CLOSED;
    this.streams.delete(stream.id);
    if (this.dataStream === stream) this.dataStream = null;
    this.handler.onStreamClose(stream, code);
    // Still in `sending` if it had output queued: pump() releases it when it drops it from the list.
    if (!stream.sending) releaseStream(stream);
    else stream.clear();
    if ((this.goawaySent || this.peerGoaway) && this.streams.size === 0) this.end(E_NO_ERROR);
  }

  protected closeAll(code: number): void {
    for (const s of [...this.streams.values()]) {
      s.resetByPeer = code === E_CANCEL;
      s.state = ST_CLOSED;
      this.streams.delete(s.id);
      this.handler.onStreamClose(s, code);
    }
    this.sending.length = 0;
    this.dataStream = null;
  }

  protected end(code: number): void {
    if (this.ended) return;
    this.ended = true;
    this.stopReading();
    this.flush();
    this.out.release();
    this.handler.onConnectionEnd(code);
  }

  /** A connection error (§5.4.1): GOAWAY, every stream closed, the end. */
  protected connectionError(code: number, reason: string): void {
    if (this.ended) return;
    this.stopReading();
    this.out.goaway(this.lastStreamId, code, reason);
    this.closeAll(code);
    this.end(code);
  }

  /** A stream error the client caused (§5.4.2): RST_STREAM, and it counts as a glitch. */
  protected streamError(stream: H2Stream, code: number): void {
    this.out.rstStream(stream.id, code);
    if (stream.state !== ST_CLOSED) this.closeStream(stream, code);
    this.glitch();
  }

  /** Count one glitch; past the limit in the window the connection ends (false then). */
  protected glitch(): boolean {
    const now = Date.now();
    if (now - this.glitchWindowStart > this.options.glitchWindowMs) {
      this.glitchWindowStart = now;
      this.glitches = 0;
    }
    if (++this.glitches > this.options.maxGlitches) {
      this.connectionError(E_ENHANCE_YOUR_CALM, 'too many stream resets or errors');
      return false;
    }
    return true;
  }

  /** A SETTINGS or PING acknowledgement was queued. */
  protected controlFrame(): void {
    if (this.sinkBlocked && ++this.controlWhileBlocked > this.options.maxQueuedControlFrames) {
      this.connectionError(E_ENHANCE_YOUR_CALM, 'control frames queued while the peer does not read');
    }
  }
}
