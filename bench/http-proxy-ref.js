'use strict';
/**
 * The "what Node users run today" reference: the npm `http-proxy` package in a Node
 * cluster (default round-robin scheduling), keep-alive agent, round robin over the
 * origin servers. Serves plain HTTP, HTTPS (TLS termination) and WebSocket upgrades.
 * http-proxy is loaded from BENCH_DEPS (installed outside the repo, see bench/README.md).
 *
 * Env: WORKERS, HTTP_PORT, TLS_PORT, TLS_CERT, TLS_KEY, TARGETS (comma-separated
 * host:port), WS_TARGET (host:port), BENCH_DEPS.
 */
const cluster = require('node:cluster');
const path = require('node:path');

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || 1);
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const fs = require('node:fs');
  const http = require('node:http');
  const https = require('node:https');
  const httpProxy = require(path.join(process.env.BENCH_DEPS, 'node_modules', 'http-proxy'));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const proxy = httpProxy.createProxyServer({ agent, ws: true });
  proxy.on('error', (_err, _req, res) => {
    if (res && typeof res.writeHead === 'function' && !res.headersSent) {
      res.writeHead(502);
      res.end();
    } else if (res && typeof res.destroy === 'function') res.destroy();
  });
  const targets = process.env.TARGETS.split(',').map((t) => `http://${t}`);
  const wsTarget = `http://${process.env.WS_TARGET}`;
  let next = 0;
  const onRequest = (req, res) => {
    const target = targets[next];
    next = (next + 1) % targets.length;
    proxy.web(req, res, { target });
  };
  const onUpgrade = (req, socket, head) => proxy.ws(req, socket, head, { target: wsTarget });

  const plain = http.createServer(onRequest);
  plain.on('upgrade', onUpgrade);
  plain.listen(Number(process.env.HTTP_PORT), '127.0.0.1');
  if (process.env.TLS_PORT) {
    const secure = https.createServer(
      { cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) },
      onRequest,
    );
    secure.listen(Number(process.env.TLS_PORT), '127.0.0.1');
  }
}
