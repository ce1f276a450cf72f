/**
 * HTTP/2 frames (RFC 9113 §4, §6): constants, a strict incremental reader over a
 * byte stream, and a writer that appends frames to one output buffer.
 *
 * The reader works on the bytes it is given (often the worker's shared read buffer,
 * valid only during the call): a frame whose payload is complete in the chunk is
 * handed over as a view, without copying; only a frame split across reads is copied
 * (its header into 9 bytes, its payload into a buffer owned by the reader). DATA
 * payloads are never gathered: their bytes are handed over piece by piece as they
 * arrive, so a 16 KiB frame split over reads costs no copy either.
 */

export const FRAME_HEADER_SIZE = 9;

export const T_DATA = 0x0;
export const T_HEADERS = 0x1;
export const T_PRIORITY = 0x2;
export const T_RST_STREAM = 0x3;
export const T_SETTINGS = 0x4;
export const T_PUSH_PROMISE = 0x5;
export const T_PING = 0x6;
export const T_GOAWAY = 0x7;
export const T_WINDOW_UPDATE = 0x8;
export const T_CONTINUATION = 0x9;

export const F_END_STREAM = 0x1;
export const F_ACK = 0x1;
export const F_END_HEADERS = 0x4;
export const F_PADDED = 0x8;
export const F_PRIORITY = 0x20;

export const E_NO_ERROR = 0x0;
export const E_PROTOCOL_ERROR = 0x1;
export const E_INTERNAL_ERROR = 0x2;
export const E_FLOW_CONTROL_ERROR = 0x3;
export const E_SETTINGS_TIMEOUT = 0x4;
export const E_STREAM_CLOSED = 0x5;
export const E_FRAME_SIZE_ERROR = 0x6;
export const E_REFUSED_STREAM = 0x7;
export const E_CANCEL = 0x8;
export const E_COMPRESSION_ERROR = 0x9;
export const E_CONNECT_ERROR = 0xa;
export const E_ENHANCE_YOUR_CALM = 0xb;
export const E_INADEQUATE_SECURITY = 0xc;
export const E_HTTP_1_1_REQUIRED = 0xd;

export const S_HEADER_TABLE_SIZE = 0x1;
export const S_ENABLE_PUSH = 0x2;
export const S_MAX_CONCURRENT_STREAMS = 0x3;
export const S_INITIAL_WINDOW_SIZE = 0x4;
export const S_MAX_FRAME_SIZE = 0x5;
export const S_MAX_HEADER_LIST_SIZE = 0x6;

export const DEFAULT_WINDOW_SIZE = 65535;
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_MAX_FRAME_SIZE = 16777215;
export const MAX_WINDOW_SIZE = 0x7fffffff;

/** The client connection preface (RFC 9113 §3.4), before the client's SETTINGS. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Receives what a FrameReader parsed. Returning false stops the reader for good. */
export interface FrameListener {
  /** A complete non-DATA frame; the payload is buf[start..end), valid only during the call. */
  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): boolean;
  /** A DATA frame starts; `length` is its whole payload, padding included (what flow control counts). */
  onDataFrame(streamId: number, flags: number, length: number): boolean;
  /**
   * Data bytes of the current DATA frame, buf[start..end) valid only during the call;
   * `last` on its final piece, which may be empty (a frame with no data, or only padding left).
   */
  onDataChunk(streamId: number, buf: Buffer, start: number, end: number, last: boolean): boolean;
  /** A framing error: the connection must end with GOAWAY(code). Nothing more is read. */
  onReadError(code: number, reason: string): void;
}

const R_PREFACE = 0;
const R_HEADER = 1;
const R_PAYLOAD = 2;
const R_DATA_PAD_LENGTH = 3;
const R_DATA = 4;
const R_DATA_PADDING = 5;
const R_DEAD = 6;

/**
 * The reader of a connection's incoming bytes. `maxFrameSize` is the largest payload
 * accepted (our SETTINGS_MAX_FRAME_SIZE); anything larger is a FRAME_SIZE_ERROR.
 */
export class FrameReader {
  private state: number;
  /** Bytes of the preface seen so far. */
  private prefaceSeen = 0;
  /** A frame header split across reads. */
  private readonly head = Buffer.alloc(FRAME_HEADER_SIZE);
  private headLen = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private length = 0;
  /** A non-DATA payload split across reads: allocated when first needed, kept for the next one. */
  private payload: Buffer | null = null;
  private payloadLen = 0;
  /** DATA: data bytes and padding bytes still to come in the current frame. */
  private dataLeft = 0;
  private padLeft = 0;

  constructor(
    private readonly listener: FrameListener,
    public maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
    expectPreface = true,
  ) {
    this.state = expectPreface ? R_PREFACE : R_HEADER;
  }

  get dead(): boolean {
    return this.state === R_DEAD;
  }

  /** Stop reading: whatever comes next is ignored. */
  stop(): void {
    this.state = R_DEAD;
  }

  /** Whether the reader sits between frames (nothing partial held). */
  get idle(): boolean {
    return this.state === R_HEADER && this.headLen === 0;
  }

  private fail(code: number, reason: string): void {
    this.state = R_DEAD;
    this.listener.onReadError(code, reason);
  }

  /** Parse buf[start..end). */
  push(buf: Buffer, start: number, end: number): void {
    let i = start;
    const l = this.listener;
    while (i < end) {
      switch (this.state) {
        case R_HEADER: {
          let hb: Buffer;
          let ho: number;
          if (this.headLen === 0 && end - i >= FRAME_HEADER_SIZE) {
            hb = buf;
            ho = i;
            i += FRAME_HEADER_SIZE;
          } else {
            const n = Math.min(FRAME_HEADER_SIZE - this.headLen, end - i);
            buf.copy(this.head, this.headLen, i, i + n);
            this.headLen += n;
            i += n;
            if (this.headLen < FRAME_HEADER_SIZE) return;
            this.headLen = 0;
            hb = this.head;
            ho = 0;
          }
          const length = (hb[ho] << 16) | (hb[ho + 1] << 8) | hb[ho + 2];
          const type = hb[ho + 3];
          const flags = hb[ho + 4];
          // The reserved bit is ignored on receipt (§4.1).
          const streamId = ((hb[ho + 5] & 0x7f) << 24) | (hb[ho + 6] << 16) | (hb[ho + 7] << 8) | hb[ho + 8];
          if (length > this.maxFrameSize) return this.fail(E_FRAME_SIZE_ERROR, 'frame larger than SETTINGS_MAX_FRAME_SIZE');
          this.type = type;
          this.flags = flags;
          this.streamId = streamId;
          this.length = length;
          if (type === T_DATA) {
            if (!l.onDataFrame(streamId, flags, length)) return this.stop();
            if (flags & F_PADDED) {
              if (length === 0) return this.fail(E_PROTOCOL_ERROR, 'padded DATA frame without pad length');
              this.state = R_DATA_PAD_LENGTH;
            } else {
              this.dataLeft = length;
              this.padLeft = 0;
              this.state = R_DATA;
              if (length === 0 && !this.dataPiece(buf, i, i)) return;
            }
            continue;
          }
          if (end - i >= length) {
            const payloadStart = i;
            i += length;
            if (!l.onFrame(type, flags, streamId, buf, payloadStart, i)) return this.stop();
            continue;
          }
          this.payloadLen = 0;
          if (!this.payload || this.payload.length < length) this.payload = Buffer.allocUnsafe(Math.max(length, 1024));
          this.state = R_PAYLOAD;
          continue;
        }
        case R_PAYLOAD: {
          const n = Math.min(this.length - this.payloadLen, end - i);
          buf.copy(this.payload!, this.payloadLen, i, i + n);
          this.payloadLen += n;
          i += n;
          if (this.payloadLen < this.length) return;
          this.state = R_HEADER;
          if (!l.onFrame(this.type, this.flags, this.streamId, this.payload!, 0, this.length)) return this.stop();
          continue;
        }
        case R_DATA_PAD_LENGTH: {
          const pad = buf[i++];
          if (pad >= this.length) return this.fail(E_PROTOCOL_ERROR, 'DATA padding longer than the frame');
          this.padLeft = pad;
          this.dataLeft = this.length - 1 - pad;
          this.state = R_DATA;
          if (this.dataLeft === 0 && !this.dataPiece(buf, i, i)) return;
          continue;
        }
        case R_DATA: {
          const n = Math.min(this.dataLeft, end - i);
          const s = i;
          i += n;
          if (!this.dataPiece(buf, s, i)) return;
          continue;
        }
        case R_DATA_PADDING: {
          // Padding is skipped, not checked for zeros (RFC 9113 §6.1 makes that optional).
          const n = Math.min(this.padLeft, end - i);
          this.padLeft -= n;
          i += n;
          if (this.padLeft === 0) this.state = R_HEADER;
          continue;
        }
        case R_PREFACE: {
          while (i < end && this.prefaceSeen < PREFACE.length) {
            if (buf[i] !== PREFACE[this.prefaceSeen]) return this.fail(E_PROTOCOL_ERROR, 'invalid connection preface');
            i++;
            this.prefaceSeen++;
          }
          if (this.prefaceSeen === PREFACE.length) this.state = R_HEADER;
          continue;
        }
        default:
          return;
      }
    }
  }

  /** Hand over buf[s..e) of the current DATA frame; false when the listener stopped the reader. */
  private dataPiece(buf: Buffer, s: number, e: number): boolean {
    this.dataLeft -= e - s;
    const last = this.dataLeft === 0;
    if (last) this.state = this.padLeft > 0 ? R_DATA_PADDING : R_HEADER;
    if ((s < e || last) && !this.listener.onDataChunk(this.streamId, buf, s, e, last)) {
      this.stop();
      return false;
    }
    return true;
  }
}

const OUT_INITIAL = 16 * 1024;
/** What a connection needs when it writes bodies (connection-core flushes at 64 KiB). */
const OUT_LARGE = 256 * 1024;
/** Output buffers given back after a flush, for the next connection that writes. */
const smallPool: Buffer[] = [];
const largePool: Buffer[] = [];
const SMALL_POOL_MAX = 64;
const LARGE_POOL_MAX = 8;

/**
 * Frames appended to one buffer and handed to the sink in one write. The buffer is taken
 * from a pool when the first frame is written and given back by `release()` (after the
 * flush): an idle connection holds none.
 */
export class FrameWriter {
  buf: Buffer | null = null;
  len = 0;

  /** Room for n more bytes; returns the buffer (it may have been replaced). */
  reserve(n: number): Buffer {
    const b = this.buf;
    const need = this.len + n;
    if (b && need <= b.length) return b;
    let next: Buffer;
    if (need <= OUT_INITIAL) next = smallPool.pop() ?? Buffer.allocUnsafe(OUT_INITIAL);
    else if (need <= OUT_LARGE) next = largePool.pop() ?? Buffer.allocUnsafe(OUT_LARGE);
    else next = Buffer.allocUnsafe(need * 2);
    if (b) {
      b.copy(next, 0, 0, this.len);
      FrameWriter.giveBack(b);
    }
    return (this.buf = next);
  }

  /** Forget the written bytes (they were flushed) and give the buffer back. */
  release(): void {
    const b = this.buf;
    this.len = 0;
    if (!b) return;
    this.buf = null;
    FrameWriter.giveBack(b);
  }

  private static giveBack(b: Buffer): void {
    if (b.length === OUT_INITIAL) {
      if (smallPool.length < SMALL_POOL_MAX) smallPool.push(b);
    } else if (b.length === OUT_LARGE && largePool.length < LARGE_POOL_MAX) {
      largePool.push(b);
    }
  }

  /** A frame header at `off` of `b`. */
  static header(b: Buffer, off: number, length: number, type: number, flags: number, streamId: number): void {
    b[off] = length >>> 16;
    b[off + 1] = (length >>> 8) & 0xff;
    b[off + 2] = length & 0xff;
    b[off + 3] = type;
    b[off + 4] = flags;
    b.writeUInt32BE(streamId & MAX_WINDOW_SIZE, off + 5);
  }

  /** Any frame with a payload given as bytes (tests write raw frames with it). */
  frame(type: number, flags: number, streamId: number, payload: Buffer, start = 0, end = payload.length): void {
    const n = end - start;
    const b = this.reserve(FRAME_HEADER_SIZE + n);
    FrameWriter.header(b, this.len, n, type, flags, streamId);
    payload.copy(b, this.len + FRAME_HEADER_SIZE, start, end);
    this.len += FRAME_HEADER_SIZE + n;
  }

  /** SETTINGS with [id, value, id, value, …]. */
  settings(pairs: readonly number[]): void {
    const n = (pairs.length / 2) * 6;
    const b = this.reserve(FRAME_HEADER_SIZE + n);
    FrameWriter.header(b, this.len, n, T_SETTINGS, 0, 0);
    let o = this.len + FRAME_HEADER_SIZE;
    for (let k = 0; k < pairs.length; k += 2) {
      b.writeUInt16BE(pairs[k], o);
      b.writeUInt32BE(pairs[k + 1], o + 2);
      o += 6;
    }
    this.len = o;
  }

  settingsAck(): void {
    const b = this.reserve(FRAME_HEADER_SIZE);
    FrameWriter.header(b, this.len, 0, T_SETTINGS, F_ACK, 0);
    this.len += FRAME_HEADER_SIZE;
  }

  /** PING (or its ACK) with the 8 bytes at src[off..off+8). */
  ping(ack: boolean, src: Buffer, off: number): void {
    const b = this.reserve(FRAME_HEADER_SIZE + 8);
    FrameWriter.header(b, this.len, 8, T_PING, ack ? F_ACK : 0, 0);
    src.copy(b, this.len + FRAME_HEADER_SIZE, off, off + 8);
    this.len += FRAME_HEADER_SIZE + 8;
  }

  goaway(lastStreamId: number, code: number, debug = ''): void {
    const n = 8 + Buffer.byteLength(debug);
    const b = this.reserve(FRAME_HEADER_SIZE + n);
    FrameWriter.header(b, this.len, n, T_GOAWAY, 0, 0);
    b.writeUInt32BE(lastStreamId & MAX_WINDOW_SIZE, this.len + 9);
    b.writeUInt32BE(code >>> 0, this.len + 13);
    if (debug) b.write(debug, this.len + 17, 'latin1');
    this.len += FRAME_HEADER_SIZE + n;
  }

  rstStream(streamId: number, code: number): void {
    const b = this.reserve(FRAME_HEADER_SIZE + 4);
    FrameWriter.header(b, this.len, 4, T_RST_STREAM, 0, streamId);
    b.writeUInt32BE(code >>> 0, this.len + 9);
    this.len += FRAME_HEADER_SIZE + 4;
  }

  windowUpdate(streamId: number, increment: number): void {
    const b = this.reserve(FRAME_HEADER_SIZE + 4);
    FrameWriter.header(b, this.len, 4, T_WINDOW_UPDATE, 0, streamId);
    b.writeUInt32BE(increment & MAX_WINDOW_SIZE, this.len + 9);
    this.len += FRAME_HEADER_SIZE + 4;
  }

  /** PRIORITY: weight 1..256. Received ones are ignored; tests send them. */
  priority(streamId: number, dependsOn: number, exclusive: boolean, weight: number): void {
    const b = this.reserve(FRAME_HEADER_SIZE + 5);
    FrameWriter.header(b, this.len, 5, T_PRIORITY, 0, streamId);
    b.writeUInt32BE(((exclusive ? 0x80000000 : 0) | dependsOn) >>> 0, this.len + 9);
    b[this.len + 13] = weight - 1;
    this.len += FRAME_HEADER_SIZE + 5;
  }

  /** DATA carrying src[start..end), optionally padded with `padLength` zero bytes. */
  data(streamId: number, src: Buffer, start: number, end: number, endStream: boolean, padLength = 0): void {
    const n = end - start;
    const padded = padLength > 0;
    const length = n + (padded ? 1 + padLength : 0);
    const b = this.reserve(FRAME_HEADER_SIZE + length);
    FrameWriter.header(b, this.len, length, T_DATA, (endStream ? F_END_STREAM : 0) | (padded ? F_PADDED : 0), streamId);
    let o = this.len + FRAME_HEADER_SIZE;
    if (padded) b[o++] = padLength;
    src.copy(b, o, start, end);
    o += n;
    if (padded) {
      b.fill(0, o, o + padLength);
      o += padLength;
    }
    this.len = o;
  }

  /**
   * HEADERS (then CONTINUATIONs when the block is longer than `maxFrameSize`) carrying the
   * block already written at buf[blockStart..len): the caller reserved FRAME_HEADER_SIZE
   * bytes before it (`beginHeaders()`), encoded the block in place, and calls this.
   */
  endHeaders(blockStart: number, streamId: number, endStream: boolean, maxFrameSize: number, type = T_HEADERS): void {
    const b = this.buf!;
    const blockLen = this.len - blockStart;
    const flags = endStream ? F_END_STREAM : 0;
    if (blockLen <= maxFrameSize) {
      FrameWriter.header(b, blockStart - FRAME_HEADER_SIZE, blockLen, type, flags | F_END_HEADERS, streamId);
      return;
    }
    // Rare: split the block, moving each later fragment to make room for a CONTINUATION header.
    const extra = Math.ceil(blockLen / maxFrameSize) - 1;
    const grown = this.reserve(extra * FRAME_HEADER_SIZE);
    grown.copyWithin(blockStart + FRAME_HEADER_SIZE * extra, blockStart, this.len);
    let src = blockStart + FRAME_HEADER_SIZE * extra;
    let dst = blockStart - FRAME_HEADER_SIZE;
    let left = blockLen;
    let first = true;
    while (left > 0) {
      const n = Math.min(left, maxFrameSize);
      left -= n;
      const t = first ? type : T_CONTINUATION;
      FrameWriter.header(grown, dst, n, t, (first ? flags : 0) | (left === 0 ? F_END_HEADERS : 0), streamId);
      grown.copyWithin(dst + FRAME_HEADER_SIZE, src, src + n);
      dst += FRAME_HEADER_SIZE + n;
      src += n;
      first = false;
    }
    this.len = dst;
  }

  /** Reserve a frame header's room before a header block; returns where the block starts. */
  beginHeaders(): number {
    this.reserve(FRAME_HEADER_SIZE + 256);
    this.len += FRAME_HEADER_SIZE;
    return this.len;
  }
}
