/**
 * The server's response body on its way into a BodyTransform (./pipeline.ts): the
 * payload de-chunked when the server sent it chunked (src/http2/dechunk.ts, the
 * bytes were already validated by the body framer), the chunked trailers kept for
 * the client side's end of the transformed body. One per pooled exchange, made the
 * first time one of its responses is transformed.
 */
import { Dechunker, type DechunkSink } from '../http2/dechunk';
import type { BodyTransform } from './pipeline';

export class TransformedBody implements DechunkSink {
  transform: BodyTransform | null = null;
  /** The server's trailer lines (`Name: value` separated by LF, '' when none). */
  trailers = '';
  private chunked = false;
  /** The transform refused more during the current write. */
  private full = false;
  private readonly dechunker = new Dechunker();

  start(t: BodyTransform, chunked: boolean): void {
    this.transform = t;
    this.chunked = chunked;
    this.trailers = '';
    if (chunked) this.dechunker.reset();
  }

  /** Server body bytes `buf[start..end)` as framed on the wire; false when the transform is full. */
  write(buf: Buffer, start: number, end: number): boolean {
    if (!this.chunked) return start === end || this.transform!.write(buf, start, end);
    this.full = false;
    this.dechunker.feed(buf, start, end, this);
    return !this.full;
  }

  chunkData(buf: Buffer, start: number, end: number): boolean {
    if (start < end && !this.transform!.write(buf, start, end)) this.full = true;
    return true;
  }

  chunkedEnd(trailers: string): void {
    this.trailers = trailers;
  }

  /** The transform is over (ended or destroyed). */
  clear(): void {
    this.transform = null;
    this.trailers = '';
  }
}

/** An HTTP/1 trailer section (`Name: value` lines) from the Dechunker's LF-separated text; '' when none. */
export function trailerLines(trailers: string): string {
  let out = '';
  for (const line of trailers.split('\n')) {
    const t = line.trim();
    if (t) out += t + '\r\n';
  }
  return out;
}
