'use strict';
/**
 * WebSocket echo load: `connections` clients, each with one message in flight
 * (send, wait for the echo, send again) for `seconds`; prints one BENCHJSON line.
 * Usage: node bench/ws-client.js <url> <connections> <seconds> <messageBytes>
 */
const { WebSocket } = require('ws');

const [url, connArg, secArg, sizeArg] = process.argv.slice(2);
const connections = Number(connArg);
const durationMs = Number(secArg) * 1000;
const payload = Buffer.alloc(Number(sizeArg), 'm');
let messages = 0;
let errors = 0;
let open = 0;
let started = 0;
let finished = false;
const sockets = [];

function finish() {
  if (finished) return;
  finished = true;
  const elapsedUs = Math.round((performance.now() - started) * 1000);
  process.stdout.write(`BENCHJSON ${JSON.stringify({ requests: messages, duration_us: elapsedUs, errors: { other: errors }, connections: open })}\n`);
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}

for (let i = 0; i < connections; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  sockets.push(ws);
  ws.on('open', () => {
    open++;
    if (open === connections) {
      // Count only once every connection is up, so all targets are measured the same way.
      started = performance.now();
      setTimeout(finish, durationMs);
      for (const s of sockets) s.send(payload);
    }
  });
  ws.on('message', () => {
    if (finished) return;
    if (started) messages++;
    ws.send(payload);
  });
  ws.on('error', () => errors++);
}
// Hard bound even when connections never open.
setTimeout(finish, durationMs + 10000).unref();
