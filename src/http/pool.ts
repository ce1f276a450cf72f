/**
 * Keep-alive connections to servers: one LIFO stack per server (the most recently
 * used socket is the warmest and the least likely to have been closed by the
 * server), idle connections dropped after IDLE_MS, which stays below the common
 * 5 s server keep-alive so we never reuse a socket the server is closing.
 */
import type * as net from 'node:net';
import type { ServerRuntime } from '../worker/runtime';
import { readThrough } from '../worker/socket-io';

export const IDLE_MS = 4000;
/** Idle sockets kept per server and worker; more are closed. */
const MAX_IDLE_PER_SERVER = 512;

/** The session currently using an upstream connection. */
export interface UpstreamOwner {
  /** Server bytes `buf[0..end)`; `buf` may be the shared read buffer: copy what must outlive the call. */
  onUpstreamData(buf: Buffer, end: number): void;
  onUpstreamEnd(): void;
  onUpstreamClose(): void;
  onUpstreamDrain(): void;
}

export class Upstream {
  owner: UpstreamOwner | null = null;
  idleSince = 0;
  /** Requests sent on this connection, for "reused" decisions. */
  uses = 0;
  closed = false;

  constructor(
    readonly socket: net.Socket,
    readonly server: ServerRuntime,
    /** `server.moves` when the connect started: the address it leads to. */
    readonly moves: number,
  ) {
    (socket as UpstreamSocket).upstream = this;
    readThrough(socket, onUpstreamChunk);
    socket.on('end', () => {
      if (this.owner) this.owner.onUpstreamEnd();
    });
    socket.on('drain', () => {
      if (this.owner) this.owner.onUpstreamDrain();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      if (this.owner) this.owner.onUpstreamClose();
      else removeIdle(this);
    });
  }
}

interface UpstreamSocket extends net.Socket {
  upstream?: Upstream;
}

/** `buf[0..n)` was read into the shared read buffer: valid during the call only (../worker/socket-io.ts). */
function onUpstreamChunk(this: UpstreamSocket, n: number, buf: Buffer): void {
  const owner = this.upstream!.owner;
  if (owner) owner.onUpstreamData(buf, n);
  else this.destroy(); // bytes on an idle connection: protocol error
}

const pools = new Map<ServerRuntime, Upstream[]>();

/** The most recently parked live connection to this server, if any. */
export function takeIdle(server: ServerRuntime, now: number): Upstream | undefined {
  const stack = pools.get(server);
  if (!stack) return undefined;
  while (stack.length) {
    const up = stack.pop()!;
    if (!up.closed && now - up.idleSince < IDLE_MS) {
      return up;
    }
    up.socket.destroy();
  }
  return undefined;
}

export function parkIdle(up: Upstream, now: number): void {
  up.owner = null;
  // The server moved while this connection was busy (or connecting): it leads to the old address.
  if (up.moves !== up.server.moves) {
    up.socket.destroy();
    return;
  }
  up.idleSince = now;
  // Read while idle, so a server's close is noticed before the socket is reused.
  if (up.socket.isPaused()) up.socket.resume();
  let stack = pools.get(up.server);
  if (!stack) pools.set(up.server, (stack = []));
  if (stack.length >= MAX_IDLE_PER_SERVER) {
    up.socket.destroy();
    return;
  }
  stack.push(up);
}

function removeIdle(up: Upstream): void {
  const stack = pools.get(up.server);
  if (!stack) return;
  const i = stack.indexOf(up);
  if (i >= 0) stack.splice(i, 1);
  if (!stack.length) pools.delete(up.server);
}

/** Close connections idle for IDLE_MS or more (oldest are at the bottom of each stack). */
export function sweepIdle(now: number): void {
  for (const [server, stack] of pools) {
    let n = 0;
    while (n < stack.length && now - stack[n].idleSince >= IDLE_MS) n++;
    if (n) for (const up of stack.splice(0, n)) up.socket.destroy();
    if (!stack.length) pools.delete(server);
  }
}

/** Close the idle connections to one server (it moved: `set server addr`). */
export function closeIdleTo(server: ServerRuntime): void {
  const stack = pools.get(server);
  if (!stack) return;
  pools.delete(server);
  for (const up of stack) up.socket.destroy();
}

/** Close every idle connection (drain, stop, tests). */
export function closeIdleUpstreams(): void {
  for (const stack of pools.values()) for (const up of stack) up.socket.destroy();
  pools.clear();
}
