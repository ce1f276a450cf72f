'use strict';
/**
 * An HTTP/2 "hello" server for bench/h2-layer.js: every request gets 200 with a 96-byte
 * text/plain body and the same headers (content-type, content-length, date), either from
 * src/http2's frame layer on raw sockets ("own") or from node:http2's stream API ("node").
 *
 *   node bench/h2-hello-server.js own|node PORT [KEY_FILE CERT_FILE]
 *
 * With a key and certificate it serves TLS with ALPN h2, else h2c with prior knowledge.
 * The own server needs `npm run build` (it loads dist/).
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');

const [mode, portArg, keyFile, certFile] = process.argv.slice(2);
const port = Number(portArg);
const secure = Boolean(keyFile && certFile);
const BODY = Buffer.alloc(96, 'x');

if (mode === 'node') {
  const http2 = require('node:http2');
  const server = secure
    ? http2.createSecureServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) })
    : http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
    stream.end(BODY);
  });
  server.on('sessionError', () => undefined);
  server.listen(port, '127.0.0.1');
} else if (mode === 'own') {
  const dist = path.join(__dirname, '..', 'dist', 'src');
  const { H2Connection, HeaderList } = require(path.join(dist, 'http2', 'connection.js'));
  const { forward, readThrough } = require(path.join(dist, 'worker', 'socket-io.js'));

  // The date header changes once a second: the list is rebuilt then, not per response.
  let headers;
  const setHeaders = () => {
    headers = new HeaderList()
      .add('content-type', 'text/plain')
      .add('content-length', String(BODY.length))
      .add('date', new Date().toUTCString());
  };
  setHeaders();
  setInterval(setHeaders, 1000).unref();

  class HelloHandler {
    constructor(socket) {
      this.socket = socket;
      this.conn = new H2Connection(this);
    }
    write(buf, start, end) {
      if (this.socket.destroyed) return true;
      if (secure) return this.socket.write(Buffer.from(buf.subarray(start, end)));
      return forward(this.socket, buf, start, end);
    }
    onRequestHead(stream) {
      this.conn.respondHead(stream, 200, headers, false);
      this.conn.writeData(stream, BODY, 0, BODY.length, true);
    }
    onRequestData() {}
    onTrailers() {}
    onStreamWritable() {}
    onStreamClose() {}
    onGoaway() {}
    onConnectionEnd() {
      this.socket.end();
    }
  }

  function onChunk(n, buf) {
    this.h2.onData(buf, 0, n);
  }

  const serve = (socket) => {
    socket.setNoDelay(true);
    const handler = new HelloHandler(socket);
    socket.h2 = handler.conn;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => handler.conn.destroy());
    socket.on('drain', () => handler.conn.onSinkDrain());
    if (secure) socket.on('data', (d) => handler.conn.onData(d, 0, d.length));
    else readThrough(socket, onChunk);
    handler.conn.start();
  };
  const server = secure
    ? tls.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), ALPNProtocols: ['h2'] }, serve)
    : net.createServer(serve);
  server.listen(port, '127.0.0.1');
} else {
  console.error('usage: h2-hello-server.js own|node PORT [KEY_FILE CERT_FILE]');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
