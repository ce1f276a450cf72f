/**
 * PROXY protocol v1 (text) and v2 (binary), as specified by HAProxy's
 * doc/proxy-protocol.txt: strict parsing of one header at the start of a
 * connection (`accept-proxy`) and encoding for servers (`send-proxy[-v2]`).
 */
import * as net from 'node:net';
import { timerAfter } from '../worker/deadline';

export interface ProxyAddresses {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
}

export interface ParsedProxyHeader {
  /** Bytes the header occupies at the start of the buffer. */
  length: number;
  /** null for v1 UNKNOWN, v2 LOCAL and non-TCP v2 families: keep the socket's own addresses. */
  addr: ProxyAddresses | null;
}

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Longest v1 line, CRLF included (spec §2.1). */
const V1_MAX = 107;
const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
const PORT_RE = /^(0|[1-9][0-9]{0,4})$/;

class ProxyProtocolError extends Error {
  readonly code = 'EPROXYPROTO';
}

/**
 * Parses a header at the start of `buf`: undefined when more bytes are needed,
 * an Error as soon as the bytes cannot start a valid header.
 */
export function parseProxyHeader(buf: Buffer): ParsedProxyHeader | Error | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIG[0]) return parseV2(buf);
  return new ProxyProtocolError('not a PROXY protocol header');
}

function parseV1(buf: Buffer): ParsedProxyHeader | Error | undefined {
  const prefixLen = Math.min(buf.length, V1_PREFIX.length);
  if (buf.compare(V1_PREFIX, 0, prefixLen, 0, prefixLen) !== 0) return new ProxyProtocolError('bad PROXY v1 prefix');
  const scan = Math.min(buf.length, V1_MAX);
  let lf = -1;
  for (let i = V1_PREFIX.length; i < scan; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return buf.length >= V1_MAX ? new ProxyProtocolError('PROXY v1 line too long') : undefined;
  if (buf[lf - 1] !== 0x0d) return new ProxyProtocolError('PROXY v1 line not terminated by CRLF');
  const fields = buf.toString('latin1', V1_PREFIX.length, lf - 1).split(' ');
  const length = lf + 1;
  if (fields[0] === 'UNKNOWN') return { length, addr: null };
  if (fields.length !== 5) return new ProxyProtocolError('PROXY v1 needs protocol, 2 addresses and 2 ports');
  const [proto, src, dst, sport, dport] = fields;
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return new ProxyProtocolError(`PROXY v1 unknown protocol "${proto}"`);
  if (net.isIP(src) !== family || net.isIP(dst) !== family) return new ProxyProtocolError(`PROXY v1 bad ${proto} address`);
  if (!PORT_RE.test(sport) || !PORT_RE.test(dport)) return new ProxyProtocolError('PROXY v1 bad port');
  const srcPort = Number(sport);
  const dstPort = Number(dport);
  if (srcPort > 65535 || dstPort > 65535) return new ProxyProtocolError('PROXY v1 port out of range');
  return { length, addr: { src, srcPort, dst, dstPort } };
}

function parseV2(buf: Buffer): ParsedProxyHeader | Error | undefined {
  const sigLen = Math.min(buf.length, V2_SIG.length);
  if (buf.compare(V2_SIG, 0, sigLen, 0, sigLen) !== 0) return new ProxyProtocolError('bad PROXY v2 signature');
  if (buf.length < V2_FIXED) return undefined;
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return new ProxyProtocolError('PROXY v2 bad version');
  const command = verCmd & 0x0f;
  if (command > 1) return new ProxyProtocolError('PROXY v2 bad command');
  const fam = buf[13];
  const length = V2_FIXED + buf.readUInt16BE(14);
  if (buf.length < length) return undefined;
  // Address block size by family (AF_UNSPEC 0, INET 12, INET6 36, UNIX 216), any transport.
  const af = fam >> 4;
  const transport = fam & 0x0f;
  if (af > 3 || transport > 2) return new ProxyProtocolError('PROXY v2 bad address family');
  const addrLen = af === 1 ? 12 : af === 2 ? 36 : af === 3 ? 216 : 0;
  if (length - V2_FIXED < addrLen) return new ProxyProtocolError('PROXY v2 address block truncated');
  // TLVs are skipped, but each must fit exactly in the announced length.
  let off = V2_FIXED + addrLen;
  while (off < length) {
    if (length - off < 3) return new ProxyProtocolError('PROXY v2 truncated TLV');
    off += 3 + buf.readUInt16BE(off + 1);
    if (off > length) return new ProxyProtocolError('PROXY v2 TLV overruns header');
  }
  // LOCAL (health checks from the proxy itself), UNSPEC, UDP and UNIX keep the socket's addresses.
  if (command === 0 || transport !== 1 || (af !== 1 && af !== 2)) return { length, addr: null };
  const a = V2_FIXED;
  if (af === 1) {
    return {
      length,
      addr: { src: ipv4Text(buf, a), dst: ipv4Text(buf, a + 4), srcPort: buf.readUInt16BE(a + 8), dstPort: buf.readUInt16BE(a + 10) },
    };
  }
  return {
    length,
    addr: { src: ipv6Text(buf, a), dst: ipv6Text(buf, a + 16), srcPort: buf.readUInt16BE(a + 32), dstPort: buf.readUInt16BE(a + 34) },
  };
}

/**
 * Reads exactly one PROXY v1 or v2 header from a fresh socket, unshifts any bytes
 * after it, and calls back with the addresses (null: keep the socket's own) or an
 * error for a malformed, truncated or slow header (the caller then destroys the
 * socket; a `timeoutMs` of 0 waits without limit). The socket is left paused: the
 * next consumer resumes it.
 */
export function readProxyHeader(socket: net.Socket, timeoutMs: number, cb: (err: Error | null, addr: ProxyAddresses | null) => void): void {
  let buf: Buffer | undefined;
  let done = false;
  const timer = timerAfter(timeoutMs, () => finish(new ProxyProtocolError('timeout waiting for the PROXY header'), null));
  function finish(err: Error | null, addr: ProxyAddresses | null): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.pause();
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    cb(err, addr);
  }
  function onData(chunk: Buffer): void {
    buf = buf ? Buffer.concat([buf, chunk]) : chunk;
    const parsed = parseProxyHeader(buf);
    if (parsed === undefined) return;
    if (parsed instanceof Error) return finish(parsed, null);
    // Pause before handing bytes back so none are emitted without a listener.
    socket.pause();
    if (parsed.length < buf.length) socket.unshift(buf.subarray(parsed.length));
    finish(null, parsed.addr);
  }
  function onEnd(): void {
    finish(new ProxyProtocolError('connection closed before the PROXY header ended'), null);
  }
  function onError(err: Error): void {
    finish(err, null);
  }
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('error', onError);
}

/** The header a server with `send-proxy` (v1) or `send-proxy-v2` expects first. */
export function encodeProxyHeader(version: 1 | 2, addr: ProxyAddresses): Buffer {
  let { src, dst } = addr;
  const srcFamily = net.isIP(src);
  const dstFamily = net.isIP(dst);
  if (srcFamily === 0 || dstFamily === 0) {
    return version === 1 ? Buffer.from('PROXY UNKNOWN\r\n', 'latin1') : encodeV2Local();
  }
  // Both addresses must share a family: an IPv4 next to an IPv6 goes as IPv4-mapped IPv6.
  let family = srcFamily;
  if (srcFamily !== dstFamily) {
    family = 6;
    if (srcFamily === 4) src = '::ffff:' + src;
    if (dstFamily === 4) dst = '::ffff:' + dst;
  }
  if (version === 1) {
    return Buffer.from(`PROXY TCP${family} ${src} ${dst} ${addr.srcPort} ${addr.dstPort}\r\n`, 'latin1');
  }
  const addrLen = family === 4 ? 12 : 36;
  const out = Buffer.allocUnsafe(V2_FIXED + addrLen);
  V2_SIG.copy(out, 0);
  out[12] = 0x21;
  out[13] = family === 4 ? 0x11 : 0x21;
  out.writeUInt16BE(addrLen, 14);
  if (family === 4) {
    writeIpv4(src, out, 16);
    writeIpv4(dst, out, 20);
    out.writeUInt16BE(addr.srcPort, 24);
    out.writeUInt16BE(addr.dstPort, 26);
  } else {
    writeIpv6(src, out, 16);
    writeIpv6(dst, out, 32);
    out.writeUInt16BE(addr.srcPort, 48);
    out.writeUInt16BE(addr.dstPort, 50);
  }
  return out;
}

function encodeV2Local(): Buffer {
  const out = Buffer.alloc(V2_FIXED);
  V2_SIG.copy(out, 0);
  out[12] = 0x20;
  return out;
}

function ipv4Text(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952 text, with IPv4-mapped addresses as `::ffff:a.b.c.d` like Node's remoteAddress. */
function ipv6Text(buf: Buffer, off: number): string {
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (buf[off + i] !== 0) mapped = false;
  if (mapped) return '::ffff:' + ipv4Text(buf, off + 12);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(off + i * 2));
  // Longest run of two or more zero groups becomes "::" (the first one on ties).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  return groups.slice(0, bestStart).map(hex).join(':') + '::' + groups.slice(bestStart + bestLen).map(hex).join(':');
}

function writeIpv4(addr: string, out: Buffer, off: number): void {
  const parts = addr.split('.');
  for (let i = 0; i < 4; i++) out[off + i] = Number(parts[i]);
}

/** Writes a valid (net.isIPv6) textual address as 16 bytes. */
function writeIpv6(addr: string, out: Buffer, off: number): void {
  let text = addr;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // A trailing dotted quad stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const q = text.slice(lastColon + 1).split('.').map(Number);
    text = text.slice(0, lastColon + 1) + ((q[0] << 8) | q[1]).toString(16) + ':' + ((q[2] << 8) | q[3]).toString(16);
  }
  const gap = text.indexOf('::');
  const split = (s: string) => (s ? s.split(':') : []);
  const head = gap >= 0 ? split(text.slice(0, gap)) : split(text);
  const tail = gap >= 0 ? split(text.slice(gap + 2)) : [];
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i], 16), off + i * 2);
}
