/**
 * HTTP response compression (HAProxy's `compression algo|type|offload|minsize-res`,
 * its rules from src/flt_http_comp.c): the coding is chosen from the request's
 * Accept-Encoding before it goes to the server (q-values; the first configured algo
 * wins between equal ones; `*` means the first algo; q=0 refuses), then the response
 * is compressed unless: the request is HEAD or HTTP/1.0, the response is HTTP/1.0,
 * not 200..203, bodyless (1xx/204/304, Content-Length 0) or delimited by the close,
 * shorter than `min_size` (Content-Length), already has a Content-Encoding, says
 * `Cache-Control: no-transform`, has a malformed or several ETags, is multipart, or
 * its Content-Type is not one of `types`. A compressed response gets Content-Encoding,
 * `Vary: Accept-Encoding` (unless Vary names it), a weak ETag, and loses
 * Content-Length: the client side frames it (HTTP/1.1 chunked, HTTP/2 DATA). The body
 * streams through ../stateless-deflate.ts (gzip, deflate) or ../compressor.ts (br, zstd).
 *
 * A backend's compression settings replace its frontend's (both modules run; the
 * frontend's stands aside for a backend that has its own). tslb's own answers are not
 * compressed. HAProxy's maxcomprate and maxcompcpuusage: ../compression-limits.ts (br
 * and zstd, node:zlib streams, keep their level within a response). Not done: HAProxy's
 * old-MSIE User-Agent exception.
 */
import type { Compression, CompressionAlgo } from '../../config/model';
import type { HttpExchange } from '../exchange';
import { eqLower, HDR_STRIDE, type HeadTable } from '../head';
import { BODY_CHUNKED, BODY_LENGTH } from '../../http1/body';
import { CODING, Compressor } from '../compressor';
import { StatelessDeflate } from '../stateless-deflate';
import { compressionAllowed } from '../compression-limits';
import { CONTINUE, type HttpModule, type ModuleDefinition } from '../pipeline';

/** The coding chosen for a request, by the module (proxy) that chose it. */
export interface CompressionChoice {
  readonly module: CompressionModule;
  readonly algo: CompressionAlgo;
}

class CompressionModule implements HttpModule {
  /** One choice per algorithm, made once: a request only points at one. */
  private readonly choices: CompressionChoice[];

  constructor(
    private readonly settings: Compression,
    /** The frontend's module stands aside for backends with compression settings of their own. */
    private readonly frontend: boolean,
  ) {
    this.choices = settings.algos.map((algo) => ({ module: this, algo }));
  }

  upstreamRequest(ex: HttpExchange): number {
    if (this.frontend && ex.backend!.config.compression !== undefined) return CONTINUE;
    if (ex.req.versionMinor === 0) return CONTINUE;
    const i = chooseAlgo(ex.req, this.settings.algos);
    if (i < 0) return CONTINUE;
    ex.compression = this.choices[i];
    if (this.settings.offload) ex.req.dropNamed('accept-encoding');
    return CONTINUE;
  }

  response(ex: HttpExchange): number {
    const choice = ex.compression;
    if (choice === undefined || choice.module !== this || !compressible(ex, this.settings) || !compressionAllowed()) return CONTINUE;
    const res = ex.res;
    const etag = res.find('etag');
    const sizeHint = ex.resBody.mode === BODY_LENGTH ? res.contentLength : -1;
    const level = this.settings.level;
    const algo = choice.algo;
    const transform = algo === 'br' || algo === 'zstd' ? new Compressor(ex, algo, level, sizeHint) : new StatelessDeflate(ex, algo, level);
    if (!ex.transformBody(transform)) return CONTINUE;
    // A strong validator no longer matches the bytes sent (RFC 9110 §8.8.1).
    if (etag >= 0 && res.buf[res.hdr[etag * HDR_STRIDE + 2]] === 0x22) {
      const value = res.value(etag);
      res.dropAt(etag);
      ex.addResponseHeader('ETag', 'W/' + value);
    }
    if (!varies(res)) ex.addResponseHeader('Vary', 'Accept-Encoding');
    ex.addResponseHeader('Content-Encoding', CODING[choice.algo]);
    ex.fe.counters.compRsp++;
    ex.backend!.counters.compRsp++;
    return CONTINUE;
  }
}

/**
 * The index in `algos` of the coding the request's Accept-Encoding prefers, -1 when
 * none is acceptable (HAProxy's select_compression_request_header).
 */
function chooseAlgo(req: HeadTable, algos: readonly CompressionAlgo[]): number {
  let best = -1;
  let bestQ = 0;
  for (let h = req.find('accept-encoding'); h >= 0; h = req.find('accept-encoding', h + 1)) {
    for (const element of req.value(h).split(',')) {
      const semi = element.indexOf(';');
      const token = (semi < 0 ? element : element.slice(0, semi)).trim().toLowerCase();
      if (!token) continue;
      const q = semi < 0 ? 1000 : qValue(element.slice(semi + 1));
      if (q <= bestQ) continue;
      const i = token === '*' ? 0 : algos.findIndex((a) => CODING[a] === token);
      if (i >= 0) {
        best = i;
        bestQ = q;
      }
    }
  }
  return best;
}

/** The q parameter of an Accept-Encoding element's parameters, in thousandths (1000 when absent or malformed: as given). */
function qValue(params: string): number {
  for (const p of params.split(';')) {
    const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
    if (m) return Math.min(1000, Math.round(Number(m[1]) * 1000));
  }
  return 1000;
}

/** HAProxy's select_compression_response_header conditions. */
function compressible(ex: HttpExchange, s: Compression): boolean {
  const res = ex.res;
  const status = res.status;
  if (ex.isHead || status < 200 || status > 203 || res.versionMinor === 0) return false;
  const mode = ex.resBody.mode;
  if (mode !== BODY_CHUNKED && mode !== BODY_LENGTH) return false;
  if (mode === BODY_LENGTH && (res.contentLength === 0 || res.contentLength < s.minSize)) return false;
  if (res.find('content-encoding') >= 0) return false;
  for (let h = res.find('cache-control'); h >= 0; h = res.find('cache-control', h + 1)) {
    if (/(^|[\s,])no-transform([\s,=]|$)/i.test(res.value(h))) return false;
  }
  const etag = res.find('etag');
  if (etag >= 0 && (!/^(W\/)?"[^"]*"$/.test(res.value(etag)) || res.find('etag', etag + 1) >= 0)) return false;
  const ct = res.find('content-type');
  if (ct < 0) return s.types.length === 0;
  const o = ct * HDR_STRIDE;
  const start = res.hdr[o + 2];
  const end = res.hdr[o + 3];
  if (end - start >= 9 && eqLower(res.buf, start, start + 9, 'multipart')) return false;
  if (s.types.length === 0) return true;
  for (const t of s.types) if (end - start >= t.length && eqLower(res.buf, start, start + t.length, t)) return true;
  return false;
}

/** A Vary line of the response names Accept-Encoding already. */
function varies(res: HeadTable): boolean {
  for (let h = res.find('vary'); h >= 0; h = res.find('vary', h + 1)) {
    for (const v of res.value(h).split(',')) if (v.trim().toLowerCase() === 'accept-encoding') return true;
  }
  return false;
}

export const compression: ModuleDefinition = {
  name: 'compression',
  create(scope) {
    const settings = scope.config.compression;
    return settings ? new CompressionModule(settings, scope.kind === 'frontend') : null;
  },
};
