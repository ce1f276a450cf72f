/** A node:http2 client request for tests: the whole response, its trailers included. */
import * as http2 from 'node:http2';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders;
}

/** `headers` on `session`, `body` streamed in 64 KiB pieces with backpressure; resolves at the response's end. */
export function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const parts: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(parts), trailers }));
    stream.on('error', reject);
    stream.setTimeout(20000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    if (body !== undefined) {
      // Streamed in 64 KiB pieces with backpressure.
      let at = 0;
      const pump = (): void => {
        while (at < body.length) {
          const piece = body.subarray(at, at + 65536);
          at += piece.length;
          if (!stream.write(piece)) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
    }
  });
}

/**
 * A well-behaved client on its own connection to 127.0.0.1:`port`: GET `path` in a loop (bounded in count)
 * until stopped, while an attack runs on another connection; `stop` resolves to the number of 200s.
 */
export function h2Bystander(port: number, path: string): { stop(): Promise<number> } {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  let ok = 0;
  let running = true;
  const loop = (async () => {
    for (let n = 0; running && n < 100000; n++) {
      try {
        if ((await h2request(session, { ':path': path })).status === 200) ok++;
      } catch {
        // A refused stream leaves the session usable; a dead session ends the loop.
        if (session.closed || session.destroyed) return;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      session.destroy();
      return ok;
    },
  };
}
