/**
 * HAProxy's everyday fetches and matchers through a real tslb: each `use_backend` rule
 * sends its request to a backend of its own (the backend adds `x-route: <name>`, the
 * one test server echoes it), so every assertion names the backend that answered.
 * Also: pattern files (-f, -M), map converters in dynamic `use_backend` names, nbsrv /
 * be_conn / fe_conn, ssl_fc_sni, and `tslb -c` refusing misplaced fetches.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { issueCert } from './helpers/certs';
import { tcpCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Answers with the `x-route` its tslb backend added; requests with `x-hold` wait until released. */
const held: http.ServerResponse[] = [];
let echoPort = 0;
async function startEcho(): Promise<void> {
  const server = http.createServer((req, res) => {
    const route = String(req.headers['x-route'] ?? 'none');
    req.resume();
    req.on('end', () => {
      res.setHeader('x-route', route);
      if (req.headers['x-hold']) held.push(res);
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  echoPort = (server.address() as net.AddressInfo).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const res of held) res.end();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
}

/** A backend that tells its name in `x-route`, with more http_request rules when given. */
function backend(name: string, rules: string[] = []): string {
  return `  - name: ${name}
    mode: http
    http_request: [${[...rules, `{ set_header: { name: x-route, value: ${name} } }`].join(', ')}]
    servers: [{ name: s1, address: 127.0.0.1, port: ${echoPort} }]`;
}

const dir = tempDir();
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A TLS server that greets with its name (the tcp backends of TLS passed through). */
async function startTlsGreeter(name: string): Promise<number> {
  const cert = issueCert(['a.example', 'b.example', 'c.example']);
  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (s) => s.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

interface Ports {
  passthrough: number;
  main: number;
  second: number;
  onDot2: number;
  tls: number;
  api: number;
}
let ports: Ports;
let lb: TslbProcess;

/** The backends the rules below send to; each name is also what `x-route` says. */
const RULES: [string, string][] = [
  ['b_dst', 'dst 127.0.0.2'],
  ['b_dstport', 'dst_port SECOND'],
  ['b_sni', 'ssl_fc_sni -i tls.example'],
  ['b_hdrbeg', 'hdr_beg(host) -i api.'],
  ['b_hdrend', 'hdr_end(host) .example.org'],
  ['b_hdrsub', 'hdr_sub(user-agent) bot'],
  ['b_hdrdom', 'hdr_dom(host) -i shop.example.com'],
  ['b_hdrreg', 'hdr_reg(x-ver) ^v[0-9]+$'],
  ['b_hdrlen', 'hdr_len(x-len) 5'],
  ['b_hdrcnt', 'hdr_cnt(x-multi) ge 2'],
  ['b_hdrval', 'hdr_val(x-num) gt 100'],
  ['b_hdrip6', 'hdr_ip(x-client) 2001:db8::/32'],
  ['b_hdrip4', 'hdr_ip(x-client) 10.0.0.0/8'],
  ['b_cook', 'req.cook(session) -m beg adm'],
  ['b_urlp', 'url_param(user) alice'],
  ['b_query', 'query -m sub debug=1'],
  ['b_base', 'base -m beg static.example.com/assets/'],
  ['b_url', 'url -m end .php'],
  ['b_pathdir', 'path_dir img'],
  ['b_body', 'req.body_size gt 10'],
  ['b_int', 'hdr(x-int) -m int 10:20'],
  ['b_found', 'hdr(x-found) -m found'],
  ['b_len', 'path -m len 3'],
  ['b_strfile', 'hdr(host) -i -f HOSTS'],
  ['b_srcfile', '{ src -f NETS } { path_beg /src }'],
  ['b_mapkeys', 'hdr(x-key) -M -f KEYSMAP'],
  ['b_nbsrv', '{ path_beg /nbsrv } { nbsrv(b_main) lt 1 }'],
  ['b_beconn', '{ path_beg /beconn } { be_conn(b_slow) ge 1 }'],
  ['b_feconn', '{ path_beg /feconn } { fe_conn ge 3 }'],
];

before(async () => {
  await startEcho();
  const hosts = file('hosts.lst', '# hosts routed to b_strfile\nfile-a.example\n  FILE-B.example\n');
  const nets = file('nets.lst', '192.0.2.0/24\n127.0.0.0/8\n');
  const keysMap = file('keys.map', 'alpha b_one\nbeta b_two\n');
  const domMap = file('dom.map', 'example.net b_mapdom\n');
  // More than a handful of prefixes: looked up by length in a Map, not tested one by one.
  const begMap = file('beg.map', '/mapbeg b_short\n/mapbeg/long b_mapbeg\n/mapbeg/l b_default\n/other b_default\n/o b_default\n/mapbeg/longer b_x\n');
  const regMap = file('reg.map', '^/mapreg/[0-9]+$ b_mapreg\n');
  const ipMap = file('ip.map', '10.0.0.0/8 b_short\n10.1.0.0/16 b_mapip\n::ffff:192.0.2.0/120 b_mapip4\n');
  const intMap = file('int.map', '1:5 b_short\n6:9 b_mapint\n');
  const hostMap = file('hosts.map', 'www.example.com b_mapstr\n');
  const denied = file('denied.lst', 'evil\n');
  const cert = issueCert(['tls.example']);
  const pem = file('tls.pem', cert.cert + cert.key);
  const sniMap = file('sni.map', 'a.example t_a\nb.example t_b\n');
  const greeters = { t_a: await startTlsGreeter('t_a'), t_b: await startTlsGreeter('t_b'), t_default: await startTlsGreeter('t_default') };
  ports = { passthrough: await freePort(), main: await freePort(), second: await freePort(), onDot2: await freePort(), tls: await freePort(), api: await freePort() };
  const substitute = (cond: string) =>
    cond.replace('SECOND', String(ports.second)).replace('HOSTS', hosts).replace('NETS', nets).replace('KEYSMAP', keysMap);
  const names = [
    ...RULES.map(([b]) => b),
    'b_default', 'b_main', 'b_slow', 'b_short', 'b_mapdom', 'b_mapbeg', 'b_mapreg', 'b_mapip', 'b_mapip4', 'b_mapint', 'b_mapstr', 'b_unless',
  ];
  lb = await startTslb(`
global: { workers: 1 }
runtime_api: { tcp: "127.0.0.1:${ports.api}", level: admin }
frontends:
  - name: web
    mode: http
    binds:
      - "127.0.0.1:${ports.main}"
      - "127.0.0.1:${ports.second}"
      - "127.0.0.2:${ports.onDot2}"
      - { address: 127.0.0.1, port: ${ports.tls}, ssl: { certificates: ["${pem}"] } }
    default_backend: b_default
    use_backend:
${RULES.map(([b, cond]) => `      - { backend: ${b}, if: ${JSON.stringify(substitute(cond))} }`).join('\n')}
      - { backend: "%[req.hdr(host),map_dom(${domMap})]", if: "path_beg /mapdom" }
      - { backend: "%[path,map_beg(${begMap})]", if: "path_beg /mapbeg" }
      - { backend: "%[path,map_reg(${regMap})]", if: "path_beg /mapreg" }
      - { backend: "%[req.hdr(x-peer),map_ip(${ipMap})]", if: "path_beg /mapip" }
      - { backend: "%[req.hdr(x-n),map_int(${intMap})]", if: "path_beg /mapint" }
      - { backend: "b_%[req.hdr(x-suffix)]", if: "path_beg /template" }
      - { backend: b_unless, unless: "method GET HEAD POST" }
      - { backend: "%[req.hdr(host),lower,map(${hostMap},b_nosuch)]" }
  - name: tls-in
    mode: tcp
    binds: ["127.0.0.1:${ports.passthrough}"]
    use_backend:
      - { backend: "%[req_ssl_sni,lower,map(${sniMap})]" }
    default_backend: t_default
backends:
${names.map((n) => backend(n, n === 'b_default' ? [`{ deny: { status: 429 }, if: "{ nbsrv ge 1 } { hdr(x-agent) -f ${denied} }" }`] : [])).join('\n')}
${Object.entries(greeters)
  .map(([name, port]) => `  - { name: ${name}, mode: tcp, servers: [{ name: s1, address: 127.0.0.1, port: ${port} }] }`)
  .join('\n')}
`);
  cleanups.push(() => lb.stop());
});

interface Req {
  path?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
  port?: number;
  host?: string;
  tls?: boolean;
}

const tlsAgent = () => new Agent({ connect: { ca: issueCert(['tls.example']).ca, servername: 'tls.example' } });

/** The backend that answered (each request on a new connection). */
async function route(r: Req = {}): Promise<string> {
  const scheme = r.tls ? 'https' : 'http';
  const dispatcher = r.tls ? tlsAgent() : new Agent({ pipelining: 0 });
  try {
    const res = await request(`${scheme}://${r.host ?? '127.0.0.1'}:${r.port ?? ports.main}${r.path ?? '/'}`, {
      method: (r.method ?? 'GET') as 'GET',
      headers: { host: 'plain.test', ...r.headers },
      body: r.body,
      dispatcher,
    });
    await res.body.text();
    assert.equal(res.statusCode, 200, `${r.path}: status ${res.statusCode}`);
    return String(res.headers['x-route']);
  } finally {
    await dispatcher.close();
  }
}

test('connection fetches: dst, dst_port, ssl_fc_sni', async () => {
  assert.equal(await route({ host: '127.0.0.2', port: ports.onDot2 }), 'b_dst');
  assert.equal(await route({ port: ports.second }), 'b_dstport');
  assert.equal(await route({ tls: true, port: ports.tls, headers: { host: 'tls.example' } }), 'b_sni');
  assert.equal(await route(), 'b_default', 'none of them on the main bind');
});

test('header fetches: hdr_beg/end/sub/dom/reg/len/cnt/val/ip', async () => {
  assert.equal(await route({ headers: { host: 'API.shop.test' } }), 'b_hdrbeg');
  assert.equal(await route({ headers: { host: 'www.example.org' } }), 'b_hdrend');
  assert.equal(await route({ headers: { host: 'www.example.org.test' } }), 'b_default', 'end means end');
  assert.equal(await route({ headers: { 'user-agent': 'Googlebot/2.1' } }), 'b_hdrsub');
  assert.equal(await route({ headers: { host: 'www.Shop.Example.com:8080' } }), 'b_hdrdom');
  assert.equal(await route({ headers: { host: 'myshop.example.com' } }), 'b_default', 'dom matches whole labels');
  assert.equal(await route({ headers: { 'x-ver': 'v12' } }), 'b_hdrreg');
  assert.equal(await route({ headers: { 'x-ver': 'v12a' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-len': 'abcde' } }), 'b_hdrlen');
  assert.equal(await route({ headers: { 'x-len': 'abcdef' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-multi': ['a', 'b'] } }), 'b_hdrcnt');
  assert.equal(await route({ headers: { 'x-multi': 'c, d' } }), 'b_hdrcnt', 'hdr_cnt counts comma-separated values');
  assert.equal(await route({ headers: { 'x-multi': 'a' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-num': '150' } }), 'b_hdrval');
  assert.equal(await route({ headers: { 'x-num': '99' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-client': '2001:db8:1::7' } }), 'b_hdrip6');
  assert.equal(await route({ headers: { 'x-client': '2001:db9::7' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-client': '::ffff:10.9.8.7' } }), 'b_hdrip4', 'an IPv4-mapped address is in the IPv4 network');
  assert.equal(await route({ headers: { 'x-client': '11.0.0.1' } }), 'b_default');
});

test('request fetches: cookies, url_param, query, base, url, path_dir, req.body_size', async () => {
  assert.equal(await route({ headers: { cookie: 'theme=dark; session=admin42' } }), 'b_cook');
  assert.equal(await route({ headers: { cookie: 'session=user1' } }), 'b_default');
  assert.equal(await route({ path: '/x?lang=en&user=alice' }), 'b_urlp');
  assert.equal(await route({ path: '/x?user=alice2' }), 'b_default');
  assert.equal(await route({ path: '/x?a=b&debug=1' }), 'b_query');
  assert.equal(await route({ path: '/assets/app.js', headers: { host: 'static.example.com' } }), 'b_base');
  assert.equal(await route({ path: '/index.php' }), 'b_url');
  assert.equal(await route({ path: '/static/img/logo.png' }), 'b_pathdir');
  assert.equal(await route({ path: '/static/imgs/logo.png' }), 'b_default');
  assert.equal(await route({ method: 'POST', body: 'twenty bytes of body' }), 'b_body');
  assert.equal(await route({ method: 'POST', body: 'short' }), 'b_default');
});

test('matchers: -m int ranges, -m found, -m len, unless', async () => {
  assert.equal(await route({ headers: { 'x-int': '15' } }), 'b_int');
  assert.equal(await route({ headers: { 'x-int': '21' } }), 'b_default');
  assert.equal(await route({ headers: { 'x-found': 'yes' } }), 'b_found');
  assert.equal(await route({ path: '/ab' }), 'b_len');
  assert.equal(await route({ method: 'DELETE' }), 'b_unless');
});

test('pattern files: -f with -i and comments, CIDR files, -M on a map file', async () => {
  assert.equal(await route({ headers: { host: 'FILE-A.example' } }), 'b_strfile');
  assert.equal(await route({ headers: { host: 'file-b.example' } }), 'b_strfile', 'leading blanks are cut');
  assert.equal(await route({ headers: { host: '# hosts routed to b_strfile' } }), 'b_default', 'a comment is no pattern');
  assert.equal(await route({ path: '/src' }), 'b_srcfile');
  assert.equal(await route({ headers: { 'x-key': 'beta' } }), 'b_mapkeys');
  assert.equal(await route({ headers: { 'x-key': 'b_two' } }), 'b_default', '-M matches keys, not values');
});

test('a backend http_request rule: nbsrv without a name is its own backend, -f works there too', async () => {
  const res = await request(`http://127.0.0.1:${ports.main}/`, { headers: { 'x-agent': 'evil' } });
  await res.body.text();
  assert.equal(res.statusCode, 429);
  assert.equal(await route({ headers: { 'x-agent': 'good' } }), 'b_default');
});

test('maps: dynamic use_backend with map, map_dom, map_beg (longest), map_reg, map_ip (longest, mapped), map_int; unknown names go to the default backend', async () => {
  assert.equal(await route({ headers: { host: 'WWW.example.com' } }), 'b_mapstr');
  assert.equal(await route({ headers: { host: 'other.example.com' } }), 'b_default', 'map default names no backend');
  assert.equal(await route({ path: '/mapdom', headers: { host: 'a.example.net' } }), 'b_mapdom');
  assert.equal(await route({ path: '/mapdom', headers: { host: 'a.example.com' } }), 'b_default', 'no match, no default: no name');
  assert.equal(await route({ path: '/mapbeg/long/x' }), 'b_mapbeg');
  assert.equal(await route({ path: '/mapbeg/x' }), 'b_short');
  assert.equal(await route({ path: '/mapreg/42' }), 'b_mapreg');
  assert.equal(await route({ path: '/mapip', headers: { 'x-peer': '10.1.2.3' } }), 'b_mapip');
  assert.equal(await route({ path: '/mapip', headers: { 'x-peer': '10.2.2.3' } }), 'b_short');
  assert.equal(await route({ path: '/mapip', headers: { 'x-peer': '192.0.2.9' } }), 'b_mapip4', 'an IPv4-mapped network holds IPv4 addresses');
  assert.equal(await route({ path: '/mapint', headers: { 'x-n': '7' } }), 'b_mapint');
  assert.equal(await route({ path: '/template', headers: { 'x-suffix': 'main' } }), 'b_main');
  assert.equal(await route({ path: '/template', headers: { 'x-suffix': 'nope' } }), 'b_default');
});

/** What the TLS server behind tslb's tcp frontend says to a client asking for `servername`. */
async function greeting(servername: string): Promise<string> {
  const s = tls.connect({ port: ports.passthrough, host: '127.0.0.1', servername, ca: issueCert(['a.example']).ca });
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d) => (text += d));
  await new Promise<void>((resolve, reject) => {
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  s.destroy();
  return text;
}

test('a tcp frontend routes TLS it passes through by its SNI looked up in a map', async () => {
  assert.equal(await greeting('A.example'), 't_a');
  assert.equal(await greeting('b.example'), 't_b');
  assert.equal(await greeting('c.example'), 't_default', 'not in the map: the default backend');
});

test('nbsrv, be_conn and fe_conn read the live state', async () => {
  assert.equal(await route({ path: '/nbsrv' }), 'b_default');
  assert.equal(await tcpCommand(ports.api, 'disable server b_main/s1\n'), '\n');
  assert.equal(await route({ path: '/nbsrv' }), 'b_nbsrv', 'b_main has no usable server');
  await tcpCommand(ports.api, 'enable server b_main/s1\n');
  assert.equal(await route({ path: '/nbsrv' }), 'b_default');

  assert.equal(await route({ path: '/beconn' }), 'b_default');
  assert.equal(await route({ path: '/feconn' }), 'b_default', 'one connection on the frontend');
  // One idle keep-alive connection, and one request held by b_slow's server.
  const idle = new Agent();
  const holder = new Agent();
  cleanups.push(() => idle.close(), () => holder.close());
  await (await request(`http://127.0.0.1:${ports.main}/`, { dispatcher: idle })).body.text();
  const slow = request(`http://127.0.0.1:${ports.main}/template`, { headers: { 'x-suffix': 'slow', 'x-hold': '1' }, dispatcher: holder });
  for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(held.length, 1, 'the slow request reached its server');
  assert.equal(await route({ path: '/beconn' }), 'b_beconn', 'b_slow has a connection');
  assert.equal(await route({ path: '/feconn' }), 'b_feconn', 'three connections on the frontend');
  held.shift()!.end('late');
  const res = await slow;
  assert.equal(res.headers['x-route'], 'b_slow');
  await res.body.text();
});

test('tslb -c refuses misplaced fetches, bad pattern-file lines, unknown proxies and unreadable maps, with file:line and key path', async () => {
  const bad = file('bad.lst', '10.0.0.0/8\n# fine\n1.2.3.999\n');
  const missing = path.join(dir, 'missing.map');
  const cfg = file('check.yaml', `frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:1"]
    default_backend: app
    use_backend:
      - { backend: app, if: "res.hdr(server) -m found" }
      - { backend: app, if: "src -f ${bad}" }
      - { backend: app, if: "be_conn gt 5" }
      - { backend: app, if: "nbsrv(ap) lt 1" }
      - { backend: "%[req.hdr(host),map(${missing})]" }
    http_request:
      - { set_header: { name: x-a, value: b }, if: "status 200" }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: 2 }]
`);
  const r = await runCli(['-c', '-f', cfg]);
  assert.equal(r.code, 1);
  const out = r.stdout + r.stderr;
  const expect = [
    /check\.yaml:7:\d+: frontends\[0\]\.use_backend\[0\]\.if: fetch "res\.hdr" is not available in http-request rules \(valid in: response\)/,
    /check\.yaml:8:\d+: frontends\[0\]\.use_backend\[1\]\.if: .*bad\.lst:3: "1\.2\.3\.999" is not an IP address or CIDR/,
    /check\.yaml:9:\d+: frontends\[0\]\.use_backend\[2\]\.if: fetch "be_conn" needs a backend name outside a backend/,
    /check\.yaml:10:\d+: frontends\[0\]\.use_backend\[3\]\.if: nbsrv: unknown backend "ap" \(did you mean "app"\?\)/,
    /check\.yaml:11:\d+: frontends\[0\]\.use_backend\[4\]\.backend: cannot read .*missing\.map: ENOENT/,
    /check\.yaml:13:\d+: frontends\[0\]\.http_request\[0\]\.if: fetch "status" is not available in http-request rules/,
  ];
  for (const re of expect) assert.match(out, re);
  assert.match(out, /Configuration file has 6 error\(s\)/);
});
