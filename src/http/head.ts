/**
 * A message head as offsets into the bytes that carry it: the protocol-neutral view
 * of a request or response head that the pipeline, its modules and the fetches read.
 *
 * The HTTP/1 parser (src/http1/parser.ts) fills it in place from the received bytes,
 * so nothing is turned into strings unless a module or fetch asks. HTTP/2 request
 * heads (src/http2/head.ts) are decoded into the same layout: field bytes in `buf`,
 * offsets in `hdr`, kinds and drop marks per field. The upstream request is HTTP/1
 * and is copied from `buf` line by line (src/http1/rewrite.ts), so a head filled by
 * another protocol is turned into HTTP/1 lines once before it goes to a server.
 *
 * Header removal is a mark (`drop`), header addition a line in the exchange's
 * builders (src/http/exchange.ts): a head is never re-serialised to be edited.
 */

/** Header kinds the data path acts on; everything else is `H_OTHER`. */
export const H_OTHER = 0;
export const H_CONTENT_LENGTH = 1;
export const H_TRANSFER_ENCODING = 2;
export const H_CONNECTION = 3;
export const H_KEEP_ALIVE = 4;
export const H_PROXY_CONNECTION = 5;
export const H_TE = 6;
export const H_TRAILER = 7;
export const H_UPGRADE = 8;
export const H_HOST = 9;
export const H_EXPECT = 10;
export const H_X_FORWARDED_PROTO = 11;
export const H_X_FORWARDED_HOST = 12;

/** `HeadTable.drop` marks. */
const HOP_BY_HOP = 1;
export const REMOVED = 2;

/** Most header lines accepted in one head unless the config says (global.max_headers, HAProxy's tune.http.maxhdr). */
export const DEFAULT_MAX_HEADERS = 128;
/**
 * Most header lines accepted in one head (request or response, HTTP/1 or HTTP/2); more
 * is answered like an oversized head (431). Set once per config generation (setMaxHeaders).
 */
export let MAX_HEADERS = DEFAULT_MAX_HEADERS;

export function setMaxHeaders(n: number): void {
  MAX_HEADERS = n;
}

/** Ints per header in `HeadTable.hdr`: name start/end, value start/end (trimmed), line end (after LF). */
export const HDR_STRIDE = 5;

/** Case-insensitive comparison of buf[s..e) with a lower-case ASCII literal. */
export function eqLower(buf: Buffer, s: number, e: number, lit: string): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) if ((buf[s + i] | 0x20) !== lit.charCodeAt(i)) return false;
  return true;
}

/** Header slots a head starts with; heads of browsers and wrk/curl stay well below. */
const INITIAL_HEADERS = 24;
const EMPTY_BUF = Buffer.alloc(0);
const EMPTY_HDR = new Int32Array(0);
const EMPTY_U8 = new Uint8Array(0);

/** A head's per-header tables, in one ArrayBuffer. */
class HeaderTables {
  readonly hdr: Int32Array;
  readonly kind: Uint8Array;
  readonly drop: Uint8Array;

  constructor(readonly capacity: number) {
    const ab = new ArrayBuffer(capacity * (HDR_STRIDE * 4 + 2));
    this.hdr = new Int32Array(ab, 0, capacity * HDR_STRIDE);
    this.kind = new Uint8Array(ab, capacity * HDR_STRIDE * 4, capacity);
    this.drop = new Uint8Array(ab, capacity * (HDR_STRIDE * 4 + 1), capacity);
  }
}

/**
 * Initial-size tables of finished exchanges, reused by the next head filled in this
 * process: idle connections hold none, and a new connection allocates none.
 */
const tablePool: HeaderTables[] = [];
const TABLE_POOL_MAX = 1024;

export class HeadTable {
  buf: Buffer = EMPTY_BUF;
  start = 0;
  /** Offset after the final CRLF. */
  end = 0;
  /** Offset after the first line's CRLF. */
  firstLineEnd = 0;
  // request line
  methodEnd = 0;
  targetStart = 0;
  targetEnd = 0;
  // status line
  status = 0;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and for HTTP/2, whose requests go upstream as 1.1). */
  versionMinor = 1;
  count = 0;
  /**
   * Per-header tables, taken when a head is filled (from the pool, or sized for
   * common heads and grown up to MAX_HEADERS by the fill that needs more) and given
   * back by release(). Replaced when grown: read them through the head, never keep
   * a reference.
   */
  hdr: Int32Array = EMPTY_HDR;
  kind: Uint8Array = EMPTY_U8;
  /**
   * Not forwarded when non-zero: HOP_BY_HOP (the parser's: hop-by-hop or Connection-listed,
   * still part of the message fetches read) or REMOVED (by a rule or module: gone for fetches too).
   */
  drop: Uint8Array = EMPTY_U8;
  private tables: HeaderTables | null = null;
  /** Header slots in the current tables. */
  protected slots = 0;
  dropCount = 0;
  /** -1 when absent. */
  contentLength = -1;
  chunked = false;
  /** Index of the Host header, -1 when none. */
  host = -1;
  /** The first line as received, once a rule replaced it (the access log shows this one, as HAProxy's). */
  receivedLine: string | undefined = undefined;

  /**
   * Keep the head readable after the buffer it was filled from is reused
   * (src/worker/socket-io.ts): a copy of buf[0..end) keeps every offset valid.
   */
  own(): void {
    if (this.buf.length) this.buf = Buffer.from(this.buf.subarray(0, Math.min(this.end, this.buf.length)));
  }

  /**
   * The exchange is over: forget the message (an idle connection keeps neither its
   * last received chunk, up to 64 KiB, nor header tables) and pool the tables.
   */
  release(): void {
    this.buf = EMPTY_BUF;
    this.count = 0;
    this.receivedLine = undefined;
    const t = this.tables;
    if (!t) return;
    this.tables = null;
    this.slots = 0;
    this.hdr = EMPTY_HDR;
    this.kind = EMPTY_U8;
    this.drop = EMPTY_U8;
    if (t.capacity === INITIAL_HEADERS && tablePool.length < TABLE_POOL_MAX) tablePool.push(t);
  }

  /** Room for header slot `n`: pooled or new tables, doubled while needed, entries kept. */
  protected grow(n: number): void {
    const old = this.tables;
    let t: HeaderTables;
    if (!old && n < INITIAL_HEADERS && tablePool.length) t = tablePool.pop()!;
    else {
      let cap = old ? old.capacity : INITIAL_HEADERS;
      while (cap <= n) cap *= 2;
      t = new HeaderTables(cap > MAX_HEADERS ? MAX_HEADERS : cap);
      if (old) {
        t.hdr.set(old.hdr);
        t.kind.set(old.kind);
        t.drop.set(old.drop);
      }
    }
    this.tables = t;
    this.slots = t.capacity;
    this.hdr = t.hdr;
    this.kind = t.kind;
    this.drop = t.drop;
  }

  /** Index of the first header with this lower-case name, or -1. */
  find(name: string, from = 0): number {
    const h = this.hdr;
    for (let i = from; i < this.count; i++) {
      if (eqLower(this.buf, h[i * HDR_STRIDE], h[i * HDR_STRIDE + 1], name)) return i;
    }
    return -1;
  }

  /** Index of the first header with this lower-case name that no rule removed, or -1 (what fetches read). */
  findKept(name: string, from = 0): number {
    for (let i = this.find(name, from); i >= 0; i = this.find(name, i + 1)) if (this.drop[i] !== REMOVED) return i;
    return -1;
  }

  /** Value of header i as a latin1 string (only when a rule or fetch asks). */
  value(i: number): string {
    return this.buf.toString('latin1', this.hdr[i * HDR_STRIDE + 2], this.hdr[i * HDR_STRIDE + 3]);
  }

  /** Remove header n (a rule's or module's edit): not forwarded, and no longer seen by fetches and later rules. */
  dropAt(n: number): void {
    if (!this.drop[n]) this.dropCount++;
    this.drop[n] = REMOVED;
  }

  /** Header n is hop-by-hop (the parser's mark): not forwarded, still seen by fetches. */
  hopByHop(n: number): void {
    if (this.drop[n]) return;
    this.drop[n] = HOP_BY_HOP;
    this.dropCount++;
  }

  /**
   * A new first line (`GET /new HTTP/1.1`, `HTTP/1.1 404 Not Found`, without CRLF) for
   * set-path, set-status and the like: the head moves to a new buffer holding that line
   * and the header bytes, every offset kept valid, so fetches and later rules read the
   * new line and the head goes out as before. `targetStart`/`targetEnd`/`methodEnd`
   * are the new line's own offsets (unused for a status line).
   */
  replaceFirstLine(line: string, methodEnd: number, targetStart: number, targetEnd: number): void {
    const old = this.buf;
    if (this.receivedLine === undefined) this.receivedLine = old.toString('latin1', this.start, this.firstLineEnd - 2);
    const out = Buffer.allocUnsafe(line.length + 2 + this.end - this.firstLineEnd);
    out.write(line, 0, 'latin1');
    out[line.length] = 13;
    out[line.length + 1] = 10;
    old.copy(out, line.length + 2, this.firstLineEnd, this.end);
    const shift = line.length + 2 - this.firstLineEnd;
    for (let i = 0; i < this.count * HDR_STRIDE; i++) this.hdr[i] += shift;
    this.buf = out;
    this.start = 0;
    this.end += shift;
    this.firstLineEnd = line.length + 2;
    this.methodEnd = methodEnd;
    this.targetStart = targetStart;
    this.targetEnd = targetEnd;
  }

  /** The request line with another method and target (the version kept). */
  setRequestLine(method: string, target: string): void {
    const version = this.buf.toString('latin1', this.targetEnd, this.firstLineEnd - 2);
    const targetStart = method.length + 1;
    this.replaceFirstLine(method + ' ' + target + version, method.length, targetStart, targetStart + target.length);
  }

  /** The status line with another status and reason (the version kept). */
  setStatusLine(status: number, reason: string): void {
    const version = this.buf.toString('latin1', this.start, this.start + 8);
    this.replaceFirstLine(`${version} ${status} ${reason}`, 0, 0, 0);
    this.status = status;
  }

  /** Remove every header with this lower-case name (see dropAt). */
  dropNamed(name: string): void {
    for (let i = this.find(name); i >= 0; i = this.find(name, i + 1)) this.dropAt(i);
  }
}
