/** One HTTP request's status from a given source address (limits per client address over 127.0.0.0/8). */
import * as net from 'node:net';

/** GET `path` (default /) on its own connection from `localAddress`: the status, or 0 when tslb closed (or reset) the connection without one. */
export function statusFrom(port: number, localAddress: string, opts: { host?: string; path?: string; timeoutMs?: number } = {}): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress });
    let data = '';
    s.setEncoding('latin1');
    s.on('connect', () => s.write(`GET ${opts.path ?? '/'} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => (data += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.setTimeout(opts.timeoutMs ?? 5000, () => s.destroy());
  });
}

/** What a peer at `localAddress` got for `request` on its own connection: everything tslb sent before closing. */
export function converse(host: string, port: number, localAddress: string, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress });
    let data = '';
    s.setEncoding('latin1');
    s.on('connect', () => s.end(request));
    s.on('data', (d) => (data += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
    s.setTimeout(5000, () => s.destroy());
  });
}

/**
 * Starts `perSecond` requests a second for `durationMs` on a schedule kept by the clock (a
 * late timer starts the ones it owes), the i-th by `send(i)`, and resolves with every status.
 */
export async function paced(perSecond: number, durationMs: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const started = Date.now();
  const total = Math.round((perSecond * durationMs) / 1000);
  const pending: Promise<number>[] = [];
  while (pending.length < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) * perSecond) / 1000) + 1);
    while (pending.length < due) pending.push(send(pending.length));
    await new Promise((r) => setTimeout(r, 2));
  }
  return Promise.all(pending);
}
