/**
 * An HTTP check over HTTP/2 (HAProxy's `check-proto h2`, and the checks of a `proto h2`
 * server): the request of `option httpchk` / `http-check send` on one stream of a
 * node:http2 client session over the check's connection (h2c prior knowledge, or TLS
 * whose ALPN picked h2), then the session is closed. The check session keeps its
 * timeouts and statuses (L4CON, L6RSP, L7TOUT…); an h2 protocol error is L7RSP.
 * Checks run in the primary, off the data path.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { HttpCheckSpec } from '../config/model';
import { MAX_CHECK_RESPONSE } from '../config/limits';
import type { CheckReply } from './http';
import type { CheckSession } from './session';
import { CheckFailure } from './types';
import { CONNECTION_FIELDS } from '../http2/upstream-stream';


function noop(): void {}

/** The h2 request of `spec` (its `Host` as :authority, else the connect address). */
function requestHeaders(spec: HttpCheckSpec, scheme: string): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = { ':method': spec.method || 'OPTIONS', ':path': spec.uri || '/', ':scheme': scheme };
  for (const h of spec.headers) {
    const name = h.name.toLowerCase();
    if (name === 'host') headers[':authority'] = h.value;
    // The stream frames the body itself: no content-length of the HTTP/1 request.
    else if (name !== 'content-length' && !CONNECTION_FIELDS.has(name)) headers[name] = h.value;
  }
  return headers;
}

/** One request/response over the session's connection, which speaks h2. */
export async function h2Exchange(s: CheckSession, spec: HttpCheckSpec, needsBody: boolean): Promise<CheckReply> {
  const socket = s.connection!;
  const scheme = s.tls ? 'https' : 'http';
  const host = socket.remoteAddress ?? '127.0.0.1';
  const authority = `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
  const client = http2.connect(authority, { createConnection: () => socket, settings: { enablePush: false } });
  client.on('error', noop);
  try {
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
    const req = client.request(requestHeaders(spec, scheme), { endStream: body === undefined });
    if (body) req.end(body);
    return await s.settle(
      new Promise<CheckReply>((resolve, reject) => {
        const failed = (message: string) => reject(new CheckFailure({ status: 'L7RSP', desc: `h2: ${message}` }));
        req.on('error', (err: Error) => failed(err.message));
        req.on('close', () => failed(`stream closed without a response (code ${req.rstCode ?? 0})`));
        req.on('response', (h) => {
          const status = Number(h[':status']);
          const headers: [string, string][] = [];
          for (const [name, value] of Object.entries(h)) {
            if (name.startsWith(':') || value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [String(value)]) headers.push([name, v]);
          }
          if (!needsBody) return resolve({ status, reason: '', headers, body: undefined });
          const parts: Buffer[] = [];
          let size = 0;
          req.on('data', (chunk: Buffer) => {
            if (size >= MAX_CHECK_RESPONSE) return;
            parts.push(chunk);
            size += chunk.length;
          });
          req.on('end', () => resolve({ status, reason: '', headers, body: Buffer.concat(parts) }));
        });
      }),
    );
  } finally {
    client.destroy();
  }
}
