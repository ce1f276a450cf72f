/**
 * A response body compressed by a node:zlib stream: the BodyTransform
 * (./pipeline.ts) the compression module installs for br and zstd (gzip and deflate
 * go through ./stateless-deflate.ts, cheaper). Memory per response is the
 * stream's own state plus its two buffers (16 KiB each way): a full stream stops the
 * server reads, a full client pauses the stream's output. Each write is compressed
 * with a sync flush (the stream's `flush` option: one threadpool job per server
 * read), as HAProxy flushes after each buffer it compresses, so a slow or streamed
 * response (server-sent events) reaches the client as it comes.
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { CompressionAlgo } from '../config/model';
import type { HttpExchange } from './exchange';
import type { BodyTransform } from './pipeline';
import { countCompressionRate, limited } from './compression-limits';

/** The Content-Encoding token of each algorithm (HAProxy's raw-deflate is announced as deflate too). */
export const CODING: Record<CompressionAlgo, string> = { gzip: 'gzip', deflate: 'deflate', 'raw-deflate': 'deflate', br: 'br', zstd: 'zstd' };

/** Brotli's window (2^18 = 256 KiB, as much as a gzip stream's state) bounds its memory per response. */
const BROTLI_LGWIN = 18;

interface ZstdZlib {
  createZstdCompress(options: { params: Record<number, number>; flush: number }): Transform;
  constants: { ZSTD_c_compressionLevel: number; ZSTD_e_flush: number };
}

/** A zlib stream that knows the compressor it feeds (the listeners below are shared, not closures). */
type OwnedStream = Transform & { compressor: Compressor | null };

function createStream(algo: CompressionAlgo, level: number, sizeHint: number): Transform {
  const c = zlib.constants;
  switch (algo) {
    case 'gzip':
      return zlib.createGzip({ level, flush: c.Z_SYNC_FLUSH });
    case 'deflate':
      return zlib.createDeflate({ level, flush: c.Z_SYNC_FLUSH });
    case 'raw-deflate':
      return zlib.createDeflateRaw({ level, flush: c.Z_SYNC_FLUSH });
    case 'br': {
      const params: Record<number, number> = { [c.BROTLI_PARAM_QUALITY]: level, [c.BROTLI_PARAM_LGWIN]: BROTLI_LGWIN };
      if (sizeHint > 0) params[c.BROTLI_PARAM_SIZE_HINT] = sizeHint;
      return zlib.createBrotliCompress({ params, flush: c.BROTLI_OPERATION_FLUSH });
    }
    case 'zstd': {
      // Checked when the config was loaded (src/config/compression.ts).
      const z = zlib as unknown as ZstdZlib;
      return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: level }, flush: z.constants.ZSTD_e_flush });
    }
  }
}

export class Compressor implements BodyTransform {
  private readonly stream: OwnedStream;

  /** `sizeHint`: the body's length when the server announced it, else -1. */
  constructor(
    private readonly ex: HttpExchange,
    algo: CompressionAlgo,
    level: number,
    sizeHint: number,
  ) {
    const stream = createStream(algo, level, sizeHint);
    this.stream = stream as OwnedStream;
    this.stream.compressor = this;
    stream.on('data', onData);
    stream.on('drain', onDrain);
    stream.on('end', onEnd);
    stream.on('error', onError);
  }

  write(buf: Buffer, start: number, end: number): boolean {
    countCompression(this.ex, end - start, 0);
    // A copy: `buf` may be the shared read buffer, and zlib works on it later.
    return this.stream.write(Buffer.from(buf.subarray(start, end)));
  }

  end(): void {
    this.stream.end();
  }

  resume(): void {
    this.stream.resume();
  }

  destroy(): void {
    this.stream.compressor = null;
    this.stream.destroy();
  }

  /** Compressed bytes for the client. */
  output(chunk: Buffer): void {
    countCompression(this.ex, 0, chunk.length);
    if (!this.ex.transformOutput(chunk, 0, chunk.length)) this.stream.pause();
  }

  ended(): void {
    this.stream.compressor = null;
    this.ex.transformEnded();
  }

  failed(): void {
    this.stream.compressor = null;
    this.ex.transformFailed();
  }

  drained(): void {
    this.ex.transformDrained();
  }
}

/** HAProxy's comp_in / comp_out of the frontend and backend, and the rates maxcomprate limits. */
export function countCompression(ex: HttpExchange, bytesIn: number, bytesOut: number): void {
  const fe = ex.fe.counters;
  const be = ex.backend!.counters;
  fe.compIn += bytesIn;
  be.compIn += bytesIn;
  fe.compOut += bytesOut;
  be.compOut += bytesOut;
  if (limited) countCompressionRate(bytesIn, bytesOut);
}

/** HAProxy's comp_byp: body bytes of a compressed response that went through at level 0. */
export function countBypassed(ex: HttpExchange, bytes: number): void {
  ex.fe.counters.compByp += bytes;
  ex.backend!.counters.compByp += bytes;
}

function onData(this: OwnedStream, chunk: Buffer): void {
  this.compressor?.output(chunk);
}

function onDrain(this: OwnedStream): void {
  this.compressor?.drained();
}

function onEnd(this: OwnedStream): void {
  this.compressor?.ended();
}

function onError(this: OwnedStream): void {
  this.compressor?.failed();
}
