/**
 * Reading a TLS ClientHello off a connection we do not terminate (HAProxy's
 * `req_ssl_sni` / `req_ssl_hello_type` after `tcp-request inspect-delay`), so a
 * tcp frontend can route TLS passthrough by SNI.
 *
 * The parser is strict and bounded: it looks at no more than
 * MAX_CLIENT_HELLO_BYTES of the stream (HAProxy's default buffer), accepts a
 * handshake message fragmented over several records and over any number of TCP
 * segments, and turns anything malformed into "no hello" rather than throwing.
 * The bytes it looked at are never modified: the caller forwards them as they came.
 */
import type * as net from 'node:net';

/** How long a connection waits for its ClientHello when the frontend sets no inspect delay. */
export const DEFAULT_INSPECT_DELAY_MS = 5000;

/** Most bytes of the stream inspected for a ClientHello (HAProxy's tune.bufsize). */
export const MAX_CLIENT_HELLO_BYTES = 16384;

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 0x16;
const HELLO_CLIENT = 1;
const EXT_SERVER_NAME = 0;
const NAME_HOST = 0;
/** A TLS plaintext record carries at most 2^14 bytes. */
const MAX_RECORD = 16384;
const MAX_HOST_NAME = 255;

/** The stream so far cannot tell yet: read more. */
export const HELLO_PARTIAL = 'partial';
/** The stream does not start with a well-formed TLS handshake (or it is too large). */
export const HELLO_INVALID = 'invalid';

export interface ClientHello {
  /** Handshake type of the first message: 1 for a ClientHello. */
  type: number;
  /** The first host_name of the server_name extension, if any (ClientHello only). */
  sni: string | undefined;
}

export type HelloParse = ClientHello | typeof HELLO_PARTIAL | typeof HELLO_INVALID;

/**
 * Parse the start of a client stream. `data` is everything received so far.
 * Returns the first handshake message's type (and SNI, for a ClientHello), or
 * HELLO_PARTIAL while more bytes could still complete it, or HELLO_INVALID.
 */
export function parseClientHello(data: Buffer): HelloParse {
  const limit = Math.min(data.length, MAX_CLIENT_HELLO_BYTES);
  // The handshake message, reassembled from the records' fragments when it spans several.
  let fragments: Buffer[] | undefined;
  let first: Buffer | undefined;
  let have = 0;
  let need = -1;
  let pos = 0;
  while (pos + RECORD_HEADER <= limit) {
    if (data[pos] !== CONTENT_HANDSHAKE || data[pos + 1] !== 3) return HELLO_INVALID;
    const len = data.readUInt16BE(pos + 3);
    if (len === 0 || len > MAX_RECORD) return HELLO_INVALID;
    const end = Math.min(pos + RECORD_HEADER + len, limit);
    const fragment = data.subarray(pos + RECORD_HEADER, end);
    if (!first) first = fragment;
    else (fragments ??= [first]).push(fragment);
    have += fragment.length;
    if (need < 0 && have >= HANDSHAKE_HEADER) {
      const head = fragments ? Buffer.concat(fragments) : first;
      need = HANDSHAKE_HEADER + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO_BYTES) return HELLO_INVALID;
    }
    if (need >= 0 && have >= need) {
      const message = fragments ? Buffer.concat(fragments) : first;
      return parseHandshake(message.subarray(0, need));
    }
    if (end < pos + RECORD_HEADER + len) break;
    pos = end;
  }
  // A cut first byte already tells a non-TLS stream apart.
  if (pos < limit && (data[pos] !== CONTENT_HANDSHAKE || (pos + 1 < limit && data[pos + 1] !== 3))) return HELLO_INVALID;
  return data.length >= MAX_CLIENT_HELLO_BYTES ? HELLO_INVALID : HELLO_PARTIAL;
}

/** A complete handshake message (header included). */
function parseHandshake(m: Buffer): ClientHello | typeof HELLO_INVALID {
  const type = m[0];
  if (type !== HELLO_CLIENT) return { type, sni: undefined };
  const end = m.length;
  // client_version, random
  let p = HANDSHAKE_HEADER + 2 + 32;
  if (p + 1 > end) return HELLO_INVALID;
  const sessionId = m[p];
  if (sessionId > 32) return HELLO_INVALID;
  p += 1 + sessionId;
  if (p + 2 > end) return HELLO_INVALID;
  const suites = m.readUInt16BE(p);
  if (suites < 2 || suites % 2 !== 0) return HELLO_INVALID;
  p += 2 + suites;
  if (p + 1 > end) return HELLO_INVALID;
  const compressions = m[p];
  if (compressions < 1) return HELLO_INVALID;
  p += 1 + compressions;
  if (p === end) return { type, sni: undefined };
  if (p + 2 > end) return HELLO_INVALID;
  const extEnd = p + 2 + m.readUInt16BE(p);
  if (extEnd !== end) return HELLO_INVALID;
  p += 2;
  let sni: string | undefined;
  let sawServerName = false;
  while (p < extEnd) {
    if (p + 4 > extEnd) return HELLO_INVALID;
    const extType = m.readUInt16BE(p);
    const extLen = m.readUInt16BE(p + 2);
    p += 4;
    if (p + extLen > extEnd) return HELLO_INVALID;
    if (extType === EXT_SERVER_NAME) {
      // RFC 8446 4.2: an extension appears at most once.
      if (sawServerName) return HELLO_INVALID;
      sawServerName = true;
      const names = serverName(m, p, p + extLen);
      if (names === HELLO_INVALID) return HELLO_INVALID;
      sni = names;
    }
    p += extLen;
  }
  return { type, sni };
}

/** The server_name extension body (RFC 6066 3): the first host_name, if valid. */
function serverName(m: Buffer, p: number, end: number): string | undefined | typeof HELLO_INVALID {
  // Clients answering a server's empty server_name send it empty; a ClientHello may too.
  if (p === end) return undefined;
  if (p + 2 > end || p + 2 + m.readUInt16BE(p) !== end) return HELLO_INVALID;
  p += 2;
  let host: string | undefined;
  while (p < end) {
    if (p + 3 > end) return HELLO_INVALID;
    const nameType = m[p];
    const len = m.readUInt16BE(p + 1);
    p += 3;
    if (len === 0 || p + len > end) return HELLO_INVALID;
    if (nameType === NAME_HOST && host === undefined) host = hostName(m, p, p + len);
    p += len;
  }
  return host;
}

/** A DNS host name as RFC 6066 allows it: ASCII letters, digits, `-`, `_`, `.`, no trailing dot. */
function hostName(m: Buffer, start: number, end: number): string | undefined {
  if (end - start > MAX_HOST_NAME || m[end - 1] === 0x2e) return undefined;
  for (let i = start; i < end; i++) {
    const c = m[i];
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f;
    if (!ok) return undefined;
  }
  return m.toString('latin1', start, end);
}

/** What the shared socket handlers call (independent of the owner's type). */
interface Inspector {
  ended: boolean;
  closed: boolean;
  received(chunk: Buffer): void;
  finish(): void;
}

interface InspectedSocket extends net.Socket {
  helloInspection?: Inspector;
}

/**
 * Reads a client until its first handshake message is complete (or the stream is
 * not TLS), the client sends FIN or goes away, or `delayMs` passes (HAProxy's
 * `tcp-request inspect-delay`); then pauses the client and calls `done` once.
 * Socket handlers are shared functions: an inspection costs no closures.
 */
export class HelloInspection<T> implements Inspector {
  /** Every byte read, in order: the caller forwards them first. */
  data: Buffer | undefined;
  hello: ClientHello | undefined;
  /** The client sent FIN during the inspection. */
  ended = false;
  /** The client went away (reset/error) during the inspection. */
  closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly socket: net.Socket,
    delayMs: number,
    /** What the caller needs to go on. */
    readonly owner: T,
    private readonly done: (inspection: HelloInspection<T>) => void,
  ) {
    const s = socket as InspectedSocket;
    s.helloInspection = this;
    s.on('data', onInspectData);
    s.on('end', onInspectEnd);
    s.on('close', onInspectClose);
    s.on('error', onInspectError);
    this.timer = setTimeout(inspectExpired, delayMs, this);
    s.resume();
  }

  received(chunk: Buffer): void {
    this.data = this.data ? Buffer.concat([this.data, chunk]) : chunk;
    const r = parseClientHello(this.data);
    if (r === HELLO_PARTIAL) return;
    if (r !== HELLO_INVALID) this.hello = r;
    this.finish();
  }

  finish(): void {
    clearTimeout(this.timer);
    const s = this.socket as InspectedSocket;
    s.helloInspection = undefined;
    s.pause();
    s.off('data', onInspectData);
    s.off('end', onInspectEnd);
    s.off('close', onInspectClose);
    s.off('error', onInspectError);
    this.done(this);
  }
}

function onInspectData(this: InspectedSocket, chunk: Buffer): void {
  this.helloInspection?.received(chunk);
}

function onInspectEnd(this: InspectedSocket): void {
  const i = this.helloInspection;
  if (!i) return;
  i.ended = true;
  i.finish();
}

function onInspectClose(this: InspectedSocket): void {
  const i = this.helloInspection;
  if (!i) return;
  i.closed = true;
  i.finish();
}

/** The 'close' that follows ends the inspection. */
function onInspectError(): void {}

function inspectExpired(i: Inspector): void {
  i.finish();
}
