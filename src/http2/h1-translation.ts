/**
 * An HTTP/2 stream's heads in the HTTP/1.1 shapes the shared pipeline works on: the
 * request head written as HTTP/1.1 bytes for the exchange's parser (`:authority` as
 * Host, cookies joined), the response head with the modules' added lines as fields,
 * and a refused head as text for `show errors`.
 */
import { HeaderList, type H2Stream } from './connection';
import { H_COOKIE } from './head';
import { HDR_STRIDE, H_HOST, type HeadTable } from '../http/head';

const HTTP11 = ' HTTP/1.1\r\n';
const CHUNKED_LINE = 'transfer-encoding: chunked\r\n';

/** Bytes the request head `h` may take as HTTP/1.1 (writeRequestHead's room). */
export function requestHeadRoom(h: H2Stream['head']): number {
  const fields = h.hdr;
  const hasAuthority = h.authorityStart >= 0;
  // Room: the request line, every field as a line, the Host and chunked lines.
  let size = h.methodEnd - h.methodStart + 1 + (h.pathEnd - h.pathStart) + HTTP11.length + 2 + CHUNKED_LINE.length;
  if (hasAuthority) size += 8 + h.authorityEnd - h.authorityStart;
  // Each field as a line (cookies joined: at most the same room plus "cookie: ").
  for (let i = 0; i < h.count; i++) size += fields[i * HDR_STRIDE + 3] - fields[i * HDR_STRIDE] + 4;
  size += 8;
  return size;
}

/** Writes the request head `h` as HTTP/1.1 into `out` (room: requestHeadRoom), with a chunked line when `chunked`; returns its length. */
export function writeRequestHead(h: H2Stream['head'], out: Buffer, chunked: boolean): number {
  const src = h.buf;
  const fields = h.hdr;
  const hasAuthority = h.authorityStart >= 0;
  let w = src.copy(out, 0, h.methodStart, h.methodEnd);
  out[w++] = 32;
  w += src.copy(out, w, h.pathStart, h.pathEnd);
  w += out.write(HTTP11, w, 'latin1');
  // :authority wins over a Host field (RFC 9113 §8.3.1).
  if (hasAuthority) {
    w += out.write('host: ', w, 'latin1');
    w += src.copy(out, w, h.authorityStart, h.authorityEnd);
    out[w++] = 13;
    out[w++] = 10;
  }
  let cookies = 0;
  for (let i = 0; i < h.count; i++) {
    const o = i * HDR_STRIDE;
    const kind = h.kind[i];
    if (kind === H_COOKIE) cookies++;
    if ((kind === H_HOST && hasAuthority) || kind === H_COOKIE) continue;
    w += src.copy(out, w, fields[o], fields[o + 1]);
    out[w++] = 58;
    out[w++] = 32;
    w += src.copy(out, w, fields[o + 2], fields[o + 3]);
    out[w++] = 13;
    out[w++] = 10;
  }
  if (cookies > 0) w = cookieLine(h, out, w);
  if (chunked) w += out.write(CHUNKED_LINE, w, 'latin1');
  out[w++] = 13;
  out[w++] = 10;
  return w;
}

/** The cookie fields as one line, values joined with "; " (RFC 9113 §8.2.3), written at `w`; returns its end. */
function cookieLine(h: H2Stream['head'], out: Buffer, w: number): number {
  w += out.write('cookie: ', w, 'latin1');
  let first = true;
  for (let i = 0; i < h.count; i++) {
    if (h.kind[i] !== H_COOKIE) continue;
    if (!first) {
      out[w++] = 59;
      out[w++] = 32;
    }
    first = false;
    w += h.buf.copy(out, w, h.hdr[i * HDR_STRIDE + 2], h.hdr[i * HDR_STRIDE + 3]);
  }
  out[w++] = 13;
  out[w++] = 10;
  return w;
}


/** The response head with the modules' added lines (`Name: value\r\n` each) as fields. */
export function withExtras(res: HeadTable, extras: string): HeaderList {
  const list = new HeaderList().copyFrom(res);
  let at = 0;
  while (at < extras.length) {
    const eol = extras.indexOf('\r\n', at);
    const colon = extras.indexOf(':', at);
    list.add(extras.slice(at, colon).toLowerCase(), extras.slice(colon + 1, eol).trim());
    at = eol + 2;
  }
  return list;
}

/** What a refused head kept (pseudo-headers that came before the limit, fields), as HTTP/1-style lines for `show errors`. */
export function headText(h: H2Stream['head']): Buffer {
  let text = `${h.method()} ${h.path()} HTTP/2.0\r\n`;
  for (const [name, value] of h.fields()) text += `${name}: ${value}\r\n`;
  return Buffer.from(text, 'latin1');
}
