/**
 * Built-in demo backends for `tslb --demo` (the README quick start): three small
 * HTTP servers on 127.0.0.1:9001-9003 that say which one answered, so a newcomer
 * sees requests being balanced without writing a backend.
 */
import * as http from 'node:http';

export const DEMO_PORTS = [9001, 9002, 9003];

export async function startDemoBackends(): Promise<http.Server[]> {
  return Promise.all(
    DEMO_PORTS.map(
      (port, i) =>
        new Promise<http.Server>((resolve, reject) => {
          const name = `demo${i + 1}`;
          const server = http.createServer((req, res) => {
            const body = JSON.stringify({ server: name, port, method: req.method, url: req.url, xForwardedFor: req.headers['x-forwarded-for'] ?? null }) + '\n';
            res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name, 'content-length': Buffer.byteLength(body) });
            res.end(body);
          });
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
}
