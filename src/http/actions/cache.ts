/**
 * `http-request cache-use NAME` and `http-response cache-store NAME` (HAProxy's
 * src/cache.c actions). cache-use computes the request's cache key (Host and target,
 * for every method: a successful unsafe method invalidates the URL) and, for a GET or
 * HEAD the cache may answer, looks the object up: a hit is answered by tslb itself
 * (200 with the stored head and body and an `Age`, or 304 when the request's
 * validators match) and never reaches a server. cache-store starts storing the
 * response when its head says it may be stored; src/http/modules/cache.ts feeds it the
 * body. Lookups and hits are counted on the proxy whose rule ran (HAProxy's
 * cache_lookups / cache_hits).
 */
import type { HttpAction } from '../../config/model';
import { BODY_CHUNKED, BODY_LENGTH } from '../../http1/body';
import { eqLower, type HeadTable } from '../head';
import type { HttpExchange } from '../exchange';
import { CONTINUE } from '../pipeline';
import { bypassesCache, freshness, notModified, secondaryKey, varySignature } from '../cache/policy';
import { cacheNamed, type CacheEntry, type CacheStore } from '../cache/store';
import { CacheWrite } from '../cache/write';
import type { RuleAction } from '.';

const M_OTHER = 0;
const M_GET = 1;
const M_HEAD = 2;
/** Methods whose success leaves a stored response valid (RFC 9111 4.4). */
const SAFE = ['get', 'head', 'options', 'trace'];

function methodOf(req: HeadTable): number {
  if (eqLower(req.buf, req.start, req.methodEnd, 'get') && req.buf[req.start] === 71) return M_GET;
  if (eqLower(req.buf, req.start, req.methodEnd, 'head') && req.buf[req.start] === 72) return M_HEAD;
  return M_OTHER;
}

/** The URL's key: Host, then the request target as received. */
function urlKey(req: HeadTable): string {
  const host = req.host >= 0 ? req.value(req.host) : '';
  return host + ' ' + req.buf.toString('latin1', req.targetStart, req.targetEnd);
}

const NOT_MODIFIED_LINE = Buffer.from('HTTP/1.1 304 Not Modified\r\n', 'latin1');

/** The answer for a hit: 200 with the body (none for HEAD), or 304 with the stored fields. */
function hitMessage(e: CacheEntry, age: number, close: boolean, bodyless: boolean, is304: boolean): Buffer {
  const plain = !close && !bodyless && !is304;
  if (plain && e.msgAge === age) return e.msg!;
  const tail = Buffer.from(`Age: ${age}\r\n${is304 ? '' : `Content-Length: ${e.body.length}\r\n`}${close ? 'Connection: close\r\n' : ''}\r\n`, 'latin1');
  const msg = is304
    ? Buffer.concat([NOT_MODIFIED_LINE, e.head.subarray(e.fieldsAt), tail])
    : bodyless
      ? Buffer.concat([e.head, tail])
      : Buffer.concat([e.head, tail, e.body]);
  if (plain) {
    e.msg = msg;
    e.msgAge = age;
  }
  return msg;
}

function useCache(store: CacheStore, ex: HttpExchange): number {
  const req = ex.req;
  const primary = urlKey(req);
  ex.cacheKey = primary;
  const method = methodOf(req);
  // HAProxy: only GET and HEAD of HTTP/1.1 and later are answered from the cache.
  if (method === M_OTHER || req.versionMinor === 0 || bypassesCache(req)) return CONTINUE;
  const counters = ex.backend !== null ? ex.backend.counters : ex.fe.counters;
  counters.cacheLookups++;
  const signature = store.signatureOf(primary);
  const now = Date.now();
  const e = store.lookup(signature === 0 ? primary : primary + '\0' + secondaryKey(req, signature), now);
  if (e === undefined) return CONTINUE;
  counters.cacheHits++;
  const is304 = notModified(req, e.etag, e.lastModified);
  const close = ex.localCloses();
  ex.tx.fromCache = true;
  return ex.answerWith(is304 ? 304 : 200, hitMessage(e, e.age(now), close, method === M_HEAD, is304), close, '--');
}

function storeResponse(store: CacheStore, ex: HttpExchange): number {
  const primary = ex.cacheKey;
  // The key is computed by cache-use: without it nothing is stored (as HAProxy).
  if (primary === undefined || ex.cacheWrite !== undefined) return CONTINUE;
  const req = ex.req;
  const res = ex.res;
  const method = methodOf(req);
  if (method !== M_GET) {
    if (res.status >= 200 && res.status < 400 && method === M_OTHER && !SAFE.includes(ex.ctx.method().toLowerCase())) store.invalidate(primary);
    return CONTINUE;
  }
  const mode = ex.resBody.mode;
  if (res.status !== 200 || req.versionMinor === 0 || (mode !== BODY_LENGTH && mode !== BODY_CHUNKED)) return CONTINUE;
  const settings = store.settings;
  // As HAProxy: the head counts with the body (a chunked body is checked as it arrives, ../cache/write.ts).
  if (mode === BODY_LENGTH && res.end - res.start + res.contentLength > settings.maxObjectSize) return CONTINUE;
  const signature = varySignature(res, settings.processVary);
  if (signature < 0) return CONTINUE;
  const now = Date.now();
  const fresh = freshness(req, res, settings, Math.floor(now / 1000));
  if (fresh === null) return CONTINUE;
  const key = signature === 0 ? primary : primary + '\0' + secondaryKey(req, signature);
  const w = new CacheWrite(store, key, primary, signature, res, ex.resExtras, fresh, mode === BODY_CHUNKED, now);
  if (ex.resBody.done) w.commit();
  else ex.cacheWrite = w;
  return CONTINUE;
}

export function cacheUseAction(act: Extract<HttpAction, { action: 'cache-use' }>): RuleAction {
  const store = cacheNamed(act.cache);
  return (ex) => useCache(store, ex);
}

export function cacheStoreAction(act: Extract<HttpAction, { action: 'cache-store' }>): RuleAction {
  const store = cacheNamed(act.cache);
  return (ex) => storeResponse(store, ex);
}
