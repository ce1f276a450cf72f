/**
 * Pattern lookups of the match methods (`-m str|beg|end|sub|dir|dom|reg|ip|int|len|bin`),
 * shared by ACL matches and map converters. `buildLookup` compiles a pattern list once
 * into a function giving the index of the pattern a value matches, or -1; when several
 * match it picks what HAProxy's trees and lists pick for maps: the exact string, the
 * longest prefix (beg) or network (ip), else the first in order.
 *
 * str, beg, end, dir, dom, ip and bin look values up in Maps (one lookup per distinct
 * pattern length or prefix length, not per pattern); sub, reg, int and len test the
 * patterns in order, as HAProxy's lists do.
 */
import type { MatchMethod } from '../config/model';

export type Scalar = string | number | boolean;
/** The index of the matched pattern, or -1. */
export type Lookup = (v: Scalar) => number;
export type PatternMethod = Exclude<MatchMethod, 'found' | 'bool'>;

export function buildLookup(method: PatternMethod, patterns: readonly string[], ignoreCase: boolean): Lookup {
  const pats = ignoreCase ? patterns.map((p) => p.toLowerCase()) : patterns;
  switch (method) {
    case 'str': {
      const first = firstIndex(pats);
      return ignoreCase ? (v) => first.get(String(v).toLowerCase()) ?? -1 : (v) => first.get(String(v)) ?? -1;
    }
    case 'beg':
      return affixLookup(pats, ignoreCase, true);
    case 'end':
      return affixLookup(pats, ignoreCase, false);
    case 'dir':
      return wordLookup(pats, ignoreCase, false);
    case 'dom':
      return wordLookup(pats, ignoreCase, true);
    case 'sub':
      return (v) => {
        const s = ignoreCase ? String(v).toLowerCase() : String(v);
        for (let i = 0; i < pats.length; i++) if (s.includes(pats[i])) return i;
        return -1;
      };
    case 'reg': {
      const res = patterns.map((p) => new RegExp(p, ignoreCase ? 'i' : ''));
      return (v) => {
        const s = String(v);
        for (let i = 0; i < res.length; i++) if (res[i].test(s)) return i;
        return -1;
      };
    }
    case 'len':
    case 'int': {
      const tests = patterns.map(intTest);
      const len = method === 'len';
      return (v) => {
        const n = len ? String(v).length : typeof v === 'number' ? v : Number(v);
        for (let i = 0; i < tests.length; i++) if (tests[i](n)) return i;
        return -1;
      };
    }
    case 'ip':
      return ipLookup(patterns);
    case 'bin': {
      // Binary samples are latin1 strings (ssl_c_sha1…); patterns are hex.
      const first = firstIndex(patterns.map((p) => p.toUpperCase()));
      return (v) => first.get(Buffer.from(String(v), 'latin1').toString('hex').toUpperCase()) ?? -1;
    }
  }
}

/** Why `p` is not a pattern of `method`, or undefined when it is. */
export function patternError(method: MatchMethod, p: string): string | undefined {
  switch (method) {
    case 'ip': {
      const n = parseIpPattern(p);
      return typeof n === 'string' ? n : undefined;
    }
    case 'reg':
      try {
        new RegExp(p);
        return undefined;
      } catch (e) {
        return `bad regex "${p}": ${(e as Error).message}`;
      }
    case 'int':
    case 'len':
      return INT_PATTERN.test(p) ? undefined : `"${p}" is not an integer, range (N:M) or operator (lt le gt ge eq N)`;
    case 'bin':
      return /^([0-9A-Fa-f]{2})+$/.test(p) ? undefined : `"${p}" is not a hex string (-m bin)`;
    default:
      return undefined;
  }
}

const INT_PATTERN = /^(?:(?:lt|le|gt|ge|eq)\s+-?\d+|-?\d+|-?\d*:-?\d*)$/;

function firstIndex(keys: readonly string[]): Map<string, number> {
  const first = new Map<string, number>();
  for (let i = 0; i < keys.length; i++) if (!first.has(keys[i])) first.set(keys[i], i);
  return first;
}

function distinctLengths(keys: readonly string[]): number[] {
  return [...new Set(keys.map((k) => k.length))].sort((a, b) => b - a);
}

/** Up to this many patterns, testing each costs less than slicing the value for a lookup (measured). */
const FEW_AFFIXES = 4;

/** beg: the longest matching prefix; end: the first matching suffix in order. */
function affixLookup(pats: readonly string[], ignoreCase: boolean, prefix: boolean): Lookup {
  if (pats.length <= FEW_AFFIXES) {
    // Prefixes longest first (stable), so the first hit is the one to return.
    const order = pats.map((_, i) => i);
    if (prefix) order.sort((a, b) => pats[b].length - pats[a].length);
    const tried = order.map((i) => pats[i]);
    return (v) => {
      const s = ignoreCase ? String(v).toLowerCase() : String(v);
      for (let k = 0; k < tried.length; k++) if (prefix ? s.startsWith(tried[k]) : s.endsWith(tried[k])) return order[k];
      return -1;
    };
  }
  const first = firstIndex(pats);
  const lengths = distinctLengths(pats);
  return (v) => {
    const s = ignoreCase ? String(v).toLowerCase() : String(v);
    let best = -1;
    for (let i = 0; i < lengths.length; i++) {
      const n = lengths[i];
      if (n > s.length) continue;
      const hit = first.get(n === s.length ? s : prefix ? s.slice(0, n) : s.slice(s.length - n));
      if (hit === undefined) continue;
      if (prefix) return hit;
      if (best < 0 || hit < best) best = hit;
    }
    return best;
  };
}

/**
 * dir / dom: the pattern is a run of whole words of the value, delimited by `/` and `?`
 * (dom also `.` and `:`) or the ends; delimiters at the ends of a pattern are ignored,
 * as in HAProxy. Each word start is tried with each distinct pattern length.
 */
function wordLookup(pats: readonly string[], ignoreCase: boolean, dom: boolean): Lookup {
  const isDelim = dom ? (c: number) => c === 47 || c === 63 || c === 46 || c === 58 : (c: number) => c === 47 || c === 63;
  const words = pats.map((p) => {
    let s = 0;
    let e = p.length;
    while (s < e && isDelim(p.charCodeAt(s))) s++;
    while (e > s && isDelim(p.charCodeAt(e - 1))) e--;
    return p.slice(s, e);
  });
  const first = firstIndex(words);
  first.delete('');
  const lengths = distinctLengths(words).filter((n) => n > 0);
  return (v) => {
    const s = ignoreCase ? String(v).toLowerCase() : String(v);
    let best = -1;
    for (let start = 0; start < s.length; ) {
      for (let i = 0; i < lengths.length; i++) {
        const end = start + lengths[i];
        if (end > s.length || (end < s.length && !isDelim(s.charCodeAt(end)))) continue;
        const hit = first.get(s.slice(start, end));
        if (hit !== undefined && (best < 0 || hit < best)) best = hit;
      }
      while (start < s.length && !isDelim(s.charCodeAt(start))) start++;
      start++;
    }
    return best;
  };
}

/** HAProxy integer patterns: `N`, `N:M` (either side may be empty), `lt|le|gt|ge|eq N`. */
function intTest(p: string): (n: number) => boolean {
  const op = /^(lt|le|gt|ge|eq)\s+(-?\d+)$/.exec(p);
  if (op) {
    const k = Number(op[2]);
    switch (op[1]) {
      case 'lt':
        return (n) => n < k;
      case 'le':
        return (n) => n <= k;
      case 'gt':
        return (n) => n > k;
      case 'ge':
        return (n) => n >= k;
      default:
        return (n) => n === k;
    }
  }
  const range = /^(-?\d*):(-?\d*)$/.exec(p);
  if (range) {
    const lo = range[1] === '' ? -Infinity : Number(range[1]);
    const hi = range[2] === '' ? Infinity : Number(range[2]);
    return (n) => n >= lo && n <= hi;
  }
  const k = Number(p);
  return (n) => n === k;
}

// ------------------------------------------------------------------ IP networks

/** A network: IPv4 as a 32-bit number, IPv6 as 16 bytes; `bits` is the prefix length. */
type IpNet = { v4: number; bits: number } | { v6: Uint8Array; bits: number };

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address, both ways, as HAProxy compares them. */
const MAPPED_PREFIX = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/**
 * `a.b.c.d`, `a.b.c.d/n`, `a.b.c.d/m.m.m.m` (a contiguous mask), `v6`, `v6/n`; an
 * IPv4-mapped IPv6 network is its IPv4 network. Returns the error text when invalid.
 */
export function parseIpPattern(p: string): IpNet | string {
  const slash = p.indexOf('/');
  const addr = slash < 0 ? p : p.slice(0, slash);
  const mask = slash < 0 ? undefined : p.slice(slash + 1);
  const v4 = parseIPv4(addr, 0, addr.length);
  if (v4 >= 0) {
    if (mask === undefined) return { v4, bits: 32 };
    let bits = /^\d+$/.test(mask) ? Number(mask) : -1;
    if (bits < 0) {
      const m = parseIPv4(mask, 0, mask.length);
      const ones = m < 0 ? -1 : Math.clz32(~m);
      if (m < 0 || ones !== 32 - countTrailingZeros(m)) return `"${p}": bad netmask "${mask}"`;
      bits = ones;
    }
    if (bits > 32) return `"${p}": prefix length must be 0..32`;
    return { v4: maskV4(v4, bits), bits };
  }
  const v6 = new Uint8Array(16);
  if (!parseIPv6(addr, v6)) return `"${p}" is not an IP address or CIDR`;
  const bits = mask === undefined ? 128 : /^\d+$/.test(mask) ? Number(mask) : -1;
  if (bits < 0 || bits > 128) return `"${p}": prefix length must be 0..128`;
  maskV6(v6, bits);
  if (bits >= 96 && isMapped(v6)) return { v4: v6ToV4(v6), bits: bits - 96 };
  return { v6, bits };
}

function countTrailingZeros(m: number): number {
  return m === 0 ? 32 : 31 - Math.clz32(m & -m);
}

function maskV4(a: number, bits: number): number {
  return bits === 0 ? 0 : (a & (0xffffffff << (32 - bits))) >>> 0;
}

function maskV6(b: Uint8Array, bits: number): void {
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    b[i] &= (0xff00 >> keep) & 0xff;
  }
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (b[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

function v6ToV4(b: Uint8Array): number {
  return ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
}

/** An IPv6 network wider than ::ffff:0:0/96 that holds it holds every IPv4 address. */
function coversMapped(n: { v6: Uint8Array; bits: number }): boolean {
  if (n.bits > 96) return false;
  const mapped = new Uint8Array(16);
  mapped.set(MAPPED_PREFIX);
  maskV6(mapped, n.bits);
  return mapped.every((x, i) => x === n.v6[i]);
}

function v6Key(b: Uint8Array, bits: number): string {
  let key = '';
  for (let i = 0; i * 8 < bits; i++) key += String.fromCharCode(b[i]);
  return key;
}

/** Scratch for parsing sampled addresses (no allocation per lookup). */
const scratch = new Uint8Array(16);

/** The longest network holding the address (HAProxy's tree lookup), first pattern on ties. */
function ipLookup(patterns: readonly string[]): Lookup {
  const v4 = new Map<number, Map<number, number>>();
  const v6 = new Map<number, Map<string, number>>();
  const add4 = (a: number, bits: number, i: number) => {
    let m = v4.get(bits);
    if (!m) v4.set(bits, (m = new Map()));
    if (!m.has(a)) m.set(a, i);
  };
  patterns.forEach((p, i) => {
    const n = parseIpPattern(p);
    if (typeof n === 'string') return; // refused by the config check and the runtime API
    if ('v4' in n) return add4(n.v4, n.bits, i);
    let m = v6.get(n.bits);
    if (!m) v6.set(n.bits, (m = new Map()));
    const key = v6Key(n.v6, n.bits);
    if (!m.has(key)) m.set(key, i);
    if (coversMapped(n)) add4(0, 0, i);
  });
  const v4Bits = [...v4.keys()].sort((a, b) => b - a);
  const v4Maps = v4Bits.map((b) => v4.get(b)!);
  const v6Bits = [...v6.keys()].sort((a, b) => b - a);
  const v6Maps = v6Bits.map((b) => v6.get(b)!);
  return (v) => {
    const s = String(v);
    let a = parseIPv4(s, 0, s.length);
    if (a < 0) {
      if (!parseIPv6(s, scratch)) return -1;
      if (!isMapped(scratch)) {
        for (let i = 0; i < v6Bits.length; i++) {
          const hit = v6Maps[i].get(v6Key(maskedScratch(v6Bits[i]), v6Bits[i]));
          if (hit !== undefined) return hit;
        }
        return -1;
      }
      a = v6ToV4(scratch);
    }
    for (let i = 0; i < v4Bits.length; i++) {
      const hit = v4Maps[i].get(maskV4(a, v4Bits[i]));
      if (hit !== undefined) return hit;
    }
    return -1;
  };
}

const maskedBuf = new Uint8Array(16);
function maskedScratch(bits: number): Uint8Array {
  maskedBuf.set(scratch);
  maskV6(maskedBuf, bits);
  return maskedBuf;
}

/** Dotted quad in s[from, to) as an unsigned 32-bit number, or -1. */
function parseIPv4(s: string, from: number, to: number): number {
  let a = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      a = a * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return a * 256 + part;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text (with `::` and a dotted IPv4 tail) into 16 bytes; false when invalid. */
function parseIPv6(s: string, out: Uint8Array): boolean {
  const n = s.length;
  let groups = 0;
  let gap = -1;
  let i = 0;
  if (n < 2) return false;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (groups === 8) return false;
    let j = i;
    let val = 0;
    while (j < n && j - i < 5) {
      const h = hexDigit(s.charCodeAt(j));
      if (h < 0) break;
      val = val * 16 + h;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      // a dotted IPv4 tail takes the last two groups
      const a = parseIPv4(s, i, n);
      if (a < 0 || groups > 6) return false;
      out[groups * 2] = a >>> 24;
      out[groups * 2 + 1] = (a >>> 16) & 0xff;
      out[groups * 2 + 2] = (a >>> 8) & 0xff;
      out[groups * 2 + 3] = a & 0xff;
      groups += 2;
      break;
    }
    if (j === i || j - i > 4) return false;
    out[groups * 2] = val >> 8;
    out[groups * 2 + 1] = val & 0xff;
    groups++;
    if (j === n) break;
    if (s.charCodeAt(j) !== 58 || j + 1 === n) return false;
    j++;
    if (s.charCodeAt(j) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      j++;
    }
    i = j;
  }
  if (gap < 0) return groups === 8;
  if (groups === 8) return false;
  // Move the groups after `::` to the end and zero the gap.
  const after = groups - gap;
  for (let k = after - 1; k >= 0; k--) {
    out[(8 - after + k) * 2] = out[(gap + k) * 2];
    out[(8 - after + k) * 2 + 1] = out[(gap + k) * 2 + 1];
  }
  out.fill(0, gap * 2, (8 - after) * 2);
  return true;
}
