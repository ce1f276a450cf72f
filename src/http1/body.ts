/**
 * Body framing for forwarding bodies as received: counts Content-Length bytes or
 * scans chunked framing (sizes, extensions, data CRLFs, trailers) without
 * decoding, so the bytes are forwarded as they came, less chunk extensions, and
 * the end of the message is known. Strict like the head parser: a framing error
 * stops the message.
 */
import { FIELD, TCHAR } from './parser';

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
/** Response body delimited by the server closing the connection. */
export const BODY_CLOSE = 3;

const CR = 13;
const LF = 10;
const SEMICOLON = 59;
const EQUALS = 61;
const DQUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;

const S_SIZE_START = 0;
const S_SIZE = 1;
const S_EXT_NAME_START = 2;
const S_EXT_NAME = 3;
const S_EXT_VALUE_START = 4;
const S_EXT_TOKEN = 5;
const S_EXT_QUOTED = 6;
const S_EXT_QUOTED_ESC = 7;
const S_EXT_AFTER_QUOTED = 8;
const S_SIZE_LF = 9;
const S_DATA = 10;
const S_DATA_CR = 11;
const S_DATA_LF = 12;
const S_TRAILER_START = 13;
const S_TRAILER_NAME = 14;
const S_TRAILER_VALUE = 15;
const S_TRAILER_LF = 16;
const S_END_LF = 17;

/** 13 hex digits stay below 2^53. */
const MAX_SIZE_DIGITS = 13;
/**
 * Longest chunk-size line (size, extensions, CR): longer is a framing error (400 or
 * 502). HAProxy refuses a line that does not fit its buffer; a fixed bound answers
 * the same however reads fall, and is far above extensions in use (an aws-chunked
 * signature is about 80 bytes).
 */
export const MAX_CHUNK_LINE = 4096;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

export class BodyFramer {
  mode = BODY_NONE;
  done = true;
  /** Bytes left in the body (length mode) or in the current chunk. */
  remaining = 0;
  /**
   * End of the bytes to forward after a feed(): less than the offset it returned when
   * chunk extensions were cut out (the bytes after them are moved left, in place).
   */
  keptEnd = 0;
  error: string | undefined;
  /** Largest body accepted (0: no limit): a chunk that would pass it fails the body, `tooLarge` set. */
  limit = 0;
  tooLarge = false;
  /** Chunk data announced so far. */
  private total = 0;
  private state = S_SIZE_START;
  private digits = 0;
  /** Bytes of the current chunk extension after its ';' so far. */
  private extBytes = 0;

  reset(mode: number, length: number, limit = 0): void {
    this.mode = mode;
    this.error = undefined;
    this.limit = limit;
    this.tooLarge = false;
    this.total = 0;
    this.remaining = length;
    this.state = S_SIZE_START;
    this.digits = 0;
    this.done = mode === BODY_NONE || (mode === BODY_LENGTH && length === 0);
  }

  /**
   * Consume body bytes from buf[i..end). Returns the offset after the last byte
   * that belongs to this body (less than `end` only when the body ended inside
   * the buffer), or -1 on a framing error (`error` says which). The bytes to
   * forward are buf[i..keptEnd).
   */
  feed(buf: Buffer, i: number, end: number): number {
    if (this.done) return (this.keptEnd = i);
    if (this.mode === BODY_CLOSE) return (this.keptEnd = end);
    if (this.mode === BODY_LENGTH) {
      const n = end - i;
      if (n < this.remaining) {
        this.remaining -= n;
        return (this.keptEnd = end);
      }
      i += this.remaining;
      this.remaining = 0;
      this.done = true;
      return (this.keptEnd = i);
    }
    return this.scanChunked(buf, i, end);
  }

  private bad(reason: string): number {
    this.error = reason;
    return -1;
  }

  /**
   * Chunk extensions are checked, then cut out (HAProxy re-chunks without them): the
   * peer gets `<size>CRLF`. The kept bytes between two extensions form a run, moved
   * left to `w` in one copy when an extension ends it; without extensions nothing moves.
   */
  private scanChunked(buf: Buffer, i: number, end: number): number {
    let state = this.state;
    let w = i;
    let run = i;
    /** Where the extension being scanned starts in buf, -1 when none. */
    let extAt = state >= S_EXT_NAME_START && state <= S_EXT_AFTER_QUOTED ? i : -1;
    while (i < end) {
      const c = buf[i];
      switch (state) {
        case S_SIZE_START:
        case S_SIZE: {
          const v = hexValue(c);
          if (v >= 0) {
            if (state === S_SIZE_START) {
              this.remaining = 0;
              this.digits = 0;
              state = S_SIZE;
            }
            if (++this.digits > MAX_SIZE_DIGITS) return this.bad('chunk size too large');
            this.remaining = this.remaining * 16 + v;
            i++;
            break;
          }
          if (state === S_SIZE_START) return this.bad('invalid chunk size');
          if (c === CR) state = S_SIZE_LF;
          else if (c === SEMICOLON) {
            state = S_EXT_NAME_START;
            extAt = i;
            this.extBytes = 0;
          } else return this.bad('invalid character in chunk size');
          i++;
          break;
        }
        case S_EXT_NAME_START:
        case S_EXT_NAME:
        case S_EXT_VALUE_START:
        case S_EXT_TOKEN:
        case S_EXT_QUOTED:
        case S_EXT_QUOTED_ESC:
        case S_EXT_AFTER_QUOTED: {
          this.state = state;
          const cr = this.scanExtension(buf, i, end);
          if (cr < 0) return -1;
          this.extBytes += cr - i;
          // The line is the size, the extension (';' included) and CR.
          if (this.digits + 1 + this.extBytes + 1 > MAX_CHUNK_LINE) return this.bad('chunk size line too long');
          if (cr === end) {
            state = this.state;
            i = end;
            break;
          }
          if (w !== run) buf.copyWithin(w, run, extAt);
          w += extAt - run;
          run = cr;
          extAt = -1;
          state = S_SIZE_LF;
          i = cr + 1;
          break;
        }
        case S_SIZE_LF:
          if (c !== LF) return this.bad('expected LF after chunk size');
          this.total += this.remaining;
          if (this.limit && this.total > this.limit) {
            this.tooLarge = true;
            return this.bad('body larger than max_body_size');
          }
          i++;
          state = this.remaining === 0 ? S_TRAILER_START : S_DATA;
          break;
        case S_DATA: {
          const n = end - i;
          if (n < this.remaining) {
            this.remaining -= n;
            i = end;
          } else {
            i += this.remaining;
            this.remaining = 0;
            state = S_DATA_CR;
          }
          break;
        }
        case S_DATA_CR:
          if (c !== CR) return this.bad('expected CRLF after chunk data');
          state = S_DATA_LF;
          i++;
          break;
        case S_DATA_LF:
          if (c !== LF) return this.bad('expected CRLF after chunk data');
          state = S_SIZE_START;
          i++;
          break;
        case S_TRAILER_START:
          if (c === CR) state = S_END_LF;
          else if (TCHAR[c]) state = S_TRAILER_NAME;
          else return this.bad('invalid trailer');
          i++;
          break;
        case S_TRAILER_NAME:
          if (c === COLON) state = S_TRAILER_VALUE;
          else if (!TCHAR[c]) return this.bad('invalid trailer name');
          i++;
          break;
        case S_TRAILER_VALUE:
          if (c === CR) state = S_TRAILER_LF;
          else if (!FIELD[c]) return this.bad('invalid trailer value');
          i++;
          break;
        case S_TRAILER_LF:
          if (c !== LF) return this.bad('expected LF after trailer');
          state = S_TRAILER_START;
          i++;
          break;
        case S_END_LF:
          if (c !== LF) return this.bad('expected LF after last chunk');
          this.state = state;
          this.done = true;
          this.keepRun(buf, w, run, i + 1);
          return i + 1;
      }
    }
    this.state = state;
    this.keepRun(buf, w, run, extAt >= 0 ? extAt : end);
    return end;
  }

  /** The last kept run, buf[run..runEnd), goes to `w`: keptEnd is after it. */
  private keepRun(buf: Buffer, w: number, run: number, runEnd: number): void {
    if (w !== run) buf.copyWithin(w, run, runEnd);
    this.keptEnd = w + runEnd - run;
  }

  /**
   * Extension bytes from buf[i..end), in the extension states: the offset of the CR
   * that ends the extension, `end` when it goes on (`state` kept), -1 when invalid.
   */
  private scanExtension(buf: Buffer, i: number, end: number): number {
    let state = this.state;
    for (; i < end; i++) {
      const c = buf[i];
      switch (state) {
        case S_EXT_NAME_START:
          if (!TCHAR[c]) return this.bad('invalid chunk extension');
          state = S_EXT_NAME;
          break;
        case S_EXT_NAME:
          if (TCHAR[c]) break;
          if (c === EQUALS) state = S_EXT_VALUE_START;
          else if (c === SEMICOLON) state = S_EXT_NAME_START;
          else if (c === CR) return i;
          else return this.bad('invalid chunk extension');
          break;
        case S_EXT_VALUE_START:
          if (c === DQUOTE) state = S_EXT_QUOTED;
          else if (TCHAR[c]) state = S_EXT_TOKEN;
          else return this.bad('invalid chunk extension value');
          break;
        case S_EXT_TOKEN:
          if (TCHAR[c]) break;
          if (c === SEMICOLON) state = S_EXT_NAME_START;
          else if (c === CR) return i;
          else return this.bad('invalid chunk extension value');
          break;
        case S_EXT_QUOTED:
          if (c === DQUOTE) state = S_EXT_AFTER_QUOTED;
          else if (c === BACKSLASH) state = S_EXT_QUOTED_ESC;
          else if (!FIELD[c]) return this.bad('invalid chunk extension quoted value');
          break;
        case S_EXT_QUOTED_ESC:
          if (!FIELD[c]) return this.bad('invalid chunk extension quoted value');
          state = S_EXT_QUOTED;
          break;
        case S_EXT_AFTER_QUOTED:
          if (c === SEMICOLON) state = S_EXT_NAME_START;
          else if (c === CR) return i;
          else return this.bad('invalid chunk extension');
          break;
      }
    }
    this.state = state;
    return end;
  }
}
