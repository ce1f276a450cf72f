/**
 * Hash functions for the hashing balancers, as HAProxy computes them:
 * - `sdbm` over a key's characters (HAProxy's default `hash-type … sdbm`);
 * - `fullHash`, Bob Jenkins' 32-bit avalanche (HAProxy's full_hash), used to place
 *   consistent-ring points and to spread key hashes over the ring;
 * - `addressHash`, the 32-bit words of the client address XORed together
 *   (HAProxy's get_server_sh), IPv4-mapped IPv6 hashing like plain IPv4.
 * All results are unsigned 32-bit integers.
 */

/** sdbm over `text[start, end)`; characters are bytes (latin1) on the data path. */
export function sdbm(text: string, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) {
    // hash = c + (hash << 6) + (hash << 16) - hash
    h = (text.charCodeAt(i) + (h << 6) + (h << 16) - h) | 0;
  }
  return h >>> 0;
}

export function fullHash(value: number): number {
  let a = value | 0;
  a = (a + 0x7ed55d16 + (a << 12)) | 0;
  a = a ^ 0xc761c23c ^ (a >>> 19);
  a = (a + 0x165667b1 + (a << 5)) | 0;
  a = ((a + 0xd3a2646c) | 0) ^ (a << 9);
  a = (a + 0xfd7046c5 + (a << 3)) | 0;
  a = a ^ 0xb55a4f09 ^ (a >>> 16);
  // Spread over the whole 32-bit space (HAProxy multiplies by a prime near 3/4 of it).
  return Math.imul(a, 3221225473 | 0) >>> 0;
}

/**
 * The client address folded into 32 bits. Returns -1 when `src` is not an IP
 * address (e.g. a Unix socket peer), which callers treat as "no key".
 */
export function addressHash(src: string): number {
  const v4 = parseIPv4(src, src.startsWith('::ffff:') && src.indexOf('.') > 0 ? 7 : 0);
  if (v4 >= 0) return v4;
  return parseIPv6Folded(src);
}

/** Dotted quad starting at `from` as an unsigned 32-bit integer, or -1. */
function parseIPv4(text: string, from: number): number {
  let value = 0;
  let part = -1;
  let dots = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = (part < 0 ? 0 : part * 10) + (c - 48);
      if (part > 255) return -1;
    } else if (c === 46 && part >= 0 && dots < 3) {
      value = value * 256 + part;
      part = -1;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || part < 0) return -1;
  return value * 256 + part;
}

/** An IPv6 address's four 32-bit words XORed, or -1 when it does not parse. */
function parseIPv6Folded(text: string): number {
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  const gap = addr.indexOf('::');
  if (gap !== addr.lastIndexOf('::')) return -1;
  const head = gap >= 0 ? splitGroups(addr.slice(0, gap)) : splitGroups(addr);
  const tail = gap >= 0 ? splitGroups(addr.slice(gap + 2)) : [];
  if (!head || !tail) return -1;
  const missing = 8 - head.length - tail.length;
  if (gap >= 0 ? missing < 1 : missing !== 0) return -1;
  const groups = head.concat(new Array<number>(missing).fill(0), tail);
  let h = 0;
  for (let w = 0; w < 4; w++) h ^= groups[2 * w] * 65536 + groups[2 * w + 1];
  return h >>> 0;
}

/** "a:b:c" → 16-bit groups (an embedded IPv4 tail counts as two), or undefined. */
function splitGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p, 0);
      if (v4 < 0) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
      groups.push(parseInt(p, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}
