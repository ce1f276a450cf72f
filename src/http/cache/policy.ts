/**
 * What may be served from and stored in the cache (RFC 9111, as HAProxy's
 * http_check_request_for_cacheability / http_check_response_for_cacheability /
 * http_calc_maxage), read from the parsed heads. The lookup checks run on every
 * request a cache-use rule sees: they scan the header table without making strings
 * unless the header is there.
 */
import type { CacheSettings } from '../../config/model';
import type { HeadTable } from '../head';
import { VARY_HEADERS } from './store';

/** The comma-separated items of every `name` header, trimmed (and lower-cased unless `lower` is false). */
function directives(h: HeadTable, name: string, lower = true): string[] {
  const out: string[] = [];
  for (let i = h.find(name); i >= 0; i = h.find(name, i + 1)) {
    if (h.drop[i]) continue;
    for (const d of h.value(i).split(',')) {
      const t = lower ? d.trim().toLowerCase() : d.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** `name=N` (N possibly quoted) among `dirs`: N, -1 when absent, NaN when not a number. */
function numericDirective(dirs: readonly string[], name: string): number {
  for (const d of dirs) {
    if (!d.startsWith(name + '=')) continue;
    const v = d.slice(name.length + 1).replace(/^"(.*)"$/, '$1');
    return /^\d+$/.test(v) ? Number(v) : NaN;
  }
  return -1;
}

/**
 * The request asks to bypass the cache (HAProxy's TX_CACHE_IGNORE): Cache-Control
 * no-cache, max-age, max-stale or min-fresh (HAProxy does not evaluate the values),
 * or Pragma: no-cache without Cache-Control.
 */
export function bypassesCache(req: HeadTable): boolean {
  if (req.find('cache-control') >= 0) {
    for (const d of directives(req, 'cache-control')) {
      if (d.startsWith('no-cache') || d.startsWith('max-age') || d.startsWith('max-stale') || d.startsWith('min-fresh')) return true;
    }
    return false;
  }
  return req.find('pragma') >= 0 && directives(req, 'pragma').includes('no-cache');
}

/** An HTTP date (IMF-fixdate and the obsolete forms Date.parse reads) in epoch seconds, NaN when invalid. */
export function httpDate(v: string): number {
  return Math.floor(Date.parse(v) / 1000);
}

export interface Freshness {
  /** How long the response stays fresh from its generation, in seconds (the cache's max-age at most). */
  lifetime: number;
  /** The response's Age on arrival, seconds. */
  age: number;
}

/**
 * The freshness of a 200 response to a GET, or null when it must not be stored:
 * Pragma no-cache; Cache-Control private, no-cache, no-store (request or response),
 * max-age=0 without s-maxage, s-maxage=0; a request with Authorization unless the
 * response says public, s-maxage or must-revalidate (RFC 9111 3.5); Set-Cookie without
 * public; neither an expiry (s-maxage, max-age, Expires) nor a validator (ETag,
 * Last-Modified); an Age at or past its lifetime.
 */
export function freshness(req: HeadTable, res: HeadTable, settings: CacheSettings, nowSec: number): Freshness | null {
  if (directives(req, 'cache-control').some((d) => d.startsWith('no-store'))) return null;
  if (directives(res, 'pragma').includes('no-cache')) return null;
  const cc = directives(res, 'cache-control');
  let isPublic = false;
  let mustRevalidate = false;
  for (const d of cc) {
    if (d === 'public') isPublic = true;
    else if (d === 'must-revalidate') mustRevalidate = true;
    else if (d === 'private' || d.startsWith('private=') || d === 'no-cache' || d.startsWith('no-cache=') || d === 'no-store') return null;
  }
  const sMaxAge = numericDirective(cc, 's-maxage');
  const maxAge = numericDirective(cc, 'max-age');
  if (Number.isNaN(sMaxAge) || Number.isNaN(maxAge)) return null;
  if (req.find('authorization') >= 0 && !isPublic && sMaxAge < 0 && !mustRevalidate) return null;
  if (!isPublic && res.find('set-cookie') >= 0) return null;
  let lifetime: number;
  if (sMaxAge >= 0) lifetime = sMaxAge;
  else if (maxAge >= 0) lifetime = maxAge;
  else if (res.find('expires') >= 0) {
    const at = httpDate(res.value(res.find('expires')));
    // An invalid Expires is a date in the past (RFC 9111 5.3).
    lifetime = Number.isNaN(at) ? 0 : at - nowSec;
  } else if (res.find('etag') >= 0 || res.find('last-modified') >= 0) lifetime = settings.maxAge;
  else return null;
  lifetime = Math.min(lifetime, settings.maxAge);
  let age = 0;
  const ageAt = res.find('age');
  if (ageAt >= 0) {
    const v = res.value(ageAt);
    if (!/^\d+$/.test(v)) return null;
    age = Number(v);
  }
  return lifetime > 0 && age < lifetime ? { lifetime, age } : null;
}

/**
 * The response's Vary as a signature of whitelisted request headers (store.ts VARY_*):
 * 0 without Vary, -1 when it names another header or `*` (not stored), as HAProxy's
 * process-vary; any Vary is -1 when process-vary is off.
 */
export function varySignature(res: HeadTable, processVary: boolean): number {
  if (res.find('vary') < 0) return 0;
  if (!processVary) return -1;
  let sig = 0;
  for (const d of directives(res, 'vary')) {
    const known = VARY_HEADERS.find(([, name]) => name === d);
    if (!known) return -1;
    sig |= known[0];
  }
  return sig;
}

/**
 * The request's values of the headers in `signature`, normalised (accept-encoding:
 * codings without q=0, parameters dropped, sorted), as the secondary key.
 */
export function secondaryKey(req: HeadTable, signature: number): string {
  let key = '';
  for (const [bit, name] of VARY_HEADERS) {
    if (!(signature & bit)) continue;
    const items = directives(req, name);
    key +=
      (bit === VARY_HEADERS[0][0]
        ? items
            .filter((d) => !/;\s*q=0(\.0*)?$/.test(d))
            .map((d) => d.split(';')[0].trim())
            .sort()
            .join(',')
        : items.join(',')) + '\n';
  }
  return key;
}

/** RFC 9110 13.1.2 weak comparison: the opaque tags equal, W/ ignored. */
function weakEqual(a: string, b: string): boolean {
  return (a.startsWith('W/') ? a.slice(2) : a) === (b.startsWith('W/') ? b.slice(2) : b);
}

/**
 * The conditional request is satisfied by the stored response (answer 304): an
 * If-None-Match tag (or `*`) matches its ETag; else, without If-None-Match, its
 * Last-Modified is not after If-Modified-Since (HAProxy's should_send_notmodified_response).
 */
export function notModified(req: HeadTable, etag: string, lastModified: number): boolean {
  if (req.find('if-none-match') >= 0) {
    for (const tag of directives(req, 'if-none-match', false)) {
      if (tag === '*' || (etag !== '' && weakEqual(tag, etag))) return true;
    }
    return false;
  }
  const ims = req.find('if-modified-since');
  if (ims < 0) return false;
  const at = httpDate(req.value(ims));
  return !Number.isNaN(at) && lastModified <= at;
}
