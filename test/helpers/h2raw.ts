/**
 * A raw HTTP/2 client for attack and protocol tests: it writes frames built with
 * src/http2's FrameWriter and HPACK encoder (valid or not, as the test wants) and
 * records every frame the server sends, decoding header blocks.
 */
import * as net from 'node:net';
import {
  E_CANCEL, FrameReader, FrameWriter, PREFACE, T_CONTINUATION, T_GOAWAY, T_HEADERS, T_RST_STREAM, type FrameListener, F_END_HEADERS,
  F_END_STREAM,
} from '../../src/http2/frames';
import { HpackDecoder, HpackEncoder, type FieldSink } from '../../src/http2/hpack';

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  /** Decoded fields of HEADERS blocks (single-frame blocks). */
  fields?: [string, string][];
}

/** An HPACK sink that records the decoded fields as strings. */
export class FieldList implements FieldSink {
  buf = Buffer.alloc(256);
  len = 0;
  fields: [string, string][] = [];
  reserve(n: number): Buffer {
    if (this.len + n > this.buf.length) {
      const b = Buffer.alloc((this.len + n) * 2);
      this.buf.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    return this.buf;
  }
  field(ns: number, ne: number, vs: number, ve: number): void {
    this.fields.push([this.buf.toString('latin1', ns, ne), this.buf.toString('latin1', vs, ve)]);
  }
}

/** An HPACK string length (7-bit prefix, no Huffman). */
function literalLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const out = [127];
  n -= 127;
  while (n >= 128) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

export class RawH2Client implements FrameListener {
  readonly frames: RawFrame[] = [];
  readonly socket: net.Socket;
  readonly encoder = new HpackEncoder();
  private readonly decoder = new HpackDecoder();
  private readonly reader = new FrameReader(this, 1 << 24, false);
  private readonly w = new FrameWriter();
  private waiters: { pred: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void }[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  bytesReceived = 0;
  dataBytes = new Map<number, number>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.bytesReceived += d.length;
      this.reader.push(d, 0, d.length);
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /** Connect, send the preface and a SETTINGS frame with these [id, value, …] pairs. */
  static async connect(port: number, settings: number[] = []): Promise<RawH2Client> {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawH2Client(socket);
    c.w.settings(settings);
    c.send(PREFACE);
    return c;
  }

  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): boolean {
    const f: RawFrame = { type, flags, streamId, payload: Buffer.from(buf.subarray(start, end)) };
    if (type === T_HEADERS && flags & F_END_HEADERS) {
      const sink = new FieldList();
      this.decoder.decode(buf, start, end, sink, 1 << 20);
      f.fields = sink.fields;
    }
    this.record(f);
    return true;
  }
  onDataFrame(streamId: number, flags: number, length: number): boolean {
    this.record({ type: 0, flags, streamId, payload: Buffer.alloc(0) });
    this.dataBytes.set(streamId, (this.dataBytes.get(streamId) ?? 0) + length);
    return true;
  }
  onDataChunk(): boolean {
    return true;
  }
  onReadError(): void {
    this.socket.destroy();
  }

  private record(f: RawFrame): void {
    this.frames.push(f);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].pred(f)) {
        this.waiters[i].resolve(f);
        this.waiters.splice(i, 1);
      }
    }
  }

  /** The first frame (already received or to come) matching `pred`; rejects after `ms`. */
  waitFor(pred: (f: RawFrame) => boolean, ms = 5000): Promise<RawFrame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${ms} ms; got ${this.summary()}`)), ms);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  waitGoaway(ms = 5000): Promise<{ lastStreamId: number; code: number; debug: string }> {
    return this.waitFor((f) => f.type === T_GOAWAY, ms).then((f) => ({
      lastStreamId: f.payload.readUInt32BE(0),
      code: f.payload.readUInt32BE(4),
      debug: f.payload.toString('latin1', 8),
    }));
  }

  waitRst(streamId: number, ms = 5000): Promise<number> {
    return this.waitFor((f) => f.type === T_RST_STREAM && f.streamId === streamId, ms).then((f) => f.payload.readUInt32BE(0));
  }

  summary(): string {
    return this.frames.slice(-10).map((f) => `${f.type}/${f.flags}/${f.streamId}`).join(' ');
  }

  /** The frames queued with the writer methods below, and `extra` before them. */
  send(extra?: Buffer): boolean {
    const parts: Buffer[] = [];
    if (extra) parts.push(extra);
    if (this.w.len) parts.push(Buffer.from(this.w.buf!.subarray(0, this.w.len)));
    this.w.release();
    return this.socket.write(Buffer.concat(parts));
  }

  /** The writer, to queue raw frames. */
  get out(): FrameWriter {
    return this.w;
  }

  /**
   * A header block of literal fields without indexing and with literal names, written as
   * given (upper case included): no HPACK state is involved.
   */
  block(fields: [string, string][]): Buffer {
    const parts: Buffer[] = [];
    for (const [n, v] of fields) {
      const nb = Buffer.from(n, 'latin1');
      const vb = Buffer.from(v, 'latin1');
      parts.push(Buffer.from([0]), literalLength(nb.length), nb, literalLength(vb.length), vb);
    }
    return Buffer.concat(parts);
  }

  /** Queue a request's HEADERS (END_HEADERS; END_STREAM unless `body`). */
  request(streamId: number, path: string, opts: { method?: string; body?: boolean; extra?: [string, string][] } = {}): void {
    const fields: [string, string][] = [
      [':method', opts.method ?? 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'], ...(opts.extra ?? []),
    ];
    this.w.frame(T_HEADERS, F_END_HEADERS | (opts.body ? 0 : F_END_STREAM), streamId, this.block(fields));
  }

  /**
   * Rapid reset (CVE-2023-44487): 1,000 HEADERS + RST_STREAM(CANCEL) pairs for `path` in batches of 50,
   * stopping early once the connection is closed (bounded: a defended server ends it long before).
   */
  async rapidReset(path: string): Promise<void> {
    let id = 1;
    for (let batch = 0; batch < 20 && !this.closed; batch++) {
      for (let k = 0; k < 50; k++, id += 2) {
        this.request(id, path);
        this.w.rstStream(id, E_CANCEL);
      }
      this.send();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * CONTINUATION flood (CVE-2024-27316) in bytes: stream 1's HEADERS without END_HEADERS, then up to
   * 100 CONTINUATIONs of 16 KiB that never end the block, stopping once the connection is closed.
   */
  async continuationFlood(): Promise<void> {
    this.w.frame(T_HEADERS, 0, 1, this.block([[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]));
    this.send();
    const fragment = Buffer.alloc(16384, 0x40);
    for (let k = 0; k < 100 && !this.closed; k++) {
      this.w.frame(T_CONTINUATION, 0, 1, fragment);
      this.send();
      await new Promise((r) => setImmediate(r));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
