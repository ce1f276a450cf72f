/** One HTTP request's status from a given source address (limits per client address over 127.0.0.0/8). */
import * as net from 'node:net';

/** GET / on its own connection from `localAddress`: the status, or 0 when tslb closed (or reset) the connection without one. */
export function statusFrom(port: number, localAddress: string, opts: { host?: string; timeoutMs?: number } = {}): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress });
    let data = '';
    s.setEncoding('latin1');
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (data += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.setTimeout(opts.timeoutMs ?? 5000, () => s.destroy());
  });
}
