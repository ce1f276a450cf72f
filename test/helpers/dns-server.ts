/**
 * A small authoritative DNS server for tests, on UDP 127.0.0.1: it answers A, AAAA and
 * SRV queries from a table the test edits (RFC 1035 messages, RFC 2782 SRV data), so DNS
 * discovery is tested with no query leaving the machine. A name missing from the table
 * answers NXDOMAIN; a name without records of the asked type answers NOERROR with none.
 */
import * as dgram from 'node:dgram';
import { isIPv4 } from 'node:net';

export interface SrvRecord {
  target: string;
  port: number;
  weight?: number;
  priority?: number;
}

export interface DnsEntry {
  a?: string[];
  aaaa?: string[];
  srv?: SrvRecord[];
  /** Answer this response code instead of records (5 = REFUSED, 2 = SERVFAIL). */
  rcode?: number;
}

export interface DnsServer {
  port: number;
  /** `127.0.0.1:<port>`, for a `nameserver` line. */
  address: string;
  /** Lower-case names without the trailing dot. */
  set(name: string, entry: DnsEntry): void;
  delete(name: string): void;
  /** Queries received for `name/TYPE` (TYPE: A, AAAA, SRV…). */
  queries(name: string, type: string): number;
  close(): Promise<void>;
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const NXDOMAIN = 3;

export async function startDnsServer(): Promise<DnsServer> {
  const table = new Map<string, DnsEntry>();
  const counts = new Map<string, number>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, table, counts);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    set: (name, entry) => void table.set(name.toLowerCase(), entry),
    delete: (name) => void table.delete(name.toLowerCase()),
    queries: (name, type) => counts.get(`${name.toLowerCase()}/${type}`) ?? 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The reply to one query, or undefined for a packet that is not one. */
function answer(msg: Buffer, table: Map<string, DnsEntry>, counts: Map<string, number>): Buffer | undefined {
  if (msg.length < 12 || msg[2] & 0x80 || msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length && msg[at] !== 0) {
    const len = msg[at];
    if (len > 63) return undefined;
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  const questionEnd = at + 5;
  if (questionEnd > msg.length) return undefined;
  const qtype = msg.readUInt16BE(at + 1);
  const name = labels.join('.').toLowerCase();
  const type = TYPES[qtype] ?? String(qtype);
  counts.set(`${name}/${type}`, (counts.get(`${name}/${type}`) ?? 0) + 1);

  const entry = table.get(name);
  const records: Buffer[] = [];
  if (entry && entry.rcode === undefined) {
    if (type === 'A') for (const ip of entry.a ?? []) records.push(rr(1, Buffer.from(ip.split('.').map(Number))));
    if (type === 'AAAA') for (const ip of entry.aaaa ?? []) records.push(rr(28, ipv6Bytes(ip)));
    if (type === 'SRV') {
      for (const s of entry.srv ?? []) {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(s.priority ?? 0, 0);
        fixed.writeUInt16BE(s.weight ?? 0, 2);
        fixed.writeUInt16BE(s.port, 4);
        records.push(rr(33, Buffer.concat([fixed, encodeName(s.target)])));
      }
    }
  }
  const rcode = entry ? (entry.rcode ?? 0) : NXDOMAIN;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  // QR, AA, the query's RD, RA, and the response code.
  header.writeUInt16BE(0x8000 | 0x0400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, msg.subarray(12, questionEnd), ...records]);
}

/** A resource record named by a pointer to the question's name (offset 12), TTL 0. */
function rr(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(0, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  if (isIPv4(ip)) throw new Error(`${ip} is not an IPv6 address`);
  const [head, tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = ip.includes('::') ? groups(tail) : [];
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
