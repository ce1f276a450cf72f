/**
 * The HTTP response cache of one worker (HAProxy's `cache` section, its src/cache.c):
 * entries by key (Host and request target, plus the Vary'd request headers when the
 * response varies), bounded in bytes with least-recently-used eviction.
 *
 * Per worker, not shared: Node's cluster workers share no heap (a SharedArrayBuffer
 * does not cross process boundaries) and a hit must stay a local answer without an
 * IPC round trip. Each worker holds `total-max-size / workers` bytes, so the RAM the
 * cache section names is the RAM the node uses, as with HAProxy's one shared area;
 * a URL is cached once per worker that saw it (documented in README.md).
 *
 * A Map's insertion order is the LRU order: a hit moves its entry to the end, an
 * insertion evicts from the front until the new entry fits.
 */
import type { CacheSettings } from '../../config/model';

/** Request headers a response may vary on (HAProxy's process-vary whitelist). */
const VARY_ACCEPT_ENCODING = 1;
const VARY_REFERER = 2;
const VARY_ORIGIN = 4;
export const VARY_HEADERS: readonly [number, string][] = [
  [VARY_ACCEPT_ENCODING, 'accept-encoding'],
  [VARY_REFERER, 'referer'],
  [VARY_ORIGIN, 'origin'],
];

/** Bytes an entry costs besides its head and body (objects, key): counted so small entries still bound the cache. */
const ENTRY_OVERHEAD = 256;

/** A stored response: its head as HTTP/1 lines without framing, its whole body. */
export class CacheEntry {
  /** Fresh until (epoch ms). */
  readonly expire: number;
  /** Bytes counted against the cache. */
  readonly size: number;
  /** The keep-alive 200 answer built for `msgAge`, reused by the hits of the same second. */
  msg: Buffer | null = null;
  msgAge = -1;

  constructor(
    readonly key: string,
    /** The URL's key (Host and target): every variant of a URL shares it. */
    readonly primary: string,
    /** Status line and header lines (each with CRLF), no Content-Length, no Age, no final CRLF. */
    readonly head: Buffer,
    /** Offset of the first header line in `head`. */
    readonly fieldsAt: number,
    readonly body: Buffer,
    /** When the response was as old as Age 0 (epoch ms): Age is counted from it. */
    readonly bornAt: number,
    lifetimeMs: number,
    /** ETag value as sent (with W/ and quotes), '' when none. */
    readonly etag: string,
    /** Last-Modified (else Date, else the store time), epoch seconds: If-Modified-Since compares with it. */
    readonly lastModified: number,
  ) {
    this.expire = bornAt + lifetimeMs;
    this.size = head.length + body.length + key.length * 2 + ENTRY_OVERHEAD;
  }

  /** Seconds since the response was generated (the Age header's value). */
  age(now: number): number {
    return Math.max(0, Math.floor((now - this.bornAt) / 1000));
  }
}

/** The URL's variants when its response varies: which request headers, and the variants' keys. */
interface Variants {
  signature: number;
  keys: Set<string>;
}

export class CacheStore {
  readonly entries = new Map<string, CacheEntry>();
  private readonly variants = new Map<string, Variants>();
  /** Bytes held. */
  used = 0;

  constructor(
    readonly settings: CacheSettings,
    /** This worker's share of total-max-size. */
    readonly capacity: number,
  ) {}

  /** The Vary signature the URL's stored responses use, 0 when they do not vary (or nothing is stored). */
  signatureOf(primary: string): number {
    const v = this.variants.get(primary);
    return v === undefined ? 0 : v.signature;
  }

  /** The fresh entry under `key`, made the most recently used; an expired one is removed. */
  lookup(key: string, now: number): CacheEntry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expire <= now) {
      this.remove(e);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /**
   * Stores `e` (replacing the entry with its key), evicting the least recently used
   * entries until it fits. False when it cannot: larger than this worker's share, or
   * one variant too many of its URL (max-secondary-entries).
   */
  insert(e: CacheEntry, signature: number): boolean {
    if (e.size > this.capacity) return false;
    const v = this.variants.get(e.primary);
    if (signature === 0) {
      // The URL no longer varies: its variants go.
      if (v !== undefined) this.invalidate(e.primary);
    } else if (v === undefined || v.signature !== signature) {
      this.invalidate(e.primary);
      this.variants.set(e.primary, { signature, keys: new Set() });
    } else if (!v.keys.has(e.key) && v.keys.size >= this.settings.maxSecondaryEntries) return false;
    const old = this.entries.get(e.key);
    if (old !== undefined) this.remove(old);
    while (this.used + e.size > this.capacity) {
      const oldest = this.entries.values().next().value as CacheEntry;
      this.remove(oldest);
    }
    this.entries.set(e.key, e);
    this.used += e.size;
    if (signature !== 0) {
      // Replacing or evicting the URL's last variant above dropped its record.
      let rec = this.variants.get(e.primary);
      if (rec === undefined) this.variants.set(e.primary, (rec = { signature, keys: new Set() }));
      rec.keys.add(e.key);
    }
    return true;
  }

  /** Removes every stored response of the URL (an unsafe method succeeded on it, RFC 9111 4.4). */
  invalidate(primary: string): void {
    const plain = this.entries.get(primary);
    if (plain !== undefined) this.remove(plain);
    const v = this.variants.get(primary);
    if (v === undefined) return;
    for (const k of [...v.keys]) {
      const e = this.entries.get(k);
      if (e !== undefined) this.remove(e);
    }
    this.variants.delete(primary);
  }

  private remove(e: CacheEntry): void {
    this.entries.delete(e.key);
    this.used -= e.size;
    const v = this.variants.get(e.primary);
    if (v !== undefined && v.keys.delete(e.key) && v.keys.size === 0) this.variants.delete(e.primary);
  }
}

/** The worker's caches by name, rebuilt with each config generation (a reload starts new workers, empty). */
let stores = new Map<string, CacheStore>();

/** The caches of the model being built, each given its per-worker share of total-max-size. */
export function useCaches(list: readonly CacheSettings[], workers: number): void {
  stores = new Map(list.map((c) => [c.name, new CacheStore(c, Math.floor(c.totalMaxSize / Math.max(1, workers)))]));
}

export function cacheNamed(name: string): CacheStore {
  const s = stores.get(name);
  if (!s) throw new Error(`no cache named ${name}`);
  return s;
}

/** One entry as `show cache` prints it. */
export interface CacheEntryFacts {
  /** Hash of the URL key. */
  hash: number;
  /** Hash of the Vary'd request values, 0 when the response does not vary. */
  vary: number;
  size: number;
  /** Seconds until it expires. */
  expire: number;
}

export interface CacheFacts {
  name: string;
  capacity: number;
  used: number;
  entries: CacheEntryFacts[];
}

/** FNV-1a of a key: the 32-bit `hash:` `show cache` prints (HAProxy prints its key hash there). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** This worker's caches and their fresh entries, for `show cache`. */
export function cacheFacts(): CacheFacts[] {
  const now = Date.now();
  return [...stores.values()].map((s) => ({
    name: s.settings.name,
    capacity: s.capacity,
    used: s.used,
    entries: [...s.entries.values()]
      .filter((e) => e.expire > now)
      .map((e) => ({ hash: fnv1a(e.primary), vary: e.key === e.primary ? 0 : fnv1a(e.key.slice(e.primary.length)), size: e.size, expire: Math.ceil((e.expire - now) / 1000) })),
  }));
}
