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
