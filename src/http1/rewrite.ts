/**
 * Head rewriting without re-serialising: the first line and every kept header
 * line are copied as received (runs of consecutive kept lines in one copy),
 * followed by the added lines and the final CRLF.
 */
import { HDR_STRIDE, type HeadTable } from '../http/head';

/** Length of the rewritten head. */
function outputLength(p: HeadTable, extras: string): number {
  let len = p.firstLineEnd - p.start + extras.length + 2;
  const h = p.hdr;
  for (let n = 0; n < p.count; n++) if (!p.drop[n]) len += h[n * HDR_STRIDE + 4] - h[n * HDR_STRIDE];
  return len;
}

/** The rewritten head in one new Buffer (request heads; responses that grow). */
export function buildHead(p: HeadTable, extras: string): Buffer {
  const src = p.buf;
  const out = Buffer.allocUnsafe(outputLength(p, extras));
  const h = p.hdr;
  // The first line and the kept lines right after it are one copy (usually the whole head).
  let n = 0;
  while (n < p.count && !p.drop[n]) n++;
  let w = src.copy(out, 0, p.start, n > 0 ? h[(n - 1) * HDR_STRIDE + 4] : p.firstLineEnd);
  while (n < p.count) {
    if (p.drop[n]) {
      n++;
      continue;
    }
    const runStart = h[n * HDR_STRIDE];
    while (n < p.count && !p.drop[n]) n++;
    w += src.copy(out, w, runStart, h[(n - 1) * HDR_STRIDE + 4]);
  }
  w += out.write(extras, w, 'latin1');
  out[w] = 13;
  out[w + 1] = 10;
  return out;
}

/**
 * Rewrites the head inside its own buffer, right-aligned so it still ends where
 * the body starts (head and body go out in one write). Order: first line, added
 * lines, kept headers. Returns the new start offset, or -1 when the result would
 * not fit (the caller then uses buildHead).
 */
export function rewriteHeadInPlace(p: HeadTable, extras: string): number {
  if (p.dropCount === 0 && extras.length === 0) return p.start;
  if (outputLength(p, extras) > p.end - p.start) return -1;
  const buf = p.buf;
  const h = p.hdr;
  // Move kept runs right, last first: every destination is at or right of its source.
  let w = p.end - 2;
  let n = p.count - 1;
  while (n >= 0) {
    if (p.drop[n]) {
      n--;
      continue;
    }
    const runEnd = h[n * HDR_STRIDE + 4];
    while (n >= 0 && !p.drop[n]) n--;
    const runStart = h[(n + 1) * HDR_STRIDE];
    w -= runEnd - runStart;
    if (w !== runStart) buf.copyWithin(w, runStart, runEnd);
  }
  const extrasAt = w - extras.length;
  const firstLen = p.firstLineEnd - p.start;
  const newStart = extrasAt - firstLen;
  if (newStart !== p.start) buf.copyWithin(newStart, p.start, p.firstLineEnd);
  if (extras.length) buf.write(extras, extrasAt, 'latin1');
  return newStart;
}
