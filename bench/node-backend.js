'use strict';
/**
 * Fallback origin server when nginx is not installed: raw `net`, fixed responses,
 * keep-alive and pipelining. `GET /64k.bin` → 64 KiB, `GET /64k.txt` → 64 KiB of
 * text/plain (the compression workload), `GET /cached` → 96 bytes with
 * `Cache-Control: max-age=600`, anything else → 96-byte body.
 * Usage: node bench/node-backend.js <port> [<port> ...]
 */
const net = require('node:net');
const { benchText } = require('./lib/configs');

const SMALL_BODY = Buffer.alloc(96, 'x');
const LARGE_BODY = Buffer.alloc(64 * 1024, 'y');
const response = (body, close, type = 'application/octet-stream', extra = '') =>
  Buffer.concat([
    Buffer.from(
      `HTTP/1.1 200 OK\r\nServer: bench-node\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n${extra}` +
        (close ? 'Connection: close\r\n' : '') +
        '\r\n',
    ),
    body,
  ]);
const SMALL = response(SMALL_BODY, false);
const SMALL_CLOSE = response(SMALL_BODY, true);
const LARGE = response(LARGE_BODY, false);
const LARGE_CLOSE = response(LARGE_BODY, true);
const CACHED = response(SMALL_BODY, false, undefined, 'Cache-Control: max-age=600\r\n');
const CACHED_CLOSE = response(SMALL_BODY, true, undefined, 'Cache-Control: max-age=600\r\n');
const TEXT = response(benchText(64 * 1024), false, 'text/plain');
const TEXT_CLOSE = response(benchText(64 * 1024), true, 'text/plain');
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
      const text = head.startsWith('GET /64k.txt ');
      socket.write(large ? (close ? LARGE_CLOSE : LARGE) : text ? (close ? TEXT_CLOSE : TEXT) : cached ? (close ? CACHED_CLOSE : CACHED) : close ? SMALL_CLOSE : SMALL);
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
