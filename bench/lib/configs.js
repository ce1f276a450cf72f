'use strict';
/**
 * Equivalent configurations for every proxy under test, generated from one spec:
 *
 *   spec = { workers, acceptMode, ports: { http, rules, tls, ws, tcp },
 *            origins: [port, port], wsOrigin: port, pem, cert, key, runDir, maxconn }
 *
 * Every proxy gets the same frontends: L7 plain, L7 with the rule set, L7 over TLS,
 * L7 to the WebSocket origin, and L4. Timeouts are long enough that no workload hits them.
 */

/** The 1,000-entry Host → backend routing table: host-<i>.bench.local → rt<i % 10>. */
const ROUTE_HOSTS = 1000;
const ROUTE_BACKENDS = 10;
const routeHost = (i) => `host-${i}.bench.local`;
/** The Host header the rules workload sends: the last table entry, i.e. the worst case for a linear scan. */
const RULES_HOST = routeHost(ROUTE_HOSTS - 1);

/** The 10 header rules, as HAProxy `http-request` / `http-response` lines (the tslb YAML reuses the same text). */
const REQUEST_RULES = [
  'set-header X-Bench-Req-1 one',
  'set-header X-Bench-Req-2 two',
  'add-header X-Bench-Req-3 three',
  'add-header X-Bench-Req-4 four',
  'del-header X-Bench-Drop',
  'set-header X-Bench-Req-6 six if { path_beg / }',
  'set-header X-Bench-Req-7 seven if { hdr(host) -i ' + RULES_HOST + ' }',
];
const RESPONSE_RULES = ['set-header X-Bench-Res-1 one', 'set-header X-Bench-Res-2 two', 'del-header X-Bench-Res-Drop'];

function haproxyConfig(spec) {
  const servers = spec.origins.map((p, i) => `  server s${i + 1} 127.0.0.1:${p}`).join('\n');
  const lines = [];
  lines.push(
    'global',
    `  nbthread ${spec.workers}`,
    `  maxconn ${spec.maxconn}`,
    `  stats socket ${spec.runDir}/haproxy.sock level admin`,
    '  tune.ssl.default-dh-param 2048',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout http-request 30s',
    '  timeout http-keep-alive 120s',
    '  timeout tunnel 120s',
    '  option http-keep-alive',
    '  option forwardfor',
    '  http-reuse safe',
    `  maxconn ${spec.maxconn}`,
    '',
    'frontend fe_http',
    `  bind 127.0.0.1:${spec.ports.http}`,
    '  default_backend be_app',
    '',
    'frontend fe_rules',
    `  bind 127.0.0.1:${spec.ports.rules}`,
    ...REQUEST_RULES.map((r) => `  http-request ${r}`),
    ...RESPONSE_RULES.map((r) => `  http-response ${r}`),
  );
  for (let i = 0; i < ROUTE_HOSTS; i++) lines.push(`  use_backend rt${i % ROUTE_BACKENDS} if { hdr(host) -i ${routeHost(i)} }`);
  lines.push(
    '  default_backend be_app',
    '',
    'frontend fe_tls',
    `  bind 127.0.0.1:${spec.ports.tls} ssl crt ${spec.pem}`,
    '  default_backend be_app',
    '',
    'frontend fe_ws',
    `  bind 127.0.0.1:${spec.ports.ws}`,
    '  default_backend be_ws',
    '',
    'frontend fe_tcp',
    '  mode tcp',
    `  bind 127.0.0.1:${spec.ports.tcp}`,
    '  default_backend be_tcp',
    '',
    'backend be_app',
    '  balance roundrobin',
    servers,
    '',
  );
  for (let b = 0; b < ROUTE_BACKENDS; b++) lines.push(`backend rt${b}`, '  balance roundrobin', servers, '');
  lines.push(
    'backend be_ws',
    `  server w1 127.0.0.1:${spec.wsOrigin}`,
    '',
    'backend be_tcp',
    '  mode tcp',
    '  balance roundrobin',
    servers,
    '',
  );
  return lines.join('\n');
}

/**
 * tslb's native YAML (the format of config/*.yaml and test/process.test.ts).
 * Keys beyond the basic frontend/backend shape (accept_mode, tls, http_request,
 * use_backend) follow the model's field names; if the loader spells them differently,
 * `tslb -c` reports it and the harness skips tslb for the workloads that need them.
 */
function tslbConfig(spec) {
  const servers = spec.origins.map((p, i) => `      - { name: s${i + 1}, address: 127.0.0.1, port: ${p} }`).join('\n');
  const quote = (s) => JSON.stringify(s);
  const out = [];
  out.push(
    'global:',
    `  workers: ${spec.workers}`,
    `  maxconn: ${spec.maxconn}`,
    ...(spec.acceptMode ? [`  accept_mode: ${spec.acceptMode}`] : []),
    'defaults:',
    '  timeouts: { connect: 5s, client: 120s, server: 120s, http_request: 30s, http_keep_alive: 120s, tunnel: 120s }',
    'frontends:',
    '  - name: fe_http',
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.http}"]`,
    '    default_backend: be_app',
    '  - name: fe_rules',
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.rules}"]`,
    '    http_request:',
    ...REQUEST_RULES.map((r) => `      - ${quote(r)}`),
    '    http_response:',
    ...RESPONSE_RULES.map((r) => `      - ${quote(r)}`),
    '    use_backend:',
  );
  for (let i = 0; i < ROUTE_HOSTS; i++) out.push(`      - { backend: rt${i % ROUTE_BACKENDS}, if: ${quote(`hdr(host) -i ${routeHost(i)}`)} }`);
  out.push(
    '    default_backend: be_app',
    '  - name: fe_tls',
    '    mode: http',
    `    binds: [{ address: 127.0.0.1, port: ${spec.ports.tls}, tls: { cert: ${quote(spec.cert)}, key: ${quote(spec.key)} } }]`,
    '    default_backend: be_app',
    '  - name: fe_ws',
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.ws}"]`,
    '    default_backend: be_ws',
    '  - name: fe_tcp',
    '    mode: tcp',
    `    binds: ["127.0.0.1:${spec.ports.tcp}"]`,
    '    default_backend: be_tcp',
    'backends:',
    '  - name: be_app',
    '    mode: http',
    '    balance: roundrobin',
    '    servers:',
    servers,
  );
  for (let b = 0; b < ROUTE_BACKENDS; b++) out.push(`  - name: rt${b}`, '    mode: http', '    balance: roundrobin', '    servers:', servers);
  out.push(
    '  - name: be_ws',
    '    mode: http',
    '    servers:',
    `      - { name: w1, address: 127.0.0.1, port: ${spec.wsOrigin} }`,
    '  - name: be_tcp',
    '    mode: tcp',
    '    balance: roundrobin',
    '    servers:',
    servers,
    '',
  );
  return out.join('\n');
}

/** nginx as the origin: one worker, two server blocks (`/` → 96 bytes, `/64k.bin` → 64 KiB). */
function nginxOriginConfig({ runDir, origins }) {
  const servers = origins
    .map(
      (p) => `  server {
    listen 127.0.0.1:${p} backlog=4096;
    root ${runDir}/www;
    location = / { default_type text/plain; return 200 "${'x'.repeat(95)}\\n"; }
    location = /64k.bin { }
  }`,
    )
    .join('\n');
  return `worker_processes 1;
daemon off;
pid ${runDir}/nginx.pid;
error_log ${runDir}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path ${runDir}/nginx-tmp;
  proxy_temp_path ${runDir}/nginx-tmp;
  fastcgi_temp_path ${runDir}/nginx-tmp;
  uwsgi_temp_path ${runDir}/nginx-tmp;
  scgi_temp_path ${runDir}/nginx-tmp;
${servers}
}
`;
}

module.exports = { haproxyConfig, tslbConfig, nginxOriginConfig, RULES_HOST, ROUTE_HOSTS, REQUEST_RULES, RESPONSE_RULES };
