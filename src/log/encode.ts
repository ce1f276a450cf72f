/**
 * HAProxy's encoding of request and response data in text log lines (src/log.c,
 * lf_encode_string): each byte of the map becomes `#` and two uppercase hex digits,
 * so a client cannot end a quoted field (`"`), start a line (CR, LF), or send terminal
 * controls (ESC, C1 such as 0x9B) to whoever reads the log, and `#` itself is encoded
 * so the result reads back unambiguously. Values are latin1 strings, one char per byte.
 */

const HEX = '0123456789ABCDEF';

function encodingMap(extra: string): Uint8Array {
  const map = new Uint8Array(256);
  for (let c = 0; c < 0x20; c++) map[c] = 1;
  for (let c = 0x7f; c < 256; c++) map[c] = 1;
  for (let i = 0; i < extra.length; i++) map[extra.charCodeAt(i)] = 1;
  return map;
}

/** The request line and its parts (HAProxy's url_encode_map); also fetched samples. */
export const URL_MAP = encodingMap('"#');
/** Captured headers, also the `{a|b}` capture delimiters (HAProxy's hdr_encode_map). */
export const HEADER_MAP = encodingMap('"#{|}');
/** A sample under `+E`: its backslash escaping already protects `"` (as HAProxy writes it). */
export const ESCAPED_SAMPLE_MAP = encodingMap('#');

function hexByte(b: number): string {
  return '#' + HEX[b >> 4] + HEX[b & 15];
}

/** `value` with every byte in `map` encoded; the same string, unscanned twice, when none is. */
export function encodeLogText(value: string, map: Uint8Array): string {
  const n = value.length;
  let i = 0;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || map[c] === 1) break;
  }
  if (i === n) return value;
  let out = '';
  let kept = 0;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0xff) {
      if (map[c] === 0) continue;
      out += value.slice(kept, i) + hexByte(c);
      kept = i + 1;
      continue;
    }
    // Beyond latin1 (a converter's output): the character's UTF-8 bytes, each encoded.
    const cp = value.codePointAt(i)!;
    out += value.slice(kept, i);
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += hexByte(b);
    if (cp > 0xffff) i++;
    kept = i + 1;
  }
  return out + value.slice(kept);
}
