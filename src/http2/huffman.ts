/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
 *
 * The code is canonical (codes of one length are consecutive, in symbol order, and each
 * length continues from the previous one), so the bit lengths alone define it: the codes
 * are rebuilt from them at load time. Decoding is table driven, one lookup per 4 bits:
 * the code's 256 internal tree nodes are the states, and since the shortest code has
 * 5 bits, a nibble completes at most one symbol.
 */

/** Code length in bits of symbols 0..255, then EOS (256): RFC 7541 Appendix B. */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
/** Code of each symbol (right-aligned), and its length: exported for tests. */
export const CODES = new Uint32Array(257);
export const CODE_LENGTHS = Uint8Array.from(LENGTHS);

{
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  let code = 0;
  let len = LENGTHS[order[0]];
  for (let k = 0; k < order.length; k++) {
    const s = order[k];
    if (k > 0) {
      code++;
      code *= 2 ** (LENGTHS[s] - len);
      len = LENGTHS[s];
    }
    CODES[s] = code;
  }
}

// Decoding table: entry (state << 4 | nibble) = next state | EMIT | FAIL, symbol in bits 8..15.
const EMIT = 1 << 16;
const FAIL = 1 << 17;
const DECODE = new Int32Array(256 * 16);
/** Whether a string may end in this state: no partial code, or up to 7 one-bits of padding (§5.2). */
const ACCEPT = new Uint8Array(256);

{
  // Binary trie of the codes: node children as [zero, one]; leaves are -(symbol + 1).
  const zero: number[] = [0];
  const one: number[] = [0];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  for (let s = 0; s <= EOS; s++) {
    let node = 0;
    for (let b = LENGTHS[s] - 1; b >= 0; b--) {
      const bit = Math.floor(CODES[s] / 2 ** b) & 1;
      const children = bit ? one : zero;
      if (b === 0) {
        children[node] = -(s + 1);
        break;
      }
      if (children[node] === 0) {
        const child = zero.length;
        zero.push(0);
        one.push(0);
        depth.push(depth[node] + 1);
        allOnes.push(allOnes[node] && bit === 1);
        children[node] = child;
      }
      node = children[node];
    }
  }
  if (zero.length !== 256) throw new Error('HPACK Huffman table: expected 256 internal nodes');
  for (let n = 0; n < 256; n++) ACCEPT[n] = n === 0 || (allOnes[n] && depth[n] <= 7) ? 1 : 0;
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let b = 3; b >= 0; b--) {
        const next = (nibble >> b) & 1 ? one[node] : zero[node];
        if (next < 0) {
          const sym = -next - 1;
          if (sym === EOS) {
            entry |= FAIL;
            break;
          }
          entry |= EMIT | (sym << 8);
          node = 0;
        } else {
          node = next;
        }
      }
      DECODE[(state << 4) | nibble] = entry & FAIL ? FAIL : entry | node;
    }
  }
}

/** Most bytes `huffmanDecode` can produce from n input bytes (5-bit shortest code). */
export function huffmanDecodedMax(n: number): number {
  return ((n * 8) / 5) | 0;
}

/**
 * Decode src[start..end) into out at `off` (room for huffmanDecodedMax(end - start) bytes);
 * returns the offset after the last byte written, or -1 when the string is invalid (EOS
 * decoded, or padding that is not a prefix of EOS or longer than 7 bits).
 */
export function huffmanDecode(src: Buffer, start: number, end: number, out: Buffer, off: number): number {
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = src[i];
    let e = DECODE[(state << 4) | (b >> 4)];
    if (e & FAIL) return -1;
    if (e & EMIT) out[off++] = (e >> 8) & 0xff;
    e = DECODE[((e & 0xff) << 4) | (b & 15)];
    if (e & FAIL) return -1;
    if (e & EMIT) out[off++] = (e >> 8) & 0xff;
    state = e & 0xff;
  }
  return ACCEPT[state] ? off : -1;
}

/** Bytes the Huffman encoding of src[start..end) takes. */
export function huffmanEncodedLength(src: Buffer, start: number, end: number, lower?: Uint8Array): number {
  let bits = 0;
  if (lower) for (let i = start; i < end; i++) bits += CODE_LENGTHS[lower[src[i]]];
  else for (let i = start; i < end; i++) bits += CODE_LENGTHS[src[i]];
  return (bits + 7) >> 3;
}

/**
 * Encode src[start..end) (mapped through `lower` when given) into out at `off`; returns the
 * offset after the last byte. The last byte is padded with the most significant bits of EOS.
 */
export function huffmanEncode(src: Buffer, start: number, end: number, out: Buffer, off: number, lower?: Uint8Array): number {
  // acc holds `bits` pending bits (< 8 between symbols); codes longer than 24 bits go in two
  // steps so acc never exceeds 31 bits.
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const s = lower ? lower[src[i]] : src[i];
    const code = CODES[s];
    let len = CODE_LENGTHS[s];
    if (len > 24) {
      const high = len - 24;
      acc = (acc << high) | (code >>> 24);
      bits += high;
      len = 24;
      if (bits >= 8) {
        bits -= 8;
        out[off++] = (acc >>> bits) & 0xff;
        acc &= (1 << bits) - 1;
      }
    }
    acc = (acc << len) | (code & 0xffffff);
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      out[off++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[off++] = ((acc << (8 - bits)) | (0xff >> bits)) & 0xff;
  return off;
}
