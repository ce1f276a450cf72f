/**
 * gzip, deflate (zlib format) and raw deflate, compressed on the event loop without a
 * stream, the way HAProxy's libslz does it: each run of body bytes the server sent is
 * deflated on its own (`deflateRawSync` with a sync flush, so the pieces join into one
 * valid deflate stream), and the container's header, final block and checksum are
 * written around them. Nothing is kept between pieces but the checksum and the length,
 * so memory per response is constant, and nothing waits for the threadpool: measured
 * here, a 64 KiB response took about a quarter of the CPU the node:zlib stream
 * (./compressor.ts) needed. The price: no history across pieces (a few % larger output
 * for 16 KiB pieces, none for a body that arrives in one read).
 */
import * as zlib from 'node:zlib';
import type { CompressionAlgo } from '../config/model';
import type { HttpExchange } from './exchange';
import type { BodyTransform } from './pipeline';
import { countBypassed, countCompression } from './compressor';
import { limited, throttled } from './compression-limits';

/** gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unix (RFC 1952). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
/** zlib header: deflate with a 32 KiB window, no dictionary, "fastest" (RFC 1950; 0x7801 % 31 === 0). */
const ZLIB_HEADER = Buffer.from([0x78, 0x01]);
/** A final, empty, fixed-Huffman block: ends the deflate stream after the sync-flushed pieces. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

const FORMAT_RAW = 0;
const FORMAT_GZIP = 1;
const FORMAT_ZLIB = 2;

/** Adler-32 (RFC 1950) of `buf[start..end)` continued from `adler`. */
function adler32(adler: number, buf: Buffer, start: number, end: number): number {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  let i = start;
  while (i < end) {
    // 5552 bytes keep b below 2^32 before the modulo (zlib's NMAX).
    const stop = Math.min(end, i + 5552);
    for (; i < stop; i++) {
      a += buf[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** deflateRawSync's options at each level (0: stored blocks), made once. */
const LEVELS: zlib.ZlibOptions[] = Array.from({ length: 10 }, (_, level) => ({ level, finishFlush: zlib.constants.Z_SYNC_FLUSH }));

export class StatelessDeflate implements BodyTransform {
  private readonly format: number;
  /** The level now: the configured one, lowered while over maxcomprate/maxcompcpuusage (./compression-limits.ts). */
  private level: number;
  private started = false;
  /** CRC-32 (gzip) or Adler-32 (zlib) of the body so far. */
  private check: number;
  private length = 0;

  constructor(
    private readonly ex: HttpExchange,
    algo: CompressionAlgo,
    private readonly maxLevel: number,
  ) {
    this.format = algo === 'gzip' ? FORMAT_GZIP : algo === 'deflate' ? FORMAT_ZLIB : FORMAT_RAW;
    this.check = this.format === FORMAT_ZLIB ? 1 : 0;
    this.level = maxLevel;
  }

  write(buf: Buffer, start: number, end: number): boolean {
    const input = buf.subarray(start, end);
    this.length = (this.length + input.length) >>> 0;
    if (this.format === FORMAT_GZIP) this.check = zlib.crc32(input, this.check);
    else if (this.format === FORMAT_ZLIB) this.check = adler32(this.check, buf, start, end);
    const deflated = zlib.deflateRawSync(input, LEVELS[this.level]);
    if (limited) {
      // HAProxy's comp_rfc195x_flush_or_finish: one level down after a piece while over a limit, back up when under.
      if (throttled()) {
        if (this.level > 0) this.level--;
      } else if (this.level < this.maxLevel) this.level++;
    }
    // As HAProxy's comp_http_payload: the level after the piece says where its bytes count.
    if (this.level > 0) countCompression(this.ex, input.length, deflated.length);
    else countBypassed(this.ex, input.length);
    if (this.started) return this.ex.transformOutput(deflated, 0, deflated.length);
    this.started = true;
    const out = Buffer.concat([this.header(), deflated]);
    return this.ex.transformOutput(out, 0, out.length);
  }

  end(): void {
    const trailer = this.format === FORMAT_GZIP ? 8 : this.format === FORMAT_ZLIB ? 4 : 0;
    const head = this.started ? 0 : this.header().length;
    const out = Buffer.allocUnsafe(head + FINAL_BLOCK.length + trailer);
    if (head) this.header().copy(out, 0);
    FINAL_BLOCK.copy(out, head);
    const at = head + FINAL_BLOCK.length;
    if (this.format === FORMAT_GZIP) {
      out.writeUInt32LE(this.check >>> 0, at);
      out.writeUInt32LE(this.length, at + 4);
    } else if (this.format === FORMAT_ZLIB) out.writeUInt32BE(this.check >>> 0, at);
    if (this.level > 0) countCompression(this.ex, 0, out.length);
    this.ex.transformOutput(out, 0, out.length);
    this.ex.transformEnded();
  }

  /** Output goes out as it is made: the client's drain is the server's. */
  resume(): void {
    this.ex.transformDrained();
  }

  destroy(): void {}

  private header(): Buffer {
    return this.format === FORMAT_GZIP ? GZIP_HEADER : this.format === FORMAT_ZLIB ? ZLIB_HEADER : FINAL_BLOCK.subarray(0, 0);
  }
}
