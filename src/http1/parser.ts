/**
 * Strict single-pass HTTP/1.x head parser (request and response) working on the
 * received bytes: it records offsets, never strings, so the proxy can copy or
 * rewrite the head without re-serialising it.
 *
 * Strictness (RFC 9112), each a rejection, never a repair: tokens for method and
 * header names, no whitespace before the colon, no obs-fold, CRLF only (a bare LF
 * or CR is an error), no CTL/NUL in values, Content-Length digits only and at most
 * once, Content-Length together with Transfer-Encoding, Transfer-Encoding whose
 * final coding is not `chunked` (request), more than one Host, no Host on 1.1, an
 * absolute-form target whose authority is not the Host value (the scheme's default port aside).
 */

import { eqLower, H_CONNECTION, H_CONTENT_LENGTH, H_EXPECT, H_HOST, H_KEEP_ALIVE, H_OTHER, H_PROXY_CONNECTION, H_TE, H_TRAILER, H_TRANSFER_ENCODING, H_UPGRADE, H_X_FORWARDED_HOST, H_X_FORWARDED_PROTO, HDR_STRIDE, HeadTable, MAX_HEADERS } from '../http/head';

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const COMMA = 44;
const SLASH = 47;
const QUESTION = 63;
const HASH = 35;
const AT = 64;

/** RFC 9110 tchar. */
export const TCHAR = new Uint8Array(256);
/** field-vchar / obs-text plus SP and HTAB: what a header value may contain. */
export const FIELD = new Uint8Array(256);
/** Request-target bytes: visible ASCII. */
const TARGET = new Uint8Array(256);
/** URI scheme bytes (RFC 3986 §3.1, the first one is checked apart). */
const SCHEME = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const isAlnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  TCHAR[c] = isAlnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)) ? 1 : 0;
  FIELD[c] = (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c === SP || c === HTAB ? 1 : 0;
  TARGET[c] = c >= 0x21 && c <= 0x7e ? 1 : 0;
  SCHEME[c] = isAlnum || c === 43 || c === 45 || c === 46 ? 1 : 0;
}

/**
 * Methods refused although they are tokens: RTSP/ICE methods (not HTTP, as llhttp
 * decides) and PRI (the HTTP/2 connection preface, never an HTTP/1 request).
 */
const REFUSED_METHODS = new Set([
  'ANNOUNCE', 'DESCRIBE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER',
  'REDIRECT', 'RECORD', 'FLUSH', 'PRI',
]);

function lowerAscii(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

/** End of `buf[s..e)` without a trailing `port` (':80' or ':443'; '' keeps it). */
function withoutPort(buf: Buffer, s: number, e: number, port: string): number {
  const n = port.length;
  if (n === 0 || e - s <= n) return e;
  for (let k = 0; k < n; k++) if (buf[e - n + k] !== port.charCodeAt(k)) return e;
  return e - n;
}

/** Kind of a header name (any case): the H_* constants of src/http/head.ts, H_OTHER for the rest. */
export function classify(buf: Buffer, s: number, e: number): number {
  switch (e - s) {
    case 2:
      return eqLower(buf, s, e, 'te') ? H_TE : H_OTHER;
    case 4:
      return eqLower(buf, s, e, 'host') ? H_HOST : H_OTHER;
    case 6:
      return eqLower(buf, s, e, 'expect') ? H_EXPECT : H_OTHER;
    case 7:
      if (eqLower(buf, s, e, 'upgrade')) return H_UPGRADE;
      return eqLower(buf, s, e, 'trailer') ? H_TRAILER : H_OTHER;
    case 10:
      if (eqLower(buf, s, e, 'connection')) return H_CONNECTION;
      return eqLower(buf, s, e, 'keep-alive') ? H_KEEP_ALIVE : H_OTHER;
    case 14:
      return eqLower(buf, s, e, 'content-length') ? H_CONTENT_LENGTH : H_OTHER;
    case 16:
      if (eqLower(buf, s, e, 'proxy-connection')) return H_PROXY_CONNECTION;
      return eqLower(buf, s, e, 'x-forwarded-host') ? H_X_FORWARDED_HOST : H_OTHER;
    case 17:
      if (eqLower(buf, s, e, 'transfer-encoding')) return H_TRANSFER_ENCODING;
      return eqLower(buf, s, e, 'x-forwarded-proto') ? H_X_FORWARDED_PROTO : H_OTHER;
    default:
      return H_OTHER;
  }
}

/**
 * The HTTP/1 filler of a HeadTable (../http/head.ts): one parser per direction per
 * exchange, reused for every message.
 * `parse()` returns the offset just after the head's final CRLF, 0 when the head
 * is incomplete, or -1 on error (`errorStatus`/`errorReason` say why).
 */
export class HeadParser extends HeadTable {
  /** Transfer-Encoding present without `chunked` as final coding (response: close-delimited). */
  teNotChunked = false;
  /** A coding other than `chunked` in any Transfer-Encoding line so far. */
  private teOther = false;
  /** `chunked` in any Transfer-Encoding line so far (where it stands is `chunked`). */
  private teSawChunked = false;
  connClose = false;
  connKeepAlive = false;
  connUpgrade = false;
  hasUpgrade = false;
  hasHost = false;
  expectContinue = false;
  errorStatus = 400;
  errorReason = '';
  /** Connection-listed header names as [start, end) pairs into buf. */
  private readonly listed: number[] = [];

  constructor(readonly isRequest: boolean) {
    super();
  }

  private fail(status: number, reason: string): number {
    this.errorStatus = this.isRequest ? status : 502;
    this.errorReason = reason;
    return -1;
  }

  parse(buf: Buffer, start: number, end: number): number {
    this.buf = buf;
    this.start = start;
    this.count = 0;
    this.dropCount = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.teNotChunked = false;
    this.teOther = false;
    this.teSawChunked = false;
    this.connClose = false;
    this.connKeepAlive = false;
    this.connUpgrade = false;
    this.hasUpgrade = false;
    this.hasHost = false;
    this.host = -1;
    this.expectContinue = false;
    // Setting an array's length goes through the runtime even when it is already 0.
    if (this.listed.length) this.listed.length = 0;
    let i = start;
    // RFC 9112 §2.2: empty lines before a start line are ignored (they follow a previous message).
    while (i + 1 < end && buf[i] === CR && buf[i + 1] === LF) i += 2;
    this.start = start = i;
    if (this.isRequest) {
      i = this.parseRequestLine(buf, i, end);
    } else {
      i = this.parseStatusLine(buf, i, end);
    }
    if (i <= 0) return i;
    this.firstLineEnd = i;
    let h = this.hdr;
    let teIndex = -1;
    for (;;) {
      if (i >= end) return 0;
      let c = buf[i];
      if (c === CR) {
        if (i + 1 >= end) return 0;
        if (buf[i + 1] !== LF) return this.fail(400, 'CR without LF');
        i += 2;
        break;
      }
      if (c === LF) return this.fail(400, 'bare LF');
      if (c === SP || c === HTAB) return this.fail(400, 'obs-fold');
      const nameStart = i;
      while (i < end && TCHAR[buf[i]]) i++;
      if (i >= end) return 0;
      if (buf[i] !== COLON) return this.fail(400, buf[i] === SP || buf[i] === HTAB ? 'whitespace before colon' : 'invalid header name');
      if (i === nameStart) return this.fail(400, 'empty header name');
      const nameEnd = i++;
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
      const valueStart = i;
      while (i < end && FIELD[(c = buf[i])]) i++;
      if (i >= end) return 0;
      if (c !== CR) return this.fail(400, c === LF ? 'bare LF' : 'invalid character in header value');
      if (i + 1 >= end) return 0;
      if (buf[i + 1] !== LF) return this.fail(400, 'CR without LF');
      let valueEnd = i;
      while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
      i += 2;
      if (this.count >= MAX_HEADERS) return this.fail(431, 'too many headers');
      const n = this.count++;
      if (n >= this.slots) {
        this.grow(n);
        h = this.hdr;
      }
      const o = n * HDR_STRIDE;
      h[o] = nameStart;
      h[o + 1] = nameEnd;
      h[o + 2] = valueStart;
      h[o + 3] = valueEnd;
      h[o + 4] = i;
      const k = classify(buf, nameStart, nameEnd);
      this.kind[n] = k;
      this.drop[n] = 0;
      switch (k) {
        case H_CONTENT_LENGTH:
          if (this.contentLength >= 0) return this.fail(400, 'duplicate Content-Length');
          if (valueEnd === valueStart || valueEnd - valueStart > 15) return this.fail(400, 'invalid Content-Length');
          {
            let v = 0;
            for (let j = valueStart; j < valueEnd; j++) {
              const d = buf[j] - 48;
              if (d < 0 || d > 9) return this.fail(400, 'invalid Content-Length');
              v = v * 10 + d;
            }
            this.contentLength = v;
          }
          break;
        case H_TRANSFER_ENCODING:
          teIndex = n;
          if (!this.scanTransferEncoding(buf, valueStart, valueEnd)) return -1;
          break;
        case H_CONNECTION:
          this.scanConnection(buf, valueStart, valueEnd);
          this.hopByHop(n);
          break;
        case H_KEEP_ALIVE:
        case H_PROXY_CONNECTION:
        case H_TRAILER:
          this.hopByHop(n);
          break;
        case H_TE:
          // Only `TE: trailers` means something end to end.
          if (!eqLower(buf, valueStart, valueEnd, 'trailers')) this.hopByHop(n);
          break;
        case H_UPGRADE:
          this.hasUpgrade = true;
          break;
        case H_HOST:
          if (this.isRequest && this.hasHost) return this.fail(400, 'duplicate Host');
          this.hasHost = true;
          this.host = n;
          break;
        case H_EXPECT:
          if (eqLower(buf, valueStart, valueEnd, '100-continue')) this.expectContinue = true;
          break;
      }
    }
    this.end = i;
    if (teIndex >= 0) {
      // Judged on all Transfer-Encoding lines together: repeated lines are one list (RFC 9110 §5.3).
      this.teNotChunked = !this.chunked;
      if (this.isRequest && this.chunked && this.teOther) return this.fail(501, 'transfer coding other than chunked');
      if (this.contentLength >= 0) return this.fail(this.isRequest ? 400 : 502, 'Content-Length with Transfer-Encoding');
      if (this.isRequest) {
        if (this.versionMinor === 0) return this.fail(400, 'Transfer-Encoding in an HTTP/1.0 request');
        if (this.teNotChunked) return this.fail(400, 'chunked is not the final transfer coding');
      }
    }
    if (this.isRequest) {
      if (this.versionMinor === 1 && !this.hasHost) return this.fail(400, 'missing Host');
      if (this.hasHost && buf[this.targetStart] !== SLASH) {
        const refused = this.authorityError();
        if (refused) return this.fail(400, refused);
      }
    }
    // Upgrade travels only when Connection says so (RFC 9110 §7.8).
    if (this.hasUpgrade && !this.connUpgrade) for (let n = this.find('upgrade'); n >= 0; n = this.find('upgrade', n + 1)) this.hopByHop(n);
    if (this.listed.length) this.dropListed();
    return i;
  }

  /**
   * Why an absolute-form target's authority is refused, '' when it is the Host value
   * (ASCII case and the scheme's default port on either side ignored) or the target
   * has another form. A server
   * uses the authority (RFC 9112 §3.2.2) while tslb routes by Host: they must agree.
   * Userinfo is refused (RFC 9110 §4.2.4: it serves to obscure the authority).
   */
  private authorityError(): string {
    const buf = this.buf;
    const e = this.targetEnd;
    let i = this.targetStart;
    const c0 = buf[i] | 0x20;
    if (c0 < 97 || c0 > 122) return '';
    while (i < e && SCHEME[buf[i]]) i++;
    if (e - i < 3 || buf[i] !== COLON || buf[i + 1] !== SLASH || buf[i + 2] !== SLASH) return '';
    const s = i + 3;
    let a = s;
    while (a < e && buf[a] !== SLASH && buf[a] !== QUESTION && buf[a] !== HASH) {
      if (buf[a] === AT) return 'userinfo in the request-target';
      a++;
    }
    // The scheme's default port names the same origin with or without it (HAProxy 2.6 compares so too).
    const ts = this.targetStart;
    const defaultPort = eqLower(buf, ts, i, 'http') ? ':80' : eqLower(buf, ts, i, 'https') ? ':443' : '';
    const hs = this.hdr[this.host * HDR_STRIDE + 2];
    const he = withoutPort(buf, hs, this.hdr[this.host * HDR_STRIDE + 3], defaultPort);
    a = withoutPort(buf, s, a, defaultPort);
    if (he - hs !== a - s) return 'authority differs from Host';
    for (let k = 0; k < a - s; k++) if (lowerAscii(buf[s + k]) !== lowerAscii(buf[hs + k])) return 'authority differs from Host';
    return '';
  }

  private parseRequestLine(buf: Buffer, i: number, end: number): number {
    const s = i;
    while (i < end && TCHAR[buf[i]]) i++;
    if (i >= end) return 0;
    if (buf[i] !== SP || i === s) return this.fail(400, 'invalid method');
    // GET and POST skip the lookup; other methods are rare enough to pay for a string.
    const isGetOrPost = (i - s === 3 && buf[s] === 71) || (i - s === 4 && buf[s] === 80 && buf[s + 1] === 79);
    if (!isGetOrPost && REFUSED_METHODS.has(buf.toString('latin1', s, i))) return this.fail(400, 'not an HTTP method');
    this.methodEnd = i++;
    this.targetStart = i;
    while (i < end && TARGET[buf[i]]) i++;
    if (i >= end) return 0;
    if (buf[i] !== SP || i === this.targetStart) return this.fail(400, 'invalid request-target');
    this.targetEnd = i++;
    return this.parseVersion(buf, i, end, true);
  }

  /** `HTTP/1.0` or `HTTP/1.1`, then CRLF (request) or SP (status line). */
  private parseVersion(buf: Buffer, i: number, end: number, request: boolean): number {
    if (end - i < 10) {
      // Not enough bytes to judge: check the prefix we have so garbage fails fast.
      const want = 'HTTP/1.';
      for (let j = 0; j < want.length && i + j < end; j++) {
        if (buf[i + j] !== want.charCodeAt(j)) return this.fail(request ? 400 : 502, 'invalid HTTP version');
      }
      return 0;
    }
    if (
      buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 ||
      buf[i + 4] !== 47 || buf[i + 5] !== 49 || buf[i + 6] !== 46 || (buf[i + 7] !== 48 && buf[i + 7] !== 49)
    ) {
      return this.fail(request ? 400 : 502, 'invalid HTTP version');
    }
    this.versionMinor = buf[i + 7] - 48;
    i += 8;
    if (request) {
      if (buf[i] !== CR || buf[i + 1] !== LF) return this.fail(400, 'invalid request line end');
      return i + 2;
    }
    return i;
  }

  private parseStatusLine(buf: Buffer, i: number, end: number): number {
    i = this.parseVersion(buf, i, end, false);
    if (i <= 0) return i;
    if (end - i < 5) return 0;
    if (buf[i] !== SP) return this.fail(502, 'invalid status line');
    const d0 = buf[i + 1] - 48, d1 = buf[i + 2] - 48, d2 = buf[i + 3] - 48;
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.fail(502, 'invalid status code');
    this.status = d0 * 100 + d1 * 10 + d2;
    i += 4;
    if (buf[i] === SP) {
      i++;
      while (i < end && FIELD[buf[i]]) i++;
      if (i >= end) return 0;
    }
    if (buf[i] !== CR) return this.fail(502, 'invalid reason phrase');
    if (i + 1 >= end) return 0;
    if (buf[i + 1] !== LF) return this.fail(502, 'CR without LF');
    return i + 2;
  }

  /**
   * One Transfer-Encoding line, continuing the list of the previous ones: the codings
   * must be tokens and `chunked` may appear once (RFC 9112 §6.1). Whether it is last
   * is judged after the head: a request with another coding before `chunked` is
   * answered 501 (we do not decode codings); without `chunked` last it is 400 (its
   * length cannot be known, RFC 9112 §6.3).
   */
  private scanTransferEncoding(buf: Buffer, s: number, e: number): boolean {
    let i = s;
    for (;;) {
      while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++;
      const ts = i;
      while (i < e && TCHAR[buf[i]]) i++;
      const te = i;
      if (te === ts) return this.teFail(400, 'invalid Transfer-Encoding');
      if (eqLower(buf, ts, te, 'chunked')) {
        if (this.teSawChunked) return this.teFail(400, 'chunked applied twice');
        this.teSawChunked = true;
        this.chunked = true;
      } else {
        this.chunked = false; // not (or no longer) the final coding
        this.teOther = true;
      }
      // Skip transfer parameters (`;q=…`): they are rare and carry no framing.
      while (i < e && buf[i] !== COMMA) {
        if (buf[i] !== SP && buf[i] !== HTAB && buf[i] !== 59 && buf[i] !== 61 && !TCHAR[buf[i]] && buf[i] !== 34) {
          return this.teFail(400, 'invalid Transfer-Encoding');
        }
        i++;
      }
      if (i >= e) return true;
      i++;
    }
  }

  private teFail(requestStatus: number, reason: string): false {
    this.fail(requestStatus, reason);
    return false;
  }

  private scanConnection(buf: Buffer, s: number, e: number): void {
    let i = s;
    while (i < e) {
      while (i < e && (buf[i] === SP || buf[i] === HTAB || buf[i] === COMMA)) i++;
      const ts = i;
      while (i < e && buf[i] !== COMMA && buf[i] !== SP && buf[i] !== HTAB) i++;
      const te = i;
      if (te === ts) continue;
      if (eqLower(buf, ts, te, 'close')) this.connClose = true;
      else if (eqLower(buf, ts, te, 'keep-alive')) this.connKeepAlive = true;
      else if (eqLower(buf, ts, te, 'upgrade')) this.connUpgrade = true;
      else this.listed.push(ts, te);
    }
  }

  /** Drop headers named in Connection, except the ones that frame or route the message. */
  private dropListed(): void {
    const h = this.hdr;
    const l = this.listed;
    for (let n = 0; n < this.count; n++) {
      if (this.drop[n]) continue;
      const k = this.kind[n];
      if (k === H_CONTENT_LENGTH || k === H_TRANSFER_ENCODING || k === H_HOST) continue;
      const ns = h[n * HDR_STRIDE], ne = h[n * HDR_STRIDE + 1];
      for (let j = 0; j < l.length; j += 2) {
        if (l[j + 1] - l[j] !== ne - ns) continue;
        let same = true;
        for (let m = 0; m < ne - ns; m++) {
          if ((this.buf[ns + m] | 0x20) !== (this.buf[l[j] + m] | 0x20)) {
            same = false;
            break;
          }
        }
        if (same) {
          this.hopByHop(n);
          break;
        }
      }
    }
  }
}
