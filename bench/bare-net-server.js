'use strict';
/**
 * The memory baseline of the idle-connection workload: a bare Node `net` server that
 * answers every read with one fixed HTTP response and keeps the connection open.
 * Usage: node bench/bare-net-server.js <port>
 */
const net = require('node:net');

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
net
  .createServer((s) => {
    s.on('data', () => s.write(RESPONSE));
    s.on('error', () => s.destroy());
  })
  .listen(Number(process.argv[2]), '127.0.0.1');
