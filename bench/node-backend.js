'use strict';
/**
 * Fallback origin server when nginx is not installed: raw `net`, fixed responses,
 * keep-alive and pipelining. `GET /64k.bin` → 64 KiB, `GET /cached` → 96 bytes with
 * `Cache-Control: max-age=600`, anything else → 96-byte body.
 * Usage: node bench/node-backend.js <port> [<port> ...]
 */
const net = require('node:net');

const SMALL_BODY = Buffer.alloc(96, 'x');
const LARGE_BODY = Buffer.alloc(64 * 1024, 'y');
const response = (body, close, extra = '') =>
  Buffer.concat([
    Buffer.from(
      `HTTP/1.1 200 OK\r\nServer: bench-node\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n${extra}` +
        (close ? 'Connection: close\r\n' : '') +
        '\r\n',
    ),
    body,
  ]);
const SMALL = response(SMALL_BODY, false);
const SMALL_CLOSE = response(SMALL_BODY, true);
const LARGE = response(LARGE_BODY, false);
const LARGE_CLOSE = response(LARGE_BODY, true);
const CACHED = response(SMALL_BODY, false, 'Cache-Control: max-age=600\r\n');
const CACHED_CLOSE = response(SMALL_BODY, true, 'Cache-Control: max-age=600\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const CONNECTION_CLOSE = /\r\nconnection:[^\r]*close/i;

function onConnection(socket) {
  socket.setNoDelay(true);
  let pending = null;
  socket.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = buf.indexOf(HEAD_END, start);
      if (end < 0) break;
      // Only bodiless requests (GET/HEAD) are served: the head ends the request.
      const head = buf.latin1Slice(start, end);
      const close = CONNECTION_CLOSE.test(head);
      const large = head.startsWith('GET /64k.bin ');
      const cached = head.startsWith('GET /cached ');
      socket.write(large ? (close ? LARGE_CLOSE : LARGE) : cached ? (close ? CACHED_CLOSE : CACHED) : close ? SMALL_CLOSE : SMALL);
      start = end + 4;
      if (close) {
        socket.end();
        return;
      }
    }
    pending = start < buf.length ? buf.subarray(start) : null;
    if (pending && pending.length > 65536) socket.destroy();
  });
  socket.on('error', () => socket.destroy());
}

for (const port of process.argv.slice(2)) {
  net.createServer({ noDelay: true }, onConnection).listen(Number(port), '127.0.0.1');
}
