/**
 * The server side of one HTTP/2 connection (RFC 9113) over any byte transport: the
 * session feeds it what the socket read (`onData`) and gets back, through one handler
 * object, the output to write and the requests' heads, bodies, trailers and ends. No
 * closure is made per stream and nothing is turned into strings: request heads are bytes
 * with offsets (./head.ts), as HTTP/1 heads are.
 *
 * Output is collected into one buffer and written once per batch: at the end of
 * `onData()`, or at the end of the event-loop turn for calls made outside it (every
 * response head and body the turn's upstream reads produced leave in one write).
 *
 * Defences: the header list is capped after decompression (HPACK bombs), the header block
 * is capped across CONTINUATION frames before it is decoded (CVE-2024-27316), streams past
 * SETTINGS_MAX_CONCURRENT_STREAMS are refused, client resets of unfinished streams and
 * other stream errors the client causes ("glitches", CVE-2023-44487 rapid reset) are
 * counted over a time window and end the connection with ENHANCE_YOUR_CALM past a limit,
 * control frames answered while the output is backed up are capped (SETTINGS/PING
 * floods), and `checkStalls()` resets streams (or ends the connection) that could not
 * send for lack of flow-control window for too long.
 */
import {
  DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, E_COMPRESSION_ERROR, E_ENHANCE_YOUR_CALM, E_FLOW_CONTROL_ERROR,
  E_FRAME_SIZE_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR, E_REFUSED_STREAM, E_STREAM_CLOSED, F_ACK, F_END_HEADERS, F_END_STREAM,
  F_PADDED, F_PRIORITY, FrameReader, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE, S_ENABLE_PUSH, S_HEADER_TABLE_SIZE,
  S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE, T_CONTINUATION, T_GOAWAY,
  T_HEADERS, T_PING, T_PRIORITY, T_PUSH_PROMISE, T_RST_STREAM, T_SETTINGS, T_WINDOW_UPDATE, type FrameListener,
} from './frames';
import { DECODE_ERROR, DECODED_TOO_LARGE, HpackDecoder, TABLE_CAPACITY } from './hpack';
import { H2Head } from './head';
import { releaseStream, ST_CLOSED, ST_HALF_CLOSED_REMOTE, takeStream, type H2Stream } from './stream';
import { H2ConnectionCore, type H2Handler, type H2Options } from './connection-core';

export class H2Connection extends H2ConnectionCore implements FrameListener {
  private readonly reader: FrameReader;
  private readonly decoder = new HpackDecoder(this.options.headerTableSize);
  private gotSettings = false;
  private connRecvWindow = DEFAULT_WINDOW_SIZE;
  private connRecvUnacked = 0;
  /** The DATA frame being read. */
  private dataFlags = 0;
  private dataLength = 0;
  /** A header block continued over CONTINUATION frames. */
  private blockStream = 0;
  private blockFlags = 0;
  private blockSelfDependent = false;
  private blockBuf: Buffer | null = null;
  private blockLen = 0;
  private blockFrames = 0;
  /** Decodes blocks that are not kept (refused or ignored streams) to keep HPACK in sync. */
  private scratch: H2Head | null = null;

  constructor(handler: H2Handler, options: Partial<H2Options> = {}) {
    super(handler, options);
    this.reader = new FrameReader(this, DEFAULT_MAX_FRAME_SIZE);
  }

  /** Send the server preface (SETTINGS, and the connection window). */
  start(): void {
    const o = this.options;
    const settings = [S_MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams, S_MAX_HEADER_LIST_SIZE, o.maxHeaderListSize];
    if (o.initialWindowSize !== DEFAULT_WINDOW_SIZE) settings.push(S_INITIAL_WINDOW_SIZE, o.initialWindowSize);
    if (o.headerTableSize !== TABLE_CAPACITY) settings.push(S_HEADER_TABLE_SIZE, o.headerTableSize);
    this.out.settings(settings);
    if (o.connectionWindowSize > DEFAULT_WINDOW_SIZE) {
      this.out.windowUpdate(0, o.connectionWindowSize - DEFAULT_WINDOW_SIZE);
      this.connRecvWindow = o.connectionWindowSize;
    }
    this.flush();
  }

  /** Bytes read from the transport, buf[start..end) (may be the shared read buffer). */
  onData(buf: Buffer, start: number, end: number): void {
    if (this.ended) return;
    this.inData = true;
    this.reader.push(buf, start, end);
    this.inData = false;
    this.flush();
  }

  protected stopReading(): void {
    this.reader.stop();
  }

  // ---- reading (FrameListener) ----

  onReadError(code: number, reason: string): void {
    this.connectionError(code, reason);
  }

  onDataFrame(streamId: number, flags: number, length: number): boolean {
    if (!this.gotSettings || this.blockStream !== 0) return this.protocolError('unexpected DATA frame');
    if (streamId === 0) return this.protocolError('DATA on stream 0');
    // The connection window is given back at once: the stream windows bound what is held.
    this.connRecvWindow -= length;
    if (this.connRecvWindow < 0) return this.fail(E_FLOW_CONTROL_ERROR, 'connection flow-control window exceeded');
    this.connRecvUnacked += length;
    if (this.connRecvUnacked >= this.options.connectionWindowSize >> 1) {
      this.out.windowUpdate(0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
    }
    this.dataStream = null;
    const s = this.streams.get(streamId);
    if (!s) {
      if (streamId > this.lastStreamId) return this.protocolError('DATA on an idle stream');
      return true; // a stream we closed: ignored (§5.1)
    }
    if (s.remoteClosed) {
      this.streamError(s, E_STREAM_CLOSED);
      return !this.ended;
    }
    s.recvWindow -= length;
    if (s.recvWindow < 0) {
      this.streamError(s, E_FLOW_CONTROL_ERROR);
      return !this.ended;
    }
    // Empty DATA frames that do not end the stream only cost us work (CVE-2019-9518).
    if (length === 0 && !(flags & F_END_STREAM) && !this.glitch()) return false;
    this.dataStream = s;
    this.dataFlags = flags;
    this.dataLength = length;
    return true;
  }

  onDataChunk(_streamId: number, buf: Buffer, start: number, end: number, last: boolean): boolean {
    const s = this.dataStream;
    if (!s) return !this.ended;
    s.recvBytes += end - start;
    const endStream = last && (this.dataFlags & F_END_STREAM) !== 0;
    const cl = s.head.contentLength;
    if (cl >= 0 && (s.recvBytes > cl || (endStream && s.recvBytes !== cl))) {
      this.streamError(s, E_PROTOCOL_ERROR);
      return !this.ended;
    }
    if (last) {
      this.dataStream = null;
      s.recvUnacked += this.dataLength;
    }
    // The state changes before the handler hears of it: a response it completes in the call closes the stream.
    if (endStream) s.state = ST_HALF_CLOSED_REMOTE;
    if (end > start || endStream) this.handler.onRequestData(s, buf, start, end, endStream);
    if (this.ended || s.state === ST_CLOSED) return !this.ended;
    if (last && !endStream && !s.paused && s.recvUnacked >= this.options.initialWindowSize >> 1) this.creditStream(s);
    return true;
  }

  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): boolean {
    if (this.blockStream !== 0 && type !== T_CONTINUATION) return this.protocolError('expected CONTINUATION');
    if (!this.gotSettings && (type !== T_SETTINGS || flags & F_ACK)) return this.protocolError('first frame is not SETTINGS');
    switch (type) {
      case T_HEADERS:
        this.onHeaders(flags, streamId, buf, start, end);
        break;
      case T_CONTINUATION:
        this.onContinuation(flags, streamId, buf, start, end);
        break;
      case T_SETTINGS:
        this.onSettings(flags, streamId, buf, start, end);
        break;
      case T_PING:
        if (streamId !== 0) return this.protocolError('PING on a stream');
        if (end - start !== 8) return this.fail(E_FRAME_SIZE_ERROR, 'PING length');
        if (!(flags & F_ACK)) {
          this.out.ping(true, buf, start);
          this.controlFrame();
        }
        break;
      case T_WINDOW_UPDATE:
        this.onWindowUpdate(streamId, buf, start, end);
        break;
      case T_RST_STREAM:
        this.onRstStream(streamId, buf, start, end);
        break;
      case T_GOAWAY:
        if (streamId !== 0) return this.protocolError('GOAWAY on a stream');
        if (end - start < 8) return this.fail(E_FRAME_SIZE_ERROR, 'GOAWAY length');
        this.peerGoaway = true;
        this.handler.onGoaway(buf.readUInt32BE(start) & MAX_WINDOW_SIZE, buf.readUInt32BE(start + 4));
        if (this.streams.size === 0) this.end(E_NO_ERROR);
        break;
      case T_PRIORITY:
        // Priorities are ignored (RFC 9113 deprecates them); only the frame's form is checked.
        if (streamId === 0) return this.protocolError('PRIORITY on stream 0');
        if (end - start !== 5) this.refuseFrame(streamId, E_FRAME_SIZE_ERROR);
        else if ((buf.readUInt32BE(start) & MAX_WINDOW_SIZE) === streamId) this.refuseFrame(streamId, E_PROTOCOL_ERROR);
        break;
      case T_PUSH_PROMISE:
        return this.protocolError('PUSH_PROMISE from a client');
      default:
        break; // unknown frame types are ignored (§5.5)
    }
    return !this.ended;
  }

  private fail(code: number, reason: string): false {
    this.connectionError(code, reason);
    return false;
  }

  private protocolError(reason: string): false {
    return this.fail(E_PROTOCOL_ERROR, reason);
  }

  /** A stream error on a frame that may name no live stream (PRIORITY): no RST_STREAM for those (§5.1). */
  private refuseFrame(streamId: number, code: number): void {
    const s = this.streams.get(streamId);
    if (s) this.streamError(s, code);
    else this.glitch();
  }

  private onSettings(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) return void this.protocolError('SETTINGS on a stream');
    if (flags & F_ACK) {
      if (end > start) this.fail(E_FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - start) % 6 !== 0) return void this.fail(E_FRAME_SIZE_ERROR, 'SETTINGS length');
    this.gotSettings = true;
    for (let i = start; i < end; i += 6) {
      const id = buf.readUInt16BE(i);
      const value = buf.readUInt32BE(i + 2);
      switch (id) {
        case S_HEADER_TABLE_SIZE:
          this.encoder.setPeerTableSize(value);
          break;
        case S_ENABLE_PUSH:
          if (value > 1) return void this.protocolError('SETTINGS_ENABLE_PUSH above 1');
          break;
        case S_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW_SIZE) return void this.fail(E_FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW_SIZE) return void this.fail(E_FLOW_CONTROL_ERROR, 'stream window too large');
          }
          break;
        }
        case S_MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) return void this.protocolError('SETTINGS_MAX_FRAME_SIZE out of range');
          this.peerMaxFrameSize = value;
          break;
        default:
          break; // MAX_CONCURRENT_STREAMS (we open none), MAX_HEADER_LIST_SIZE (advisory), unknown ones
      }
    }
    this.out.settingsAck();
    this.controlFrame();
    this.pump();
  }

  private onWindowUpdate(streamId: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) return void this.fail(E_FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = buf.readUInt32BE(start) & MAX_WINDOW_SIZE;
    if (streamId === 0) {
      if (inc === 0) return void this.protocolError('WINDOW_UPDATE of 0');
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW_SIZE) return void this.fail(E_FLOW_CONTROL_ERROR, 'connection window too large');
    } else {
      const s = this.streams.get(streamId);
      if (!s) {
        if (streamId > this.lastStreamId) this.protocolError('WINDOW_UPDATE on an idle stream');
        return;
      }
      if (inc === 0) return this.streamError(s, E_PROTOCOL_ERROR);
      s.sendWindow += inc;
      if (s.sendWindow > MAX_WINDOW_SIZE) return this.streamError(s, E_FLOW_CONTROL_ERROR);
    }
    this.pump();
  }

  private onRstStream(streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) return void this.protocolError('RST_STREAM on stream 0');
    if (end - start !== 4) return void this.fail(E_FRAME_SIZE_ERROR, 'RST_STREAM length');
    const s = this.streams.get(streamId);
    if (!s) {
      if (streamId > this.lastStreamId) this.protocolError('RST_STREAM on an idle stream');
      return;
    }
    s.resetByPeer = true;
    this.closeStream(s, buf.readUInt32BE(start));
    // A reset before the response completed: the rapid-reset pattern when repeated.
    this.glitch();
  }

  private onHeaders(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0 || (streamId & 1) === 0) return void this.protocolError('HEADERS on stream 0 or an even stream');
    let p = start;
    let e = end;
    if (flags & F_PADDED) {
      if (p >= e) return void this.protocolError('HEADERS padding');
      e -= buf[p++];
    }
    let selfDependent = false;
    if (flags & F_PRIORITY) {
      if (e - p < 5) return void this.protocolError('HEADERS priority');
      selfDependent = (buf.readUInt32BE(p) & MAX_WINDOW_SIZE) === streamId;
      p += 5;
    }
    if (p > e) return void this.protocolError('HEADERS padding longer than the frame');
    if (flags & F_END_HEADERS) return this.headerBlock(streamId, flags, selfDependent, buf, p, e);
    if (e - p > this.options.maxHeaderBlockSize) return void this.fail(E_ENHANCE_YOUR_CALM, 'header block too large');
    this.blockStream = streamId;
    this.blockFlags = flags;
    this.blockSelfDependent = selfDependent;
    this.blockFrames = 1;
    this.blockLen = 0;
    this.appendBlock(buf, p, e);
  }

  private appendBlock(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    let b = this.blockBuf;
    if (!b || this.blockLen + n > b.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.options.maxHeaderBlockSize, Math.max(2 * (this.blockLen + n), 16 * 1024)));
      if (b) b.copy(grown, 0, 0, this.blockLen);
      b = this.blockBuf = grown;
    }
    buf.copy(b, this.blockLen, start, end);
    this.blockLen += n;
  }

  private onContinuation(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream === 0 || streamId !== this.blockStream) return void this.protocolError('unexpected CONTINUATION');
    // CVE-2024-27316: the block is capped in bytes and frames before anything is decoded.
    if (++this.blockFrames > this.options.maxContinuationFrames) return void this.fail(E_ENHANCE_YOUR_CALM, 'too many CONTINUATION frames');
    if (this.blockLen + end - start > this.options.maxHeaderBlockSize) return void this.fail(E_ENHANCE_YOUR_CALM, 'header block too large');
    this.appendBlock(buf, start, end);
    if (!(flags & F_END_HEADERS)) return;
    const b = this.blockBuf!;
    const len = this.blockLen;
    this.blockStream = 0;
    this.blockBuf = null;
    this.headerBlock(streamId, this.blockFlags, this.blockSelfDependent, b, 0, len);
  }

  /** Decode a block nobody keeps (HPACK state must follow every block). */
  private discardBlock(buf: Buffer, start: number, end: number): boolean {
    const h = this.scratch ?? (this.scratch = new H2Head());
    h.reset(false);
    if (this.decoder.decode(buf, start, end, h, this.options.maxHeaderListSize) === DECODE_ERROR) {
      this.fail(E_COMPRESSION_ERROR, this.decoder.error);
      return false;
    }
    return true;
  }

  private headerBlock(streamId: number, flags: number, selfDependent: boolean, buf: Buffer, start: number, end: number): void {
    const endStream = (flags & F_END_STREAM) !== 0;
    const existing = this.streams.get(streamId);
    if (existing) return this.trailerBlock(existing, endStream, buf, start, end);
    if (streamId <= this.lastStreamId) {
      // A stream we already closed (reset, refused or done): decoded and ignored.
      this.discardBlock(buf, start, end);
      return;
    }
    this.lastStreamId = streamId;
    if (this.goawaySent) {
      // Past our GOAWAY's last stream id: not processed, the client retries it elsewhere.
      this.discardBlock(buf, start, end);
      return;
    }
    if (this.streams.size >= this.options.maxConcurrentStreams) {
      if (!this.discardBlock(buf, start, end)) return;
      this.out.rstStream(streamId, E_REFUSED_STREAM);
      this.glitch();
      return;
    }
    const s = takeStream();
    s.init(streamId, this.options.initialWindowSize, this.peerInitialWindow);
    const head = s.head;
    const status = this.decoder.decode(buf, start, end, head, this.options.maxHeaderListSize);
    if (status === DECODE_ERROR) {
      releaseStream(s);
      return void this.fail(E_COMPRESSION_ERROR, this.decoder.error);
    }
    if (status === DECODED_TOO_LARGE || head.tooLarge) {
      // A glitch (HPACK bombs come in numbers); the handler answers 431 as HTTP/1 does an oversized head.
      if (!this.glitch()) return void releaseStream(s);
      head.tooLarge = true;
    } else head.finishRequest();
    if (head.error || selfDependent || (endStream && head.contentLength > 0)) {
      releaseStream(s);
      this.out.rstStream(streamId, E_PROTOCOL_ERROR);
      this.glitch();
      return;
    }
    this.streams.set(streamId, s);
    if (endStream) s.state = ST_HALF_CLOSED_REMOTE;
    this.handler.onRequestHead(s, endStream);
  }

  private trailerBlock(s: H2Stream, endStream: boolean, buf: Buffer, start: number, end: number): void {
    const t = s.trailers ?? (s.trailers = new H2Head());
    t.reset(true);
    const status = this.decoder.decode(buf, start, end, t, this.options.maxHeaderListSize);
    if (status === DECODE_ERROR) return void this.fail(E_COMPRESSION_ERROR, this.decoder.error);
    if (s.remoteClosed) return this.streamError(s, E_STREAM_CLOSED);
    const cl = s.head.contentLength;
    if (!endStream || t.error || t.tooLarge || status === DECODED_TOO_LARGE || (cl >= 0 && s.recvBytes !== cl)) {
      return this.streamError(s, E_PROTOCOL_ERROR);
    }
    s.state = ST_HALF_CLOSED_REMOTE;
    this.handler.onTrailers(s);
  }
}

export { DEFAULT_H2_OPTIONS, type H2Handler, type H2Options } from './connection-core';
export { H2Stream } from './stream';
export { H2Head, HeaderList, type HeaderFields } from './head';
