// Byte-level HTTP/1.1 test tools: a reader for the messages tslb emits, a raw-socket client,
// and a recording raw backend. They trust nothing from node:http so tests see exact bytes.
import * as net from 'node:net';

export type Framing = 'length' | 'chunked' | 'eof' | 'none';

export interface RawMessage {
  /** The head as received, start line to the empty line included. */
  head: Buffer;
  startLine: string;
  /** Header lines in order, names as sent. */
  headers: [string, string][];
  framing: Framing;
  /** The body after de-framing (chunked decoded). */
  body: Buffer;
  /** Trailer lines of a chunked body. */
  trailers: [string, string][];
  complete: boolean;
  /** Everything this message occupied on the wire. */
  raw: Buffer;
  /** Why the reader gave up on the bytes (framing it could not follow), else null. */
  readError: string | null;
}

export interface RawResponse extends RawMessage {
  status: number;
}

export interface RawRequest extends RawMessage {
  method: string;
  target: string;
  /** Which backend connection (1-based, in accept order) carried it. */
  connection: number;
}

export function header(m: Pick<RawMessage, 'headers'>, name: string): string[] {
  const lower = name.toLowerCase();
  return m.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

function splitLines(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split('\r\n')) {
    if (!line) continue;
    const colon = line.indexOf(':');
    out.push(colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return out;
}

/**
 * An incremental reader of a stream of HTTP/1.1 messages in one direction. It follows RFC 9112
 * framing: Content-Length, chunked, no body (HEAD responses, 1xx/204/304), or until EOF.
 * `bodyless(msg)` says whether a response has no body (depends on the request it answers).
 */
export class MessageReader<M extends RawMessage> {
  readonly messages: M[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private current: M | null = null;
  private remaining = 0; // body bytes left (length framing) or in the current chunk
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailers' = 'size';
  private rawParts: Buffer[] = [];
  private broken = false; // framing could not be followed: nothing after it can be read

  constructor(
    private readonly kind: 'request' | 'response',
    private readonly bodyless: (m: M) => boolean = () => false,
    private readonly decorate: (m: RawMessage) => M = (m) => m as M,
  ) {}

  /** Feeds bytes; returns the messages completed by them. */
  push(data: Buffer): M[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    const done: M[] = [];
    while (!this.broken) {
      if (!this.current) {
        // Tolerate the CRLFs a sender may put between messages.
        let skip = 0;
        while (this.buf.length >= skip + 2 && this.buf[skip] === 0x0d && this.buf[skip + 1] === 0x0a) skip += 2;
        this.buf = this.buf.subarray(skip);
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return done;
        const head = Buffer.from(this.buf.subarray(0, end + 4));
        this.buf = this.buf.subarray(end + 4);
        this.rawParts = [head];
        this.current = this.openMessage(head);
        this.messages.push(this.current);
        if (this.current.framing === 'none' || this.current.readError) {
          this.finish(done);
          continue;
        }
      }
      const m = this.current!;
      if (m.framing === 'length') {
        const take = Math.min(this.remaining, this.buf.length);
        this.addBody(m, this.buf.subarray(0, take), take);
        this.remaining -= take;
        if (this.remaining > 0) return done;
        this.finish(done);
      } else if (m.framing === 'eof') {
        this.addBody(m, this.buf, this.buf.length);
        return done;
      } else if (!this.stepChunked(m)) {
        return done;
      } else {
        this.finish(done);
      }
    }
    return done;
  }

  /** The stream ended: a message framed by EOF is complete, any other open one stays incomplete. */
  end(): M[] {
    const m = this.current;
    if (m && m.framing === 'eof') {
      const done: M[] = [];
      this.finish(done);
      return done;
    }
    return [];
  }

  /** Bytes received after the last complete message that do not form a message head yet. */
  leftover(): Buffer {
    return this.current ? Buffer.alloc(0) : this.buf;
  }

  private openMessage(head: Buffer): M {
    const text = head.toString('latin1');
    const firstEnd = text.indexOf('\r\n');
    const startLine = text.slice(0, firstEnd);
    const headers = splitLines(text.slice(firstEnd + 2));
    const m = this.decorate({ head, startLine, headers, framing: 'none', body: Buffer.alloc(0), trailers: [], complete: false, raw: head, readError: null });
    const te = header(m, 'transfer-encoding').join(',').toLowerCase();
    const cl = header(m, 'content-length');
    if (this.kind === 'response' && this.bodyless(m)) {
      m.framing = 'none';
    } else if (te) {
      if (/(^|,)\s*chunked\s*$/.test(te)) {
        m.framing = 'chunked';
        this.chunkState = 'size';
      } else if (this.kind === 'response') {
        m.framing = 'eof';
      } else {
        m.readError = `request Transfer-Encoding without final chunked: ${te}`;
      }
      if (cl.length) m.readError = 'both Transfer-Encoding and Content-Length';
    } else if (cl.length) {
      if (cl.length > 1 || !/^\d+$/.test(cl[0])) m.readError = `bad Content-Length ${JSON.stringify(cl)}`;
      m.framing = 'length';
      this.remaining = Number(cl[0]);
      if (this.remaining === 0) m.framing = 'none';
    } else {
      m.framing = this.kind === 'response' ? 'eof' : 'none';
    }
    return m;
  }

  private addBody(m: M, part: Buffer, consumed: number): void {
    if (part.length) m.body = Buffer.concat([m.body, part]);
    this.rawParts.push(Buffer.from(this.buf.subarray(0, consumed)));
    this.buf = this.buf.subarray(consumed);
  }

  /** Advances through chunked framing; true when the last chunk and trailers are read. */
  private stepChunked(m: M): boolean {
    for (;;) {
      if (this.chunkState === 'size') {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return false;
        const line = this.buf.subarray(0, eol).toString('latin1');
        const size = /^([0-9a-fA-F]+)(;.*)?$/.exec(line);
        if (!size) {
          m.readError = `bad chunk size line ${JSON.stringify(line)}`;
          return true;
        }
        this.remaining = parseInt(size[1], 16);
        this.addBody(m, Buffer.alloc(0), eol + 2);
        this.chunkState = this.remaining === 0 ? 'trailers' : 'data';
      } else if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, this.buf.length);
        this.addBody(m, this.buf.subarray(0, take), take);
        this.remaining -= take;
        if (this.remaining > 0) return false;
        this.chunkState = 'data-crlf';
      } else if (this.chunkState === 'data-crlf') {
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== 0x0d || this.buf[1] !== 0x0a) {
          m.readError = 'chunk data not followed by CRLF';
          return true;
        }
        this.addBody(m, Buffer.alloc(0), 2);
        this.chunkState = 'size';
      } else {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return false;
        if (eol > 0) m.trailers.push(...splitLines(this.buf.subarray(0, eol).toString('latin1')));
        this.addBody(m, Buffer.alloc(0), eol + 2);
        if (eol === 0) return true;
      }
    }
  }

  private finish(done: M[]): void {
    const m = this.current!;
    m.raw = Buffer.concat(this.rawParts);
    m.complete = m.readError === null;
    if (m.complete) done.push(m);
    else this.broken = true;
    this.current = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Client

export interface ExchangeResult {
  responses: RawResponse[];
  /** Every byte the client received. */
  received: Buffer;
  /** The server closed (or reset) the connection before the exchange ended. */
  closed: boolean;
  timedOut: boolean;
}

export interface ExchangeOptions {
  /** Request methods in order, so HEAD responses are read without a body. */
  methods?: string[];
  /** Half-close after sending (the message ends at EOF). */
  endAfterSend?: boolean;
  /** Resolve as soon as this holds, checked on every byte received and every 10 ms (else: on close or timeout). */
  until?: (responses: RawResponse[]) => boolean;
  timeoutMs?: number;
  /** Send the bytes in these pieces, `pauseMs` apart (default: one write). */
  pieces?: Buffer[];
  pauseMs?: number;
}

function responseReader(methods: string[] | undefined): MessageReader<RawResponse> {
  let answered = 0;
  return new MessageReader<RawResponse>(
    'response',
    (m) => {
      const interim = m.status >= 100 && m.status < 200;
      const method = methods?.[answered] ?? 'GET';
      if (!interim) answered++;
      return interim || m.status === 204 || m.status === 304 || method === 'HEAD';
    },
    (m) => Object.assign(m, { status: Number(/^HTTP\/\d\.\d (\d{3})/.exec(m.startLine)?.[1] ?? 0) }),
  );
}

/** Sends raw bytes to 127.0.0.1:port on a fresh connection and reads the responses. */
export function exchange(port: number, bytes: Buffer, opts: ExchangeOptions = {}): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const reader = responseReader(opts.methods);
    const chunks: Buffer[] = [];
    const result: ExchangeResult = { responses: reader.messages, received: Buffer.alloc(0), closed: false, timedOut: false };
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const poll = opts.until ? setInterval(() => opts.until!(reader.messages.filter((m) => m.complete)) && settle(), 10) : null;
    const settle = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      if (poll) clearInterval(poll);
      result.received = Buffer.concat(chunks);
      socket.destroy();
      resolve(result);
    };
    timers.push(
      setTimeout(() => {
        result.timedOut = true;
        settle();
      }, opts.timeoutMs ?? 3000),
    );
    socket.on('data', (d) => {
      chunks.push(d);
      reader.push(d);
      if (opts.until?.(reader.messages.filter((m) => m.complete))) settle();
    });
    const onClosed = () => {
      reader.end();
      result.closed = true;
      settle();
    };
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      const pieces = opts.pieces ?? [bytes];
      pieces.forEach((piece, i) => {
        const send = () => {
          if (settled || socket.destroyed) return;
          socket.write(piece);
          if (i === pieces.length - 1 && opts.endAfterSend) socket.end();
        };
        if (i === 0) send();
        else timers.push(setTimeout(send, i * (opts.pauseMs ?? 0)));
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Recording backend

/** What the backend sends for a request: bytes, and whether to close the connection after them. */
export interface BackendReply {
  bytes: Buffer;
  close?: boolean;
  /** Write the bytes in these pieces, `pauseMs` apart. */
  pieces?: Buffer[];
  pauseMs?: number;
}

export const FIXED_OK = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: raw\r\n\r\nok');

/**
 * A raw TCP backend that reads the requests tslb forwards, records them (complete ones and the
 * ones cut short), every byte per connection, and answers each complete request with `reply`.
 */
export class RecordingBackend {
  port = 0;
  /** Complete requests, in arrival order. */
  readonly requests: RawRequest[] = [];
  /** Every request whose head arrived (complete or not), in arrival order. */
  readonly heads: RawRequest[] = [];
  /** Requests whose head arrived but whose connection closed before the body ended, or whose framing broke. */
  readonly partial: RawRequest[] = [];
  /** Total bytes received on every connection. */
  bytesReceived = 0;
  connections = 0;
  reply: (req: RawRequest, index: number) => BackendReply = () => ({ bytes: FIXED_OK });
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  async start(): Promise<this> {
    this.server = net.createServer({ allowHalfOpen: false }, (s) => this.accept(s));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Forget what was recorded (between test cases), keeping connections open. */
  reset(): void {
    this.requests.length = 0;
    this.heads.length = 0;
    this.partial.length = 0;
    this.bytesReceived = 0;
  }

  /** Resolves when `pred` holds (checked on every received byte and periodically), or false after timeoutMs. */
  async waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: net.Socket): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    const reader = new MessageReader<RawRequest>('request', () => false, (m) => {
      const [method = '', target = ''] = m.startLine.split(' ');
      return Object.assign(m, { method, target, connection });
    });
    let answering = false;
    const queue: RawRequest[] = [];
    // Answer in order; a reply with pieces is written over time before the next one starts.
    const drain = () => {
      if (answering) return;
      const req = queue.shift();
      if (!req || socket.destroyed) return;
      const reply = this.reply(req, this.requests.indexOf(req));
      const pieces = reply.pieces ?? [reply.bytes];
      answering = true;
      let i = 0;
      const writeNext = () => {
        if (socket.destroyed) return;
        socket.write(pieces[i++]);
        if (i < pieces.length) {
          setTimeout(writeNext, reply.pauseMs ?? 0);
          return;
        }
        answering = false;
        if (reply.close) socket.end();
        else drain();
      };
      writeNext();
    };
    let headsSeen = 0;
    socket.on('data', (d) => {
      this.bytesReceived += d.length;
      const completed = reader.push(d);
      while (headsSeen < reader.messages.length) this.heads.push(reader.messages[headsSeen++]);
      for (const req of completed) {
        this.requests.push(req);
        queue.push(req);
      }
      const last = reader.messages[reader.messages.length - 1];
      if (last?.readError && !this.partial.includes(last)) {
        this.partial.push(last);
        socket.destroy();
      }
      drain();
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      const last = reader.messages[reader.messages.length - 1];
      if (last && !last.complete && !this.partial.includes(last)) this.partial.push(last);
    });
    socket.on('error', () => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// A kept-alive raw client connection

/** One client connection: write raw bytes, await responses one by one, see whether the server closed. */
export class RawConnection {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  private readonly methods: string[] = [];
  private readonly reader = responseReader(this.methods);
  private readonly ready: RawResponse[] = [];
  private waiting: ((r: RawResponse | null) => void) | null = null;
  private ended = false;

  private constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d) => {
      for (const r of this.reader.push(d)) this.deliver(r);
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        for (const r of this.reader.end()) this.deliver(r);
        this.ended = true;
        this.waiting?.(null);
        this.waiting = null;
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawConnection> {
    const c = new RawConnection(port);
    return new Promise((resolve, reject) => {
      c.socket.once('connect', () => resolve(c));
      c.socket.once('error', reject);
    });
  }

  /** Writes bytes; `methods` are the request methods they carry, so HEAD responses are read without a body. */
  send(bytes: Buffer | string, methods: string[] = ['GET']): void {
    this.methods.push(...methods);
    this.socket.write(bytes);
  }

  /** The next final (non-1xx) response, or null when the connection closed first or timeoutMs passed. */
  async next(timeoutMs = 3000): Promise<RawResponse | null> {
    for (;;) {
      const r = await this.nextAny(timeoutMs);
      if (!r || r.status < 100 || r.status >= 200) return r;
    }
  }

  /** Resolves true when the server closes within timeoutMs. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    return closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private nextAny(timeoutMs: number): Promise<RawResponse | null> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve(null);
      }, timeoutMs);
      this.waiting = (x) => {
        clearTimeout(timer);
        resolve(x);
      };
    });
  }

  private deliver(r: RawResponse): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(r);
    } else {
      this.ready.push(r);
    }
  }
}
