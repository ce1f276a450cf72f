/**
 * A response on its way into the cache: started by `http-response cache-store` when
 * the head says it may be stored (./policy.ts), fed with the body bytes the
 * responseBody phase sees (src/http/modules/cache.ts), stored when the body ends, and
 * dropped as soon as it passes max-object-size. The body is stored decoded (chunked
 * framing removed) and served with a Content-Length; the head as the server sent it,
 * less hop-by-hop fields, framing and Age, with the lines the response rules added
 * before cache-store.
 */
import { Dechunker, type DechunkSink } from '../../http2/dechunk';
import { H_CONNECTION, H_CONTENT_LENGTH, H_KEEP_ALIVE, H_PROXY_CONNECTION, H_TE, H_TRAILER, H_TRANSFER_ENCODING, H_UPGRADE, HDR_STRIDE, eqLower, type HeadTable } from '../head';
import { httpDate, type Freshness } from './policy';
import { CacheEntry, type CacheStore } from './store';

/** Fields a stored response never carries: its framing and hop-by-hop fields are the answer's own; Age is recomputed. */
function isStoredField(res: HeadTable, n: number): boolean {
  switch (res.kind[n]) {
    case H_CONTENT_LENGTH:
    case H_TRANSFER_ENCODING:
    case H_CONNECTION:
    case H_KEEP_ALIVE:
    case H_PROXY_CONNECTION:
    case H_TE:
    case H_TRAILER:
    case H_UPGRADE:
      return false;
  }
  return !res.drop[n] && !eqLower(res.buf, res.hdr[n * HDR_STRIDE], res.hdr[n * HDR_STRIDE + 1], 'age');
}

/** `HTTP/1.1 200 <reason>` and the stored fields, then `extras` (lines added by rules), each line with its CRLF. */
function storedHead(res: HeadTable, extras: string): { head: Buffer; fieldsAt: number } {
  const reason = res.buf.toString('latin1', res.start + 13, res.firstLineEnd - 2);
  const statusLine = `HTTP/1.1 200 ${reason}\r\n`;
  const parts: Buffer[] = [Buffer.from(statusLine, 'latin1')];
  const h = res.hdr;
  for (let n = 0; n < res.count; n++) if (isStoredField(res, n)) parts.push(res.buf.subarray(h[n * HDR_STRIDE], h[n * HDR_STRIDE + 4]));
  if (extras) parts.push(Buffer.from(extras, 'latin1'));
  return { head: Buffer.concat(parts), fieldsAt: statusLine.length };
}

export class CacheWrite implements DechunkSink {
  private readonly head: Buffer;
  private readonly fieldsAt: number;
  private readonly etag: string;
  private readonly lastModified: number;
  private readonly bornAt: number;
  /** Content-Length bodies are copied into one buffer of their size; chunked ones gathered. */
  private readonly whole: Buffer | null;
  private readonly parts: Buffer[] = [];
  private bytes = 0;
  private readonly dechunker: Dechunker | null;
  private tooBig = false;
  /**
   * The body tap that feeds this object: the first to offer it a chunk. With cache-store
   * rules in both the frontend and the backend, each chunk is offered by both taps; a
   * chunk cannot be told from the next by its buffer (a socket's reads share one).
   */
  private feeder: object | undefined = undefined;

  constructor(
    private readonly store: CacheStore,
    private readonly key: string,
    private readonly primary: string,
    private readonly signature: number,
    res: HeadTable,
    extras: string,
    private readonly fresh: Freshness,
    chunked: boolean,
    now: number,
  ) {
    const { head, fieldsAt } = storedHead(res, extras);
    this.head = head;
    this.fieldsAt = fieldsAt;
    const et = res.find('etag');
    this.etag = et >= 0 ? res.value(et) : '';
    this.bornAt = now - fresh.age * 1000;
    const lm = res.find('last-modified');
    const date = res.find('date');
    const modified = lm >= 0 ? httpDate(res.value(lm)) : date >= 0 ? httpDate(res.value(date)) : NaN;
    this.lastModified = Number.isNaN(modified) ? Math.floor(now / 1000) : modified;
    this.whole = chunked ? null : Buffer.allocUnsafe(res.contentLength);
    this.dechunker = chunked ? new Dechunker() : null;
  }

  /** Body bytes as framed on the wire, offered by `tap`; false once the object is too big to be stored. */
  add(tap: object, buf: Buffer, start: number, end: number): boolean {
    if (tap !== this.feeder) {
      if (this.feeder !== undefined) return true;
      this.feeder = tap;
    }
    if (this.dechunker) this.dechunker.feed(buf, start, end, this);
    else {
      buf.copy(this.whole!, this.bytes, start, end);
      this.bytes += end - start;
    }
    return !this.tooBig;
  }

  chunkData(buf: Buffer, start: number, end: number): boolean {
    this.bytes += end - start;
    if (this.head.length + this.bytes > this.store.settings.maxObjectSize) this.tooBig = true;
    else this.parts.push(Buffer.from(buf.subarray(start, end)));
    return true;
  }

  chunkedEnd(): void {}

  /** The body ended: store the response. */
  commit(): void {
    if (this.tooBig) return;
    const body = this.whole ?? Buffer.concat(this.parts, this.bytes);
    const entry = new CacheEntry(this.key, this.primary, this.head, this.fieldsAt, body, this.bornAt, this.fresh.lifetime * 1000, this.etag, this.lastModified);
    this.store.insert(entry, this.signature);
  }
}
