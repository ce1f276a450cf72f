/**
 * A small HTTP/2 server on src/http2's H2Connection, for tests and the frame-layer bench:
 * h2c with prior knowledge on a plain `net` server (reads through socket-io's shared
 * buffer, writes with `forward()`), or TLS with ALPN h2. Routes:
 *   GET  /hello            → 200 "hello" (content-type, content-length)
 *   GET  /bytes?n=N        → N bytes (byte i = i & 255), written in 64 KiB pieces with backpressure
 *   POST /echo             → the request body streamed back (request held while the response is backed up),
 *                            the request trailers as response trailers
 *   POST /sha              → sha256 of the body (hex), response trailer x-length
 *   GET  /slow             → no answer until the client resets or the connection ends
 *   GET  /trailers         → body "t" and trailers x-t1, x-t2
 *   GET  /reset            → RST_STREAM(PROTOCOL_ERROR) from inside onRequestHead
 *   GET  /h1-head          → the head of an HTTP/1.1 response, as src/http1's HeadParser parsed it, sent as is
 * Everything the connections report is recorded for the tests to check.
 */
import { createHash, type Hash } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { H2Connection, HeaderList, type H2Handler, type H2Options, type H2Stream } from '../../src/http2/connection';
import { forward, readThrough } from '../../src/worker/socket-io';
import { E_PROTOCOL_ERROR } from '../../src/http2/frames';
import { HeadParser } from '../../src/http1/parser';

export interface ClosedStream {
  id: number;
  path: string;
  code: number;
  byPeer: boolean;
}

interface Exchange {
  path: string;
  kind: 'echo' | 'sha' | 'bytes' | 'other';
  hash: Hash | null;
  received: number;
  /** /bytes: bytes still to send. */
  left: number;
  sent: number;
}

const CHUNK = Buffer.alloc(64 * 1024);
for (let i = 0; i < CHUNK.length; i++) CHUNK[i] = i & 255;
const HELLO_BODY = Buffer.from('hello');
const HELLO_HEADERS = new HeaderList().add('content-type', 'text/plain').add('content-length', String(HELLO_BODY.length));
const EMPTY = new HeaderList();
/** An upstream HTTP/1.1 head with mixed-case names and hop-by-hop fields HTTP/2 must not carry. */
const H1_RESPONSE = Buffer.from(
  'HTTP/1.1 203 Non-Authoritative\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n' +
    'X-Hop: 1\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Mixed-Case: Value\r\n\r\n',
  'latin1',
);

export interface H2TestServer {
  port: number;
  connections: Set<H2Connection>;
  closed: ClosedStream[];
  heads: number;
  ends: number[];
  goaways: number;
  /** Calls checkStalls(now, ms) on every connection every 50 ms when set. */
  stallTimeoutMs: number;
  close(): Promise<void>;
}

class TestHandler implements H2Handler {
  readonly conn: H2Connection;
  constructor(
    private readonly server: H2TestServer,
    private readonly socket: net.Socket,
    options: Partial<H2Options>,
  ) {
    this.conn = new H2Connection(this, options);
  }

  write(buf: Buffer, start: number, end: number): boolean {
    if (this.socket.destroyed) return true;
    if ((this.socket as tls.TLSSocket).encrypted) return this.socket.write(Buffer.from(buf.subarray(start, end)));
    return forward(this.socket, buf, start, end);
  }

  onRequestHead(stream: H2Stream, endStream: boolean): void {
    const head = stream.head;
    // A header list over the limit: the 431 the layer leaves to its user (not counted in `heads`).
    if (head.tooLarge) return this.conn.respondHead(stream, 431, null, true);
    this.server.heads++;
    const path = head.path();
    const method = head.method();
    const ex: Exchange = { path, kind: 'other', hash: null, received: 0, left: 0, sent: 0 };
    stream.userData = ex;
    if (path === '/hello') {
      this.conn.respondHead(stream, 200, HELLO_HEADERS, false);
      this.conn.writeData(stream, HELLO_BODY, 0, HELLO_BODY.length, true);
    } else if (path.startsWith('/bytes?n=')) {
      ex.kind = 'bytes';
      ex.left = Number(path.slice(9));
      this.conn.respondHead(stream, 200, new HeaderList().add('content-length', String(ex.left)), ex.left === 0);
      this.sendBytes(stream);
    } else if (path === '/echo' && method === 'POST') {
      ex.kind = 'echo';
      this.conn.respondHead(stream, 200, new HeaderList().add('x-echo', '1'), false);
      if (endStream) this.conn.writeData(stream, CHUNK, 0, 0, true);
    } else if (path === '/sha' && method === 'POST') {
      ex.kind = 'sha';
      ex.hash = createHash('sha256');
      if (endStream) this.finishSha(stream);
    } else if (path === '/trailers') {
      this.conn.respondHead(stream, 200, null, false);
      this.conn.writeData(stream, Buffer.from('t'), 0, 1, false);
      this.conn.writeTrailers(stream, new HeaderList().add('x-t1', 'one').add('x-t2', 'two'));
    } else if (path === '/h1-head') {
      const parsed = new HeadParser(false);
      parsed.parse(H1_RESPONSE, 0, H1_RESPONSE.length);
      this.conn.respondHead(stream, parsed.status, parsed, true);
    } else if (path === '/reset') {
      this.conn.reset(stream, E_PROTOCOL_ERROR);
    } else if (path !== '/slow') {
      this.conn.respondHead(stream, 404, EMPTY, true);
    }
  }

  private sendBytes(stream: H2Stream): void {
    const ex = stream.userData as Exchange;
    while (ex.left > 0) {
      const n = Math.min(ex.left, CHUNK.length);
      ex.left -= n;
      if (!this.conn.writeData(stream, CHUNK, 0, n, ex.left === 0)) return;
    }
  }

  private finishSha(stream: H2Stream): void {
    const ex = stream.userData as Exchange;
    const digest = Buffer.from(ex.hash!.digest('hex'));
    this.conn.respondHead(stream, 200, new HeaderList().add('content-length', String(digest.length)), false);
    this.conn.writeData(stream, digest, 0, digest.length, false);
    this.conn.writeTrailers(stream, new HeaderList().add('x-length', String(ex.received)));
  }

  onRequestData(stream: H2Stream, buf: Buffer, start: number, end: number, endStream: boolean): void {
    const ex = stream.userData as Exchange;
    ex.received += end - start;
    if (ex.kind === 'echo') {
      if (!this.conn.writeData(stream, buf, start, end, endStream)) this.conn.pauseRequestBody(stream);
    } else if (ex.kind === 'sha') {
      ex.hash!.update(buf.subarray(start, end));
      if (endStream) this.finishSha(stream);
    }
  }

  onTrailers(stream: H2Stream): void {
    const ex = stream.userData as Exchange;
    if (ex.kind === 'echo') this.conn.writeTrailers(stream, stream.trailers!);
    else if (ex.kind === 'sha') this.finishSha(stream);
  }

  onStreamWritable(stream: H2Stream): void {
    const ex = stream.userData as Exchange;
    if (ex.kind === 'bytes') this.sendBytes(stream);
    else if (ex.kind === 'echo') this.conn.resumeRequestBody(stream);
  }

  onStreamClose(stream: H2Stream, code: number): void {
    const ex = stream.userData as Exchange | null;
    this.server.closed.push({ id: stream.id, path: ex?.path ?? '', code, byPeer: stream.resetByPeer });
  }

  onGoaway(): void {
    this.server.goaways++;
  }

  onConnectionEnd(code: number): void {
    this.server.ends.push(code);
    this.socket.end();
  }
}

export async function startH2Server(opts: { tls?: { key: string; cert: string }; h2?: Partial<H2Options> } = {}): Promise<H2TestServer> {
  const state: H2TestServer = {
    port: 0,
    connections: new Set(),
    closed: [],
    heads: 0,
    ends: [],
    goaways: 0,
    stallTimeoutMs: 0,
    close: async () => undefined,
  };
  const sockets = new Set<net.Socket>();
  const serve = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const h = new TestHandler(state, socket, opts.h2 ?? {});
    const conn = h.conn;
    state.connections.add(conn);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      state.connections.delete(conn);
      conn.destroy();
    });
    socket.on('drain', () => conn.onSinkDrain());
    if (opts.tls) socket.on('data', (d: Buffer) => conn.onData(d, 0, d.length));
    else readThrough(socket, function (n, buf) { conn.onData(buf, 0, n); });
    conn.start();
  };
  const server = opts.tls
    ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert, ALPNProtocols: ['h2'] }, serve)
    : net.createServer({ noDelay: true }, serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  const timer = setInterval(() => {
    if (!state.stallTimeoutMs) return;
    const now = Date.now();
    for (const c of state.connections) c.checkStalls(now, state.stallTimeoutMs);
  }, 50);
  state.close = () =>
    new Promise<void>((resolve) => {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
