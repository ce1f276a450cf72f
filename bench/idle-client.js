'use strict';
/**
 * Opens `count` keep-alive connections to 127.0.0.1:<port>, sends one GET on each,
 * reads the response, then holds them idle. Prints `READY <n> <errors>` when all are
 * idle, and exits when stdin closes or after `holdSeconds`.
 * Usage: node bench/idle-client.js <port> <count> <holdSeconds>
 */
const net = require('node:net');

const [portArg, countArg, holdArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n');
const BATCH = 200; // connections opened concurrently, to stay inside accept backlogs
const sockets = [];
let errors = 0;
const errorKinds = {};
const countError = (kind) => {
  errors++;
  errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
};

function openOne() {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(REQUEST));
    s.once('data', () => resolve(true));
    s.on('error', (err) => {
      countError(err.code ?? 'error');
      resolve(false);
    });
    s.once('end', () => resolve(false));
    s.setTimeout(10000, () => {
      countError('timeout');
      s.destroy();
      resolve(false);
    });
    sockets.push(s);
  });
}

(async () => {
  let ok = 0;
  for (let i = 0; i < count; i += BATCH) {
    const n = Math.min(BATCH, count - i);
    const results = await Promise.all(Array.from({ length: n }, openOne));
    ok += results.filter(Boolean).length;
  }
  for (const s of sockets) s.setTimeout(0);
  process.stdout.write(`READY ${ok} ${errors} ${JSON.stringify(errorKinds)}\n`);
  const done = () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.stdin.on('end', done);
  process.stdin.on('close', done);
  process.stdin.resume();
  setTimeout(done, Number(holdArg) * 1000);
})();
