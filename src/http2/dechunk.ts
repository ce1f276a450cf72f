/**
 * An HTTP/1 chunked response body turned into HTTP/2 DATA and trailers. The bytes were
 * already validated by src/http1/body.ts's BodyFramer, which also cut chunk extensions,
 * so this only has to find each `<hex>CRLF` size line, the data after it, and the
 * trailer section after the last chunk.
 */
import type { HeaderList } from './head';

export interface DechunkSink {
  /** Chunk data `buf[start..end)` (a view: copy what outlives the call); false when the client is full. */
  chunkData(buf: Buffer, start: number, end: number): boolean;
  /** The last chunk and the trailer section (`Name: value\r\n` lines, '' when none) were read. */
  chunkedEnd(trailers: string): void;
}

const D_SIZE = 0;
const D_SIZE_LF = 1;
const D_DATA = 2;
const D_DATA_CRLF = 3;
const D_TRAILERS = 4;
const D_DONE = 5;

export class Dechunker {
  private state = D_SIZE;
  private size = 0;
  /** CR/LF bytes still to skip after a chunk's data. */
  private skip = 0;
  private trailers = '';
  /** Bytes of the trailer line being read (0 at a line start). */
  private lineLen = 0;

  reset(): void {
    this.state = D_SIZE;
    this.size = 0;
    this.skip = 0;
    this.trailers = '';
    this.lineLen = 0;
  }

  /** Chunked bytes `buf[i..end)`; false when the sink said the client is full. */
  feed(buf: Buffer, i: number, end: number, sink: DechunkSink): boolean {
    let ok = true;
    while (i < end) {
      switch (this.state) {
        case D_SIZE: {
          const c = buf[i++];
          if (c === 13) this.state = D_SIZE_LF;
          else this.size = this.size * 16 + (c <= 57 ? c - 48 : (c | 0x20) - 87);
          break;
        }
        case D_SIZE_LF:
          i++;
          this.state = this.size === 0 ? D_TRAILERS : D_DATA;
          break;
        case D_DATA: {
          const n = Math.min(this.size, end - i);
          if (!sink.chunkData(buf, i, i + n)) ok = false;
          i += n;
          this.size -= n;
          if (this.size === 0) {
            this.state = D_DATA_CRLF;
            this.skip = 2;
          }
          break;
        }
        case D_DATA_CRLF:
          i++;
          if (--this.skip === 0) this.state = D_SIZE;
          break;
        case D_TRAILERS: {
          const c = buf[i++];
          if (c === 10) {
            if (this.lineLen <= 1) {
              this.state = D_DONE;
              sink.chunkedEnd(this.trailers);
              this.trailers = '';
              return ok;
            }
            this.trailers += '\n';
            this.lineLen = 0;
          } else {
            this.trailers += String.fromCharCode(c);
            this.lineLen++;
          }
          break;
        }
        default:
          return ok;
      }
    }
    return ok;
  }
}

/** The fields of an HTTP/1 trailer section (`Name: value` lines) added to `list`, names lower-cased. */
export function addTrailers(trailers: string, list: HeaderList): HeaderList {
  for (const line of trailers.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) list.add(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return list;
}
