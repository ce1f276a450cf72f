/**
 * Socket I/O for forwarding, without Node's stream machinery on the hot path.
 *
 * Reading: every socket of a worker reads into ONE shared buffer (Node's `onread` user
 * buffer), so a read allocates nothing and skips `Readable.push` and its per-chunk
 * `nextTick`. A chunk handed to a `ChunkHandler` is therefore valid only during the call:
 * whatever outlives it must be copied (`retain`). It is switched on through the slots
 * Node's constructor fills for `connect({ onread })`, found once by their symbol names, so
 * it works for accepted and connected sockets alike; where a Node version lacks them, or
 * the stream already holds bytes, or the socket is TLS, the socket falls back to `'data'`
 * events with the same handler, and everything still works.
 *
 * Writing: `forward` writes straight to the descriptor (`write(2)` through `fs.writeSync`)
 * when the peer has nothing queued, so the shared buffer is never left referenced by a
 * pending write: an unwritten remainder is copied and queued on the stream, which keeps
 * order and backpressure. TLS sockets and sockets still connecting always use the stream.
 * A socket's `bytesWritten` misses the direct writes: callers count what they forward.
 *
 * Measured on the L4 64 B keep-alive workload against HAProxy in the same run: `'data'`
 * events + `write()` 0.63× its CPU efficiency, per-socket `onread` buffers 0.76×, this 0.82×
 * (and one 64 KiB buffer per worker instead of one per socket).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

export const READ_BUFFER_SIZE = 64 * 1024;

const shared = Buffer.allocUnsafe(READ_BUFFER_SIZE);

/** Called with `this` = the socket that read `n` bytes into `buf[0..n)`. */
export type ChunkHandler = (this: net.Socket, n: number, buf: Buffer) => void;

interface FastSocket extends net.Socket {
  chunkHandler?: ChunkHandler;
  /** The descriptor, read once: `_handle.fd` is a getter into C++. */
  directFd?: number;
  _handle?: { fd?: number; useUserBuffer?: (b: Buffer) => void } | null;
  _unrefTimer?: () => void;
}

/** Node's own slots for `onread` (net.js `kBuffer`, `kBufferCb`, `kBufferGen`), if this Node has them. */
const slots = (() => {
  const probe = new net.Socket();
  const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  probe.destroy();
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
})();

function onDataFallback(this: FastSocket, chunk: Buffer): void {
  this.chunkHandler!.call(this, chunk.length, chunk);
}

/**
 * Read a socket (accepted or connected) through `handler` from now on. Call it before
 * anything is read, or after `'data'` reading with nothing left buffered in the stream.
 */
export function readThrough(socket: net.Socket, handler: ChunkHandler): void {
  const s = socket as FastSocket;
  const handle = s._handle;
  s.directFd = handle?.fd; // -1 while connecting: forward() reads it again
  if (slots && handle && typeof handle.useUserBuffer === 'function' && s.readableLength === 0 && !(s as { encrypted?: boolean }).encrypted) {
    const rec = s as unknown as Record<symbol, unknown>;
    // No generator: Node keeps reading into the same buffer.
    rec[slots.generator] = null;
    rec[slots.callback] = handler;
    rec[slots.buffer] = shared;
    handle.useUserBuffer(shared);
    return;
  }
  s.chunkHandler = handler;
  s.on('data', onDataFallback);
}

/** Whether `buf` is a view of the shared read buffer (valid only during the handler call). */
export function isShared(buf: Buffer): boolean {
  return buf.buffer === shared.buffer;
}

/** Copy of `buf[start..end)` that outlives the handler call. */
export function retain(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

/**
 * Write `buf[start..end)` to `peer`; false when the peer is backed up (pause the source
 * until its `'drain'`), as `write()` does.
 */
export function forward(peer: net.Socket, buf: Buffer, start: number, end: number): boolean {
  const p = peer as FastSocket;
  const n = end - start;
  const handle = p._handle;
  let fd = p.directFd;
  if (handle && (fd === undefined || fd < 0)) p.directFd = fd = handle.fd;
  if (handle && fd !== undefined && fd >= 0 && p.writableLength === 0 && !p.connecting && !p.destroyed && !p.writableEnded && !(p as { encrypted?: boolean }).encrypted) {
    let written = 0;
    try {
      written = fs.writeSync(fd, buf, start, n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        p.destroy(err as Error);
        return true;
      }
    }
    // The inactivity timeout (L4's) counts writes as activity, as a stream write would.
    if (p.timeout) p._unrefTimer?.();
    if (written === n) return true;
    start += written;
  }
  return p.write(retain(buf, start, end));
}
