/**
 * HPACK (RFC 7541): a decoder and an encoder, each with its dynamic table, working on
 * bytes only. Decoded names and values are copied into the receiver's buffer (a
 * `FieldSink`: the stream's request head) and never become strings; the encoder writes
 * header blocks straight into the connection's output buffer.
 *
 * Both tables keep their entries' bytes in one ring buffer, allocated on the first
 * insertion: the decoder's as large as the SETTINGS_HEADER_TABLE_SIZE we advertise
 * (4,096 bytes unless HAProxy's tune.h2.header-table-size says more), the encoder's
 * 4,096 bytes, the most it uses of the peer's table.
 */
import { huffmanDecode, huffmanDecodedMax, huffmanEncode, huffmanEncodedLength } from './huffman';

/** RFC 7541 Appendix A: index 1..61 as [name, value]. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
export const STATIC_COUNT = STATIC.length;

/** Static entries' bytes, name then value, with offsets per index (1-based). */
const STATIC_BYTES = Buffer.from(STATIC.map(([n, v]) => n + v).join(''), 'latin1');
const STATIC_NAME_START = new Int32Array(STATIC_COUNT + 1);
const STATIC_NAME_END = new Int32Array(STATIC_COUNT + 1);
const STATIC_VALUE_END = new Int32Array(STATIC_COUNT + 1);
{
  let o = 0;
  for (let k = 1; k <= STATIC_COUNT; k++) {
    const [n, v] = STATIC[k - 1];
    STATIC_NAME_START[k] = o;
    STATIC_NAME_END[k] = o + n.length;
    o += n.length + v.length;
    STATIC_VALUE_END[k] = o;
  }
}

/** ASCII lower-casing of a byte (header names from HTTP/1 come in any case). */
export const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = c >= 65 && c <= 90 ? c + 32 : c;

/**
 * Copy src[s..e) to dst at o. Header names and values are mostly short, and Buffer#copy
 * costs a call into C++ that a byte loop beats below a few dozen bytes.
 */
function copyBytes(src: Buffer, s: number, e: number, dst: Buffer, o: number): void {
  if (e - s > 32) src.copy(dst, o, s, e);
  else for (let i = s; i < e; i++) dst[o++] = src[i];
}

/** Per-field overhead counted in table sizes and header list sizes (§4.1). */
export const ENTRY_OVERHEAD = 32;
/** The protocol's initial table size, our default SETTINGS_HEADER_TABLE_SIZE, and the most of the peer's that the encoder uses. */
export const TABLE_CAPACITY = 4096;
/** The largest decoder table tune.h2.header-table-size may ask for (HAProxy's limit). */
export const MAX_TABLE_CAPACITY = 65536;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function hashBytes(h: number, b: Buffer, s: number, e: number): number {
  for (let i = s; i < e; i++) h = Math.imul(h ^ LOWER[b[i]], FNV_PRIME);
  return h;
}

/** Hash of a name (lower-cased), and of a pair: the name's hash continued over a separator and the value. */
function nameHash(b: Buffer, s: number, e: number): number {
  return hashBytes(FNV_OFFSET, b, s, e);
}
function pairHash(nh: number, b: Buffer, s: number, e: number): number {
  // Values keep their case: hash them without lower-casing.
  let h = Math.imul(nh ^ 0xff, FNV_PRIME);
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i], FNV_PRIME);
  return h;
}

/** Static names by hash (open addressing; the first index of each name). */
const STATIC_BY_NAME = new Int32Array(256);
for (let k = STATIC_COUNT; k >= 1; k--) {
  let slot = nameHash(STATIC_BYTES, STATIC_NAME_START[k], STATIC_NAME_END[k]) & 255;
  while (STATIC_BY_NAME[slot] !== 0 && !sameStaticName(STATIC_BY_NAME[slot], k)) slot = (slot + 1) & 255;
  STATIC_BY_NAME[slot] = k;
}
function sameStaticName(a: number, b: number): boolean {
  return STATIC[a - 1][0] === STATIC[b - 1][0];
}

/** Static index of this (lower-cased) name, or 0. */
export function staticNameIndex(h: number, b: Buffer, s: number, e: number): number {
  for (let slot = h & 255; ; slot = (slot + 1) & 255) {
    const k = STATIC_BY_NAME[slot];
    if (k === 0) return 0;
    const ns = STATIC_NAME_START[k];
    if (STATIC_NAME_END[k] - ns !== e - s) continue;
    let same = true;
    for (let i = 0; i < e - s; i++) {
      if (STATIC_BYTES[ns + i] !== LOWER[b[s + i]]) {
        same = false;
        break;
      }
    }
    if (same) return k;
  }
}

/**
 * The dynamic table (§2.3.2, §4): entries newest first from index 1, evicted oldest first
 * when `size` (bytes + 32 per entry) would exceed `maxSize`. Entry bytes (name then value)
 * sit in a ring: the live bytes are always fewer than its capacity, so a new entry never
 * overwrites a live one.
 */
export class DynamicTable {
  private ring: Buffer | null = null;
  /** Entry slots: the table holds at most this many entries (each counts at least 32 bytes). */
  private readonly slots: number;
  private readonly start: Int32Array;
  private readonly nameLen: Int32Array;
  private readonly valueLen: Int32Array;
  private readonly pair: Int32Array;
  private oldest = 0;
  count = 0;
  size = 0;
  /** The size in force: the protocol's 4,096 until a size update (§6.3) says otherwise, never above `capacity`. */
  maxSize = TABLE_CAPACITY;
  private writePos = 0;

  /** `capacity`: the ring's bytes, the largest maxSize it can take (at least TABLE_CAPACITY). */
  constructor(readonly capacity = TABLE_CAPACITY) {
    this.slots = capacity / ENTRY_OVERHEAD;
    this.start = new Int32Array(this.slots);
    this.nameLen = new Int32Array(this.slots);
    this.valueLen = new Int32Array(this.slots);
    this.pair = new Int32Array(this.slots);
  }

  private slot(index: number): number {
    return (this.oldest + this.count - index) % this.slots;
  }

  setMaxSize(n: number): void {
    this.maxSize = n;
    while (this.size > n) this.evict();
  }

  private evict(): void {
    const s = this.oldest;
    this.size -= this.nameLen[s] + this.valueLen[s] + ENTRY_OVERHEAD;
    this.oldest = (s + 1) % this.slots;
    this.count--;
  }

  /**
   * Insert name b[ns..ne) and value v[vs..ve); `lower` lower-cases the name (the encoder's
   * names come from HTTP/1 heads), `hash` is the pair's hash for find() (the encoder's).
   */
  add(b: Buffer, ns: number, ne: number, v: Buffer, vs: number, ve: number, hash: number, lower: boolean): void {
    const nl = ne - ns;
    const vl = ve - vs;
    const entrySize = nl + vl + ENTRY_OVERHEAD;
    while (this.count > 0 && this.size + entrySize > this.maxSize) this.evict();
    // An entry larger than the table empties it and is not added (§4.4).
    if (entrySize > this.maxSize) return;
    const ring = this.ring ?? (this.ring = Buffer.allocUnsafe(this.capacity));
    const s = (this.oldest + this.count) % this.slots;
    this.start[s] = this.writePos;
    this.nameLen[s] = nl;
    this.valueLen[s] = vl;
    this.pair[s] = hash;
    let w = this.writePos;
    for (let i = ns; i < ne; i++) {
      ring[w] = lower ? LOWER[b[i]] : b[i];
      if (++w === this.capacity) w = 0;
    }
    const first = Math.min(vl, this.capacity - w);
    copyBytes(v, vs, vs + first, ring, w);
    if (first < vl) copyBytes(v, vs + first, ve, ring, 0);
    w = (w + vl) % this.capacity;
    this.writePos = w;
    this.count++;
    this.size += entrySize;
  }

  /** Copy ring[from..from+len) (wrapping) to out at off; returns off + len. */
  private copyOut(from: number, len: number, out: Buffer, off: number): number {
    const ring = this.ring!;
    const first = Math.min(len, this.capacity - from);
    copyBytes(ring, from, from + first, out, off);
    if (first < len) copyBytes(ring, 0, len - first, out, off + first);
    return off + len;
  }

  nameLength(index: number): number {
    return this.nameLen[this.slot(index)];
  }

  valueLength(index: number): number {
    return this.valueLen[this.slot(index)];
  }

  /** Copy entry `index`'s name to out at off; returns the offset after it. */
  copyName(index: number, out: Buffer, off: number): number {
    const s = this.slot(index);
    return this.copyOut(this.start[s], this.nameLen[s], out, off);
  }

  /** Copy entry `index`'s name and value, which the ring holds one after the other; returns the offset after them. */
  copyField(index: number, out: Buffer, off: number): number {
    const s = this.slot(index);
    return this.copyOut(this.start[s], this.nameLen[s] + this.valueLen[s], out, off);
  }

  /** Index (1-based, newest first) of the entry with this name (lower-cased) and value, or 0. */
  find(hash: number, b: Buffer, ns: number, ne: number, v: Buffer, vs: number, ve: number): number {
    for (let index = 1; index <= this.count; index++) {
      const s = this.slot(index);
      if (this.pair[s] !== hash || this.nameLen[s] !== ne - ns || this.valueLen[s] !== ve - vs) continue;
      if (this.equals(this.start[s], b, ns, ne, true) && this.equals((this.start[s] + ne - ns) % this.capacity, v, vs, ve, false)) {
        return index;
      }
    }
    return 0;
  }

  private equals(from: number, b: Buffer, s: number, e: number, lower: boolean): boolean {
    const ring = this.ring!;
    let r = from;
    for (let i = s; i < e; i++) {
      if (ring[r] !== (lower ? LOWER[b[i]] : b[i])) return false;
      if (++r === this.capacity) r = 0;
    }
    return true;
  }

  /** [name, value] of entry `index` (tests and debugging only). */
  entry(index: number): [string, string] {
    const n = Buffer.allocUnsafe(this.nameLength(index) + this.valueLength(index));
    this.copyField(index, n, 0);
    const o = this.nameLength(index);
    return [n.toString('latin1', 0, o), n.toString('latin1', o)];
  }
}

/** Where decoded fields go: bytes appended to `buf` at `len`, then `field()` with their offsets. */
export interface FieldSink {
  buf: Buffer;
  len: number;
  /** Room for n more bytes after `len`; returns `buf` (it may have been replaced). */
  reserve(n: number): Buffer;
  field(nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void;
}

/** decode() results. */
export const DECODED = 0;
/** The decoded list passed the size limit: the table is in sync, the sink holds only the fields before. */
export const DECODED_TOO_LARGE = 1;
/** A COMPRESSION_ERROR: the connection must end. */
export const DECODE_ERROR = -1;

export class HpackDecoder {
  readonly table: DynamicTable;

  /** `maxTableSize`: our SETTINGS_HEADER_TABLE_SIZE, the most a size update may ask (TABLE_CAPACITY..MAX_TABLE_CAPACITY). */
  constructor(readonly maxTableSize = TABLE_CAPACITY) {
    this.table = new DynamicTable(maxTableSize);
  }
  /** Why the last decode failed. */
  error = '';
  private pos = 0;

  private fail(reason: string): number {
    this.error = reason;
    return DECODE_ERROR;
  }

  /** A prefix integer (§5.1) at this.pos; -1 when truncated or too large. */
  private int(src: Buffer, end: number, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let v = src[this.pos++] & mask;
    if (v < mask) return v;
    let m = 0;
    for (;;) {
      if (this.pos >= end || m > 21) return -1;
      const b = src[this.pos++];
      v += (b & 0x7f) * 2 ** m;
      m += 7;
      if ((b & 0x80) === 0) return v;
    }
  }

  /** A string literal (§5.2) at this.pos, appended to the sink; returns its start, or -1. */
  private string(src: Buffer, end: number, sink: FieldSink): number {
    if (this.pos >= end) return -1;
    const huffman = src[this.pos] & 0x80;
    const n = this.int(src, end, 7);
    if (n < 0 || this.pos + n > end) return -1;
    const s = sink.len;
    if (huffman) {
      const out = sink.reserve(huffmanDecodedMax(n));
      const o = huffmanDecode(src, this.pos, this.pos + n, out, s);
      if (o < 0) return -2;
      sink.len = o;
    } else {
      const out = sink.reserve(n);
      copyBytes(src, this.pos, this.pos + n, out, s);
      sink.len = s + n;
    }
    this.pos += n;
    return s;
  }

  /**
   * Copy the name of table index `k` (static or dynamic, already checked) into the sink and,
   * with `withValue`, its value after it: both tables hold a value right after its name, so
   * a whole field is one copy. Returns the sink offset where the name ends.
   */
  private indexed(k: number, withValue: boolean, sink: FieldSink): number {
    const start = sink.len;
    if (k <= STATIC_COUNT) {
      const ns = STATIC_NAME_START[k];
      const e = withValue ? STATIC_VALUE_END[k] : STATIC_NAME_END[k];
      const out = sink.reserve(e - ns);
      copyBytes(STATIC_BYTES, ns, e, out, start);
      sink.len = start + e - ns;
      return start + STATIC_NAME_END[k] - ns;
    }
    const d = k - STATIC_COUNT;
    const nameLength = this.table.nameLength(d);
    const out = sink.reserve(withValue ? nameLength + this.table.valueLength(d) : nameLength);
    sink.len = withValue ? this.table.copyField(d, out, start) : this.table.copyName(d, out, start);
    return start + nameLength;
  }

  /**
   * Decode the header block src[start..end) into `sink`. Once the header list (name +
   * value + 32 per field, §4.1 of RFC 7541 and §6.5.2 of RFC 9113) exceeds `maxListSize`,
   * fields are no longer stored but the block is still decoded to keep the table in sync:
   * the cost stays bounded by the block's own size, however much it would expand.
   */
  decode(src: Buffer, start: number, end: number, sink: FieldSink, maxListSize: number): number {
    this.pos = start;
    let listSize = 0;
    let tooLarge = false;
    let fieldsSeen = false;
    while (this.pos < end) {
      const b = src[this.pos];
      const fieldStart = sink.len;
      let ne: number;
      if (b & 0x80) {
        // Indexed field (§6.1).
        const k = this.int(src, end, 7);
        if (k <= 0 || k > STATIC_COUNT + this.table.count) return this.fail('invalid index');
        fieldsSeen = true;
        if (tooLarge) continue;
        ne = this.indexed(k, true, sink);
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (§6.3): only before the first field of a block.
        if (fieldsSeen) return this.fail('table size update after a field');
        const n = this.int(src, end, 5);
        if (n < 0 || n > this.maxTableSize) return this.fail('table size update above SETTINGS_HEADER_TABLE_SIZE');
        this.table.setMaxSize(n);
        continue;
      } else {
        // Literal (§6.2): with incremental indexing (01), without (0000) or never (0001).
        const indexing = (b & 0x40) !== 0;
        const k = this.int(src, end, indexing ? 6 : 4);
        if (k < 0 || k > STATIC_COUNT + this.table.count) return this.fail('invalid index');
        fieldsSeen = true;
        if (tooLarge && !indexing) {
          // Nothing to store or insert: skip the strings.
          if ((k === 0 && !this.skipString(src, end)) || !this.skipString(src, end)) return this.fail('truncated string');
          continue;
        }
        if (k === 0) {
          const s = this.string(src, end, sink);
          if (s < 0) return this.fail(s === -2 ? 'invalid Huffman string' : 'truncated string');
        } else {
          this.indexed(k, false, sink);
        }
        ne = sink.len;
        const s = this.string(src, end, sink);
        if (s < 0) return this.fail(s === -2 ? 'invalid Huffman string' : 'truncated string');
        if (indexing) this.table.add(sink.buf, fieldStart, ne, sink.buf, ne, sink.len, 0, false);
      }
      if (!tooLarge) {
        listSize += sink.len - fieldStart + ENTRY_OVERHEAD;
        if (listSize <= maxListSize) {
          sink.field(fieldStart, ne, ne, sink.len);
          continue;
        }
        tooLarge = true;
      }
      // Past the limit nothing is kept: the sink never grows beyond it (plus one field).
      sink.len = fieldStart;
    }
    return tooLarge ? DECODED_TOO_LARGE : DECODED;
  }

  private skipString(src: Buffer, end: number): boolean {
    if (this.pos >= end) return false;
    const n = this.int(src, end, 7);
    if (n < 0 || this.pos + n > end) return false;
    this.pos += n;
    return true;
  }
}

/** How the encoder represents a field that is not fully in a table. */
export const M_AUTO = 0;
export const M_INDEX = 1;
export const M_NO_INDEX = 2;
export const M_NEVER_INDEX = 3;

/**
 * M_AUTO's choice per static name: values that change per response (content-length, date
 * is kept: it changes once a second), that are unique (location, etag, set-cookie) or that
 * are secrets (never indexed, §7.1.3) stay out of the dynamic table, so it keeps the
 * fields that repeat.
 */
const AUTO_MODE = new Uint8Array(STATIC_COUNT + 1).fill(M_INDEX);
for (const [name, mode] of [
  ['content-length', M_NO_INDEX], ['location', M_NO_INDEX], ['etag', M_NO_INDEX], ['set-cookie', M_NO_INDEX],
  ['last-modified', M_NO_INDEX], ['age', M_NO_INDEX], ['content-range', M_NO_INDEX], [':path', M_NO_INDEX],
  ['authorization', M_NEVER_INDEX], ['proxy-authorization', M_NEVER_INDEX], ['cookie', M_NEVER_INDEX],
] as const) {
  for (let k = 1; k <= STATIC_COUNT; k++) if (STATIC[k - 1][0] === name) AUTO_MODE[k] = mode;
}

/** `:status` as indexed static entries where the table has them. */
const STATUS_INDEX = new Map([[200, 8], [204, 9], [206, 10], [304, 11], [400, 12], [404, 13], [500, 14]]);
const STATUS_NAME = Buffer.from(':status', 'latin1');
const statusDigits = Buffer.alloc(3);

/** Writes into a byte buffer at an offset; the frame writer implements it. */
export interface BlockOutput {
  buf: Buffer | null;
  len: number;
  reserve(n: number): Buffer;
}

function writeInt(b: Buffer, o: number, prefixBits: number, first: number, v: number): number {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    b[o++] = first | v;
    return o;
  }
  b[o++] = first | max;
  v -= max;
  while (v >= 128) {
    b[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[o++] = v;
  return o;
}

export class HpackEncoder {
  readonly table = new DynamicTable();
  /** Size updates owed at the start of the next block (§4.2): the smallest since the last block, then the final. */
  private minPendingSize = -1;
  private pendingSize = -1;

  constructor(public huffman = false) {}

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: use min(it, TABLE_CAPACITY). */
  setPeerTableSize(n: number): void {
    const size = Math.min(n, TABLE_CAPACITY);
    if (size === (this.pendingSize >= 0 ? this.pendingSize : this.table.maxSize)) return;
    if (this.minPendingSize < 0 || size < this.minPendingSize) this.minPendingSize = size;
    this.pendingSize = size;
    this.table.setMaxSize(size);
  }

  /** Start a header block: the owed size updates. */
  begin(out: BlockOutput): void {
    if (this.pendingSize < 0) return;
    const b = out.reserve(12);
    if (this.minPendingSize < this.pendingSize) out.len = writeInt(b, out.len, 5, 0x20, this.minPendingSize);
    out.len = writeInt(b, out.len, 5, 0x20, this.pendingSize);
    this.pendingSize = this.minPendingSize = -1;
  }

  status(out: BlockOutput, code: number): void {
    const k = STATUS_INDEX.get(code);
    if (k !== undefined) {
      const b = out.reserve(1);
      b[out.len++] = 0x80 | k;
      return;
    }
    statusDigits[0] = 48 + ((code / 100) | 0);
    statusDigits[1] = 48 + (((code / 10) | 0) % 10);
    statusDigits[2] = 48 + (code % 10);
    this.field(out, STATUS_NAME, 0, 7, statusDigits, 0, 3, M_AUTO);
  }

  /** Encode name n[ns..ne) (lower-cased on the way) with value v[vs..ve). */
  field(out: BlockOutput, n: Buffer, ns: number, ne: number, v: Buffer, vs: number, ve: number, mode: number): void {
    const nh = nameHash(n, ns, ne);
    const k = staticNameIndex(nh, n, ns, ne);
    if (k > 0 && STATIC_VALUE_END[k] > STATIC_NAME_END[k]) {
      // Static entries with values: :method, :path, :scheme, :status, accept-encoding.
      for (let j = k; j <= STATIC_COUNT && STATIC[j - 1][0] === STATIC[k - 1][0]; j++) {
        if (this.sameStaticValue(j, v, vs, ve)) {
          const b = out.reserve(1);
          b[out.len++] = 0x80 | j;
          return;
        }
      }
    }
    if (mode === M_AUTO) {
      mode = k > 0 ? AUTO_MODE[k] : M_INDEX;
      if (mode === M_INDEX && (ne - ns) + (ve - vs) + ENTRY_OVERHEAD > (this.table.maxSize * 3) >> 2) mode = M_NO_INDEX;
    }
    const ph = pairHash(nh, v, vs, ve);
    if (mode !== M_NEVER_INDEX && this.table.count > 0) {
      const d = this.table.find(ph, n, ns, ne, v, vs, ve);
      if (d > 0) {
        const b = out.reserve(6);
        out.len = writeInt(b, out.len, 7, 0x80, STATIC_COUNT + d);
        return;
      }
    }
    const b = out.reserve(12 + (ne - ns) + (ve - vs));
    let o = out.len;
    const prefix = mode === M_INDEX ? 6 : 4;
    const first = mode === M_INDEX ? 0x40 : mode === M_NEVER_INDEX ? 0x10 : 0x00;
    o = writeInt(b, o, prefix, first, k);
    if (k === 0) o = this.string(b, o, n, ns, ne, true);
    o = this.string(b, o, v, vs, ve, false);
    out.len = o;
    if (mode === M_INDEX) this.table.add(n, ns, ne, v, vs, ve, ph, true);
  }

  private sameStaticValue(k: number, v: Buffer, vs: number, ve: number): boolean {
    const s = STATIC_NAME_END[k];
    if (STATIC_VALUE_END[k] - s !== ve - vs) return false;
    for (let i = 0; i < ve - vs; i++) if (STATIC_BYTES[s + i] !== v[vs + i]) return false;
    return true;
  }

  private string(b: Buffer, o: number, src: Buffer, s: number, e: number, lower: boolean): number {
    const n = e - s;
    if (this.huffman && n > 0) {
      const h = huffmanEncodedLength(src, s, e, lower ? LOWER : undefined);
      if (h <= n) {
        o = writeInt(b, o, 7, 0x80, h);
        return huffmanEncode(src, s, e, b, o, lower ? LOWER : undefined);
      }
    }
    o = writeInt(b, o, 7, 0, n);
    if (lower) for (let i = s; i < e; i++) b[o++] = LOWER[src[i]];
    else {
      copyBytes(src, s, e, b, o);
      o += n;
    }
    return o;
  }
}
