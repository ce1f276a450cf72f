/**
 * One request through tslb over HTTP/1.1 (raw bytes) or HTTP/2 (node:http2 on an h2c
 * bind), answered in one shape: the status, the head's fields as `[name, value]`
 * pairs (lower-case names on HTTP/2) and the body, so a test asserts the same thing
 * on both protocols (`header()` of ./rawhttp.ts reads either).
 */
import * as http2 from 'node:http2';
import { exchange } from './rawhttp';

export type Protocol = 'h1' | 'h2';

export interface Answer {
  status: number;
  /** The status line's reason (HTTP/1.1 only; '' on HTTP/2). */
  reason: string;
  headers: [string, string][];
  body: Buffer;
}

export interface Request {
  method?: string;
  path: string;
  host?: string;
  headers?: [string, string][];
  body?: string;
}

/** An HTTP/2 client connection to an h2c bind, kept for the requests of a test file. */
export class H2Client {
  private session: http2.ClientHttp2Session | undefined;
  constructor(private readonly port: number) {}

  request(r: Request): Promise<Answer> {
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(`http://127.0.0.1:${this.port}`);
      this.session.on('error', () => undefined);
    }
    const out: http2.OutgoingHttpHeaders = { ':method': r.method ?? 'GET', ':path': r.path, ':authority': r.host ?? 'example.com' };
    // Repeated names go as one field each (node joins an array into separate fields).
    for (const [k, v] of r.headers ?? []) {
      const key = k.toLowerCase();
      const had = out[key];
      out[key] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [String(had), v];
    }
    // As curl does (req.body_size reads it: tslb streams bodies, it does not measure them).
    if (r.body !== undefined) out['content-length'] = Buffer.byteLength(r.body);
    const s = this.session.request(out, { endStream: r.body === undefined });
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      s.on('response', (h) => (head = h));
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => {
        const headers: [string, string][] = [];
        for (const [k, v] of Object.entries(head)) {
          if (k.startsWith(':') || v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [String(v)]) headers.push([k, one]);
        }
        resolve({ status: Number(head[':status']), reason: '', headers, body: Buffer.concat(parts) });
      });
      s.on('error', reject);
      s.setTimeout(10_000, () => s.close(http2.constants.NGHTTP2_CANCEL));
      if (r.body !== undefined) s.end(r.body);
    });
  }

  close(): void {
    this.session?.close();
  }
}

/** One request on a new HTTP/1.1 connection. */
export async function h1Request(port: number, r: Request): Promise<Answer> {
  const method = r.method ?? 'GET';
  let head = `${method} ${r.path} HTTP/1.1\r\nHost: ${r.host ?? 'example.com'}\r\n`;
  for (const [k, v] of r.headers ?? []) head += `${k}: ${v}\r\n`;
  if (r.body !== undefined) head += `Content-Length: ${Buffer.byteLength(r.body)}\r\n`;
  const bytes = Buffer.from(head + '\r\n' + (r.body ?? ''));
  const x = await exchange(port, bytes, { methods: [method], until: (rs) => rs.length === 1, timeoutMs: 10_000 });
  const res = x.responses[0];
  if (!res) throw new Error(`no answer to ${method} ${r.path}`);
  return { status: res.status, reason: res.startLine.split(' ').slice(2).join(' '), headers: res.headers, body: res.body };
}
