'use strict';
/**
 * Equivalent configurations for every proxy under test, generated from one spec:
 *
 *   spec = { workers, acceptMode, ports: { http, rules, ratelimit, tls, ws, tcp, cache, comp },
 *            origins: [port, port], wsOrigin: port, pem, cert, key, runDir, maxconn }
 *
 * Every proxy gets the same frontends: L7 plain, L7 with the rule set, L7 with a
 * per-address request rate (RATE_LIMIT_LINES), L7 over TLS, L7 to the WebSocket origin, L4,
 * L7 through an HTTP cache (`/cached` is cacheable at the origin: every request after the first
 * is a hit), and L7 with gzip compression (HAProxy's default level 1 on both). Timeouts are
 * long enough that no workload hits them.
 */

/** The 1,000-entry Host → backend routing table: host-<i>.bench.local → rt<i % 10>. */
const ROUTE_HOSTS = 1000;
const ROUTE_BACKENDS = 10;
const routeHost = (i) => `host-${i}.bench.local`;
/** The Host header the rules workload sends: the last table entry, i.e. the worst case for a linear scan. */
const RULES_HOST = routeHost(ROUTE_HOSTS - 1);

/** The 10 header rules: 7 on the request (one del-header, two conditional), 3 on the response. */
const REQUEST_RULES = [
  { act: 'set-header', name: 'X-Bench-Req-1', value: 'one' },
  { act: 'set-header', name: 'X-Bench-Req-2', value: 'two' },
  { act: 'add-header', name: 'X-Bench-Req-3', value: 'three' },
  { act: 'add-header', name: 'X-Bench-Req-4', value: 'four' },
  { act: 'del-header', name: 'X-Bench-Drop' },
  { act: 'set-header', name: 'X-Bench-Req-6', value: 'six', if: 'path_beg /' },
  { act: 'set-header', name: 'X-Bench-Req-7', value: 'seven', if: `hdr(host) -i ${RULES_HOST}` },
];
const RESPONSE_RULES = [
  { act: 'set-header', name: 'X-Bench-Res-1', value: 'one' },
  { act: 'set-header', name: 'X-Bench-Res-2', value: 'two' },
  { act: 'del-header', name: 'X-Bench-Res-Drop' },
];

/** The compression frontend's lines, the same HAProxy lines in both proxies. */
const COMPRESSION_LINES = ['compression algo gzip', 'compression type text/plain'];

/** `n` bytes of compressible text (words in a reproducible order): the origin's /64k.txt. */
function benchText(n) {
  const words = ['proxy', 'frontend', 'backend', 'server', 'balance', 'roundrobin', 'check', 'timeout', 'compression', 'header', 'request', 'response'];
  const out = Buffer.alloc(n);
  let x = 1;
  let at = 0;
  while (at < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    at += out.write(words[x % words.length] + (x % 11 === 0 ? '\n' : ' '), at, 'latin1');
  }
  return out;
}

/**
 * The rate-limit workload's lines, the same in both proxies: every request is tracked by
 * source address and its rate compared, with a limit no benchmark reaches (nothing is denied).
 */
const RATE_LIMIT_LINES = [
  'stick-table type ip size 100k expire 30s store http_req_rate(10s)',
  'http-request track-sc0 src',
  'http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1000000000 }',
];

/** `set-header X v if { cond }` */
function haproxyRule(r) {
  return `${r.act} ${r.name}${r.value !== undefined ? ` ${r.value}` : ''}${r.if ? ` if { ${r.if} }` : ''}`;
}

/** `{ set_header: { name: X, value: v }, if: "cond" }` */
function tslbRule(r) {
  const key = r.act.replace('-', '_');
  const action = r.value !== undefined ? `{ name: ${r.name}, value: ${r.value} }` : r.name;
  return `{ ${key}: ${action}${r.if ? `, if: ${JSON.stringify(r.if)}` : ''} }`;
}

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
    ...REQUEST_RULES.map((r) => `  http-request ${haproxyRule(r)}`),
    ...RESPONSE_RULES.map((r) => `  http-response ${haproxyRule(r)}`),
  );
  for (let i = 0; i < ROUTE_HOSTS; i++) lines.push(`  use_backend rt${i % ROUTE_BACKENDS} if { hdr(host) -i ${routeHost(i)} }`);
  lines.push(
    '  default_backend be_app',
    '',
    'frontend fe_ratelimit',
    `  bind 127.0.0.1:${spec.ports.ratelimit}`,
    ...RATE_LIMIT_LINES.map((l) => `  ${l}`),
    '  default_backend be_app',
    '',
    'frontend fe_tls',
    // h2 by ALPN as tslb offers it (HTTP/1.1 clients such as wrk still get HTTP/1.1).
    `  bind 127.0.0.1:${spec.ports.tls} ssl crt ${spec.pem} alpn h2,http/1.1`,
    '  default_backend be_app',
    '',
    'frontend fe_ws',
    `  bind 127.0.0.1:${spec.ports.ws}`,
    '  default_backend be_ws',
    '',
    'cache bench',
    '  total-max-size 64',
    '  max-age 600',
    '',
    'frontend fe_cache',
    `  bind 127.0.0.1:${spec.ports.cache}`,
    '  http-request cache-use bench',
    '  http-response cache-store bench',
    '  default_backend be_app',
    '',
    'frontend fe_tcp',
    '  mode tcp',
    `  bind 127.0.0.1:${spec.ports.tcp}`,
    '  default_backend be_tcp',
    '',
    'frontend fe_comp',
    `  bind 127.0.0.1:${spec.ports.comp}`,
    ...COMPRESSION_LINES.map((l) => `  ${l}`),
    '  default_backend be_app',
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
 * tslb's native YAML (src/config/schema.ts). HTTP frontends add X-Forwarded-For only,
 * like HAProxy's `option forwardfor`, so both do the same header work. If the loader
 * rejects a section, `tslb -c` says so and the harness skips the workloads needing it.
 */
// HAProxy's config has no `log` line, so it logs nothing: tslb's access logs (on by default) are off to match.
const NO_LOG = '    log: { enabled: false }';
const FORWARDING = `    forwardfor: true\n    forwarded_proto: false\n    forwarded_host: false\n${NO_LOG}`;

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
    'caches:',
    '  - { name: bench, total_max_size: 64, max_age: 600 }',
    'frontends:',
    '  - name: fe_http',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.http}"]`,
    '    default_backend: be_app',
    '  - name: fe_rules',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.rules}"]`,
    '    http_request:',
    ...REQUEST_RULES.map((r) => `      - ${tslbRule(r)}`),
    '    http_response:',
    ...RESPONSE_RULES.map((r) => `      - ${tslbRule(r)}`),
    '    use_backend:',
  );
  for (let i = 0; i < ROUTE_HOSTS; i++) out.push(`      - { backend: rt${i % ROUTE_BACKENDS}, if: ${quote(`hdr(host) -i ${routeHost(i)}`)} }`);
  out.push(
    '    default_backend: be_app',
    '  - name: fe_ratelimit',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.ratelimit}"]`,
    '    options:',
    ...RATE_LIMIT_LINES.map((l) => `      - ${quote(l)}`),
    '    default_backend: be_app',
    '  - name: fe_tls',
    FORWARDING,
    '    mode: http',
    `    binds: [{ address: 127.0.0.1, port: ${spec.ports.tls}, ssl: { certificates: [${quote(spec.pem)}] } }]`,
    '    default_backend: be_app',
    '  - name: fe_ws',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.ws}"]`,
    '    default_backend: be_ws',
    '  - name: fe_cache',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.cache}"]`,
    '    http_request: [{ cache_use: bench }]',
    '    http_response: [{ cache_store: bench }]',
    '    default_backend: be_app',
    '  - name: fe_tcp',
    NO_LOG,
    '    mode: tcp',
    `    binds: ["127.0.0.1:${spec.ports.tcp}"]`,
    '    default_backend: be_tcp',
    '  - name: fe_comp',
    FORWARDING,
    '    mode: http',
    `    binds: ["127.0.0.1:${spec.ports.comp}"]`,
    `    options: [${COMPRESSION_LINES.join(', ')}]`,
    '    default_backend: be_app',
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

/** nginx as the origin: one worker, two server blocks (`/` → 96 bytes, `/64k.bin` → 64 KiB, `/64k.txt` → 64 KiB of text/plain, `/cached` → 96 bytes with max-age=600). */
function nginxOriginConfig({ runDir, origins }) {
  const servers = origins
    .map(
      (p) => `  server {
    listen 127.0.0.1:${p} backlog=4096;
    root ${runDir}/www;
    location = / { default_type text/plain; return 200 "${'x'.repeat(95)}\\n"; }
    location = /64k.bin { }
    location = /cached { default_type text/plain; add_header Cache-Control "max-age=600"; return 200 "${'x'.repeat(95)}\\n"; }
    location = /64k.txt { default_type text/plain; }
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

module.exports = { haproxyConfig, tslbConfig, nginxOriginConfig, benchText, RULES_HOST, ROUTE_HOSTS, REQUEST_RULES, RESPONSE_RULES, RATE_LIMIT_LINES };
