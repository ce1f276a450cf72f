/**
 * HTTP/2 request heads and trailers as the HPACK decoder fills them, validated field by
 * field as they arrive (RFC 9113 §8.2, §8.3), and header lists to send.
 *
 * The representation follows src/http/head.ts's HeadTable so that one pipeline can
 * read both: header bytes in `buf`, `count` regular fields with their offsets in `hdr`
 * (HDR_STRIDE ints per field: name start/end, value start/end, and the value end again
 * where HTTP/1 has the line end), their kind in `kind` (the H_* constants) and a `drop`
 * flag per field for the pipeline. Pseudo-headers are not fields: their offsets are in
 * their own members, as the request line's are in HeadParser.
 */
import {
  eqLower, HDR_STRIDE, H_CONNECTION, H_CONTENT_LENGTH, H_HOST, H_KEEP_ALIVE,
  H_PROXY_CONNECTION, H_TE, H_TRANSFER_ENCODING, H_UPGRADE,
  MAX_HEADERS,
} from '../http/head';
import { classify, FIELD, TCHAR } from '../http1/parser';
import type { FieldSink } from './hpack';

/** `cookie`, which HTTP/2 may split into several fields (§8.2.3): HTTP/1 needs them joined with "; ". */
export const H_COOKIE = 32;

/** Kind of a header name (any case): HTTP/1's kinds (src/http1/parser.ts classify), plus H_COOKIE. */
export function classifyName(buf: Buffer, s: number, e: number): number {
  return e - s === 6 && eqLower(buf, s, e, 'cookie') ? H_COOKIE : classify(buf, s, e);
}

/** Fields that exist only for one HTTP/1 connection (§8.2.2): never sent, malformed when received. */
export function isConnectionSpecific(kind: number): boolean {
  return kind === H_CONNECTION || kind === H_KEEP_ALIVE || kind === H_PROXY_CONNECTION || kind === H_TRANSFER_ENCODING || kind === H_UPGRADE;
}

/** A field name: lower-case tchars only (§8.2.1: upper case is malformed). */
const NAME = new Uint8Array(256);
/** :path and :authority bytes: visible ASCII. */
const VISIBLE = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  NAME[c] = TCHAR[c] && !(c >= 65 && c <= 90) ? 1 : 0;
  VISIBLE[c] = c > 0x20 && c < 0x7f ? 1 : 0;
}

/** The header lists the connection encodes: HeadParser, H2Head and HeaderList all fit. */
export interface HeaderFields {
  readonly buf: Buffer;
  readonly count: number;
  readonly hdr: Int32Array;
  /** 1 = not sent. */
  readonly drop?: Uint8Array;
}

const INITIAL_FIELDS = 24;
const INITIAL_BYTES = 1024;
/** A head whose buffer grew past this gives it up when its stream is done. */
const KEPT_BYTES = 4096;

const P_METHOD = 1;
const P_SCHEME = 2;
const P_AUTHORITY = 4;
const P_PATH = 8;

/**
 * A request head (or trailers) of one stream. The connection's HPACK decoder appends
 * bytes and calls field(); the first rule a field breaks is kept in `error` (the stream
 * is then reset with PROTOCOL_ERROR) and the later fields are not recorded.
 */
export class H2Head implements FieldSink, HeaderFields {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  len = 0;
  count = 0;
  hdr = new Int32Array(INITIAL_FIELDS * HDR_STRIDE);
  kind = new Uint8Array(INITIAL_FIELDS);
  drop = new Uint8Array(INITIAL_FIELDS);
  dropCount = 0;
  /** Pseudo-headers' value offsets into buf; start -1 when absent. */
  methodStart = -1;
  methodEnd = -1;
  schemeStart = -1;
  schemeEnd = -1;
  authorityStart = -1;
  authorityEnd = -1;
  pathStart = -1;
  pathEnd = -1;
  isConnect = false;
  /** Index of the Host field, -1 when none. */
  host = -1;
  /** -1 when absent. */
  contentLength = -1;
  /** '' while valid, else why the head is malformed. */
  error = '';
  /** Set when the decoded list passed SETTINGS_MAX_HEADER_LIST_SIZE or MAX_HEADERS fields. */
  tooLarge = false;
  private seen = 0;
  private regularSeen = false;
  private trailers = false;

  /** Start a head (trailers: no pseudo-headers allowed). */
  reset(trailers: boolean): void {
    this.len = 0;
    this.count = 0;
    this.dropCount = 0;
    this.methodStart = this.methodEnd = this.schemeStart = this.schemeEnd = -1;
    this.authorityStart = this.authorityEnd = this.pathStart = this.pathEnd = -1;
    this.isConnect = false;
    this.host = -1;
    this.contentLength = -1;
    this.error = '';
    this.tooLarge = false;
    this.seen = 0;
    this.regularSeen = false;
    this.trailers = trailers;
  }

  /** The stream is done: a buffer that grew for a large head is not kept in the pool. */
  shrink(): void {
    if (this.buf.length > KEPT_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    if (this.kind.length > INITIAL_FIELDS) {
      this.hdr = new Int32Array(INITIAL_FIELDS * HDR_STRIDE);
      this.kind = new Uint8Array(INITIAL_FIELDS);
      this.drop = new Uint8Array(INITIAL_FIELDS);
    }
  }

  reserve(n: number): Buffer {
    if (this.len + n <= this.buf.length) return this.buf;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.len);
    return (this.buf = grown);
  }

  private malformed(reason: string): void {
    if (!this.error) this.error = reason;
  }

  field(ns: number, ne: number, vs: number, ve: number): void {
    if (this.error) return;
    const b = this.buf;
    if (ne === ns) return this.malformed('empty field name');
    // Values must not start or end with whitespace nor hold CTLs (§8.2.1).
    for (let i = vs; i < ve; i++) if (!FIELD[b[i]]) return this.malformed('invalid character in field value');
    if (ve > vs && (b[vs] === 32 || b[vs] === 9 || b[ve - 1] === 32 || b[ve - 1] === 9)) {
      return this.malformed('whitespace around a field value');
    }
    if (b[ns] === 58) return this.pseudo(b, ns, ne, vs, ve);
    this.regularSeen = true;
    for (let i = ns; i < ne; i++) {
      if (!NAME[b[i]]) return this.malformed(b[i] >= 65 && b[i] <= 90 ? 'upper-case field name' : 'invalid field name');
    }
    const k = classifyName(b, ns, ne);
    if (isConnectionSpecific(k)) return this.malformed('connection-specific field');
    if (k === H_TE && !eqLower(b, vs, ve, 'trailers')) return this.malformed('te other than trailers');
    if (!this.trailers) {
      if (k === H_CONTENT_LENGTH) {
        if (this.contentLength >= 0) return this.malformed('duplicate content-length');
        if (ve === vs || ve - vs > 15) return this.malformed('invalid content-length');
        let v = 0;
        for (let i = vs; i < ve; i++) {
          const d = b[i] - 48;
          if (d < 0 || d > 9) return this.malformed('invalid content-length');
          v = v * 10 + d;
        }
        this.contentLength = v;
      } else if (k === H_HOST) {
        if (this.host >= 0) return this.malformed('duplicate host');
        this.host = this.count;
      }
    }
    if (this.count >= MAX_HEADERS) {
      this.tooLarge = true;
      return;
    }
    const n = this.count++;
    if (n >= this.kind.length) this.grow();
    const o = n * HDR_STRIDE;
    const h = this.hdr;
    h[o] = ns;
    h[o + 1] = ne;
    h[o + 2] = vs;
    h[o + 3] = ve;
    h[o + 4] = ve;
    this.kind[n] = k;
    this.drop[n] = 0;
  }

  private grow(): void {
    const cap = Math.min(this.kind.length * 2, MAX_HEADERS);
    const hdr = new Int32Array(cap * HDR_STRIDE);
    hdr.set(this.hdr);
    const kind = new Uint8Array(cap);
    kind.set(this.kind);
    this.hdr = hdr;
    this.kind = kind;
    this.drop = new Uint8Array(cap);
  }

  private pseudo(b: Buffer, ns: number, ne: number, vs: number, ve: number): void {
    if (this.trailers) return this.malformed('pseudo-header in trailers');
    if (this.regularSeen) return this.malformed('pseudo-header after a regular field');
    let which = 0;
    switch (ne - ns) {
      case 5:
        if (eqLower(b, ns, ne, ':path')) which = P_PATH;
        break;
      case 7:
        if (eqLower(b, ns, ne, ':method')) which = P_METHOD;
        else if (eqLower(b, ns, ne, ':scheme')) which = P_SCHEME;
        break;
      case 10:
        if (eqLower(b, ns, ne, ':authority')) which = P_AUTHORITY;
        break;
    }
    // :status, :protocol (no SETTINGS_ENABLE_CONNECT_PROTOCOL) and others: malformed (§8.3).
    if (which === 0) return this.malformed('unknown pseudo-header');
    for (let i = ns + 1; i < ne; i++) if (!NAME[b[i]]) return this.malformed('upper-case field name');
    if (this.seen & which) return this.malformed('duplicate pseudo-header');
    this.seen |= which;
    switch (which) {
      case P_METHOD:
        if (ve === vs) return this.malformed('empty :method');
        for (let i = vs; i < ve; i++) if (!TCHAR[b[i]]) return this.malformed('invalid :method');
        this.methodStart = vs;
        this.methodEnd = ve;
        this.isConnect = sameBytes(b, vs, ve, 'CONNECT');
        return;
      case P_SCHEME:
        for (let i = vs; i < ve; i++) if (!TCHAR[b[i]]) return this.malformed('invalid :scheme');
        this.schemeStart = vs;
        this.schemeEnd = ve;
        return;
      case P_AUTHORITY:
        for (let i = vs; i < ve; i++) {
          if (!VISIBLE[b[i]] || b[i] === 64) return this.malformed('invalid :authority');
        }
        this.authorityStart = vs;
        this.authorityEnd = ve;
        return;
      default:
        for (let i = vs; i < ve; i++) if (!VISIBLE[b[i]]) return this.malformed('invalid :path');
        this.pathStart = vs;
        this.pathEnd = ve;
    }
  }

  /** After the last field of a request head: the rules about the set of pseudo-headers (§8.3.1, §8.5). */
  finishRequest(): void {
    if (this.error || this.tooLarge) return;
    const b = this.buf;
    if (!(this.seen & P_METHOD)) return this.malformed('missing :method');
    if (this.isConnect) {
      if (this.seen & (P_SCHEME | P_PATH)) return this.malformed('CONNECT with :scheme or :path');
      if (!(this.seen & P_AUTHORITY)) return this.malformed('CONNECT without :authority');
      return;
    }
    if ((this.seen & (P_SCHEME | P_PATH)) !== (P_SCHEME | P_PATH)) return this.malformed('missing :scheme or :path');
    if (this.pathEnd === this.pathStart) return this.malformed('empty :path');
    if (b[this.pathStart] !== 47) {
      const asterisk = this.pathEnd - this.pathStart === 1 && b[this.pathStart] === 42;
      if (!asterisk || !sameBytes(b, this.methodStart, this.methodEnd, 'OPTIONS')) {
        return this.malformed(':path neither absolute nor * with OPTIONS');
      }
    }
    if (this.host >= 0) {
      if (this.authorityStart >= 0) {
        const h = this.hdr;
        const o = this.host * HDR_STRIDE;
        if (!sameCaseless(b, h[o + 2], h[o + 3], this.authorityStart, this.authorityEnd)) {
          return this.malformed('host differs from :authority');
        }
      }
    } else if (this.authorityStart < 0) {
      return this.malformed('neither :authority nor host');
    }
  }

  /** Index of the first field with this lower-case name, or -1. */
  find(name: string, from = 0): number {
    const h = this.hdr;
    for (let i = from; i < this.count; i++) {
      if (eqLower(this.buf, h[i * HDR_STRIDE], h[i * HDR_STRIDE + 1], name)) return i;
    }
    return -1;
  }

  /** Value of field i as a latin1 string (only when a rule or fetch asks). */
  value(i: number): string {
    return this.buf.toString('latin1', this.hdr[i * HDR_STRIDE + 2], this.hdr[i * HDR_STRIDE + 3]);
  }

  method(): string {
    return this.methodStart < 0 ? '' : this.buf.toString('latin1', this.methodStart, this.methodEnd);
  }

  path(): string {
    return this.pathStart < 0 ? '' : this.buf.toString('latin1', this.pathStart, this.pathEnd);
  }

  scheme(): string {
    return this.schemeStart < 0 ? '' : this.buf.toString('latin1', this.schemeStart, this.schemeEnd);
  }

  /** :authority, else the host field ('' when neither). */
  authority(): string {
    if (this.authorityStart >= 0) return this.buf.toString('latin1', this.authorityStart, this.authorityEnd);
    return this.host >= 0 ? this.value(this.host) : '';
  }

  /** The fields as [name, value] pairs (tests, debugging). */
  fields(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.count; i++) out.push([this.buf.toString('latin1', this.hdr[i * HDR_STRIDE], this.hdr[i * HDR_STRIDE + 1]), this.value(i)]);
    return out;
  }
}

/** buf[s..e) equals the ASCII literal, case included (methods are case-sensitive). */
function sameBytes(b: Buffer, s: number, e: number, lit: string): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit.charCodeAt(i)) return false;
  return true;
}

function sameCaseless(b: Buffer, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if ((b[s1 + i] | 0x20) !== (b[s2 + i] | 0x20)) return false;
  return true;
}

/** A header list built from strings: local responses, trailers kept until queued data is sent. */
export class HeaderList implements HeaderFields {
  buf: Buffer;
  len = 0;
  count = 0;
  hdr: Int32Array;

  constructor(capacity = 8) {
    this.buf = Buffer.allocUnsafe(256);
    this.hdr = new Int32Array(capacity * HDR_STRIDE);
  }

  clear(): this {
    this.len = 0;
    this.count = 0;
    return this;
  }

  private room(bytes: number): void {
    if (this.len + bytes > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    if ((this.count + 1) * HDR_STRIDE > this.hdr.length) {
      const hdr = new Int32Array(this.hdr.length * 2);
      hdr.set(this.hdr);
      this.hdr = hdr;
    }
  }

  private push(ns: number, ne: number, vs: number, ve: number): void {
    const o = this.count++ * HDR_STRIDE;
    this.hdr[o] = ns;
    this.hdr[o + 1] = ne;
    this.hdr[o + 2] = vs;
    this.hdr[o + 3] = ve;
    this.hdr[o + 4] = ve;
  }

  add(name: string, value: string): this {
    this.room(name.length + Buffer.byteLength(value));
    const ns = this.len;
    this.len += this.buf.write(name, ns, 'latin1');
    const vs = this.len;
    this.len += this.buf.write(value, vs);
    this.push(ns, vs, vs, this.len);
    return this;
  }

  /** Copy the kept fields of `from`. */
  copyFrom(from: HeaderFields): this {
    const h = from.hdr;
    for (let i = 0; i < from.count; i++) {
      if (from.drop?.[i]) continue;
      const o = i * HDR_STRIDE;
      const nl = h[o + 1] - h[o];
      const vl = h[o + 3] - h[o + 2];
      this.room(nl + vl);
      const ns = this.len;
      from.buf.copy(this.buf, ns, h[o], h[o + 1]);
      from.buf.copy(this.buf, ns + nl, h[o + 2], h[o + 3]);
      this.len = ns + nl + vl;
      this.push(ns, ns + nl, ns + nl, this.len);
    }
    return this;
  }
}
