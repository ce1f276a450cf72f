/**
 * HAProxy's `maxcomprate` through a real tslb and its `comp_byp` counter: over the
 * rate, a gzip response already compressing drops to level 0 (stored blocks, still
 * gzip) and its bytes count as bypassed, a new response is not compressed at all, and
 * a response compression leaves alone (image/png) is not counted anywhere, as in
 * HAProxy (src/flt_http_comp.c counts comp_byp only in a response it compresses).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { request } from 'undici';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { showStat, showStatWhen, unixCommand } from './helpers/runtime-api';
import { freePort, runCli, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const PIECE = 16384;
const PIECES = 8;
const dir = tempDir('tslb-comp-limits-');
const sock = path.join(dir, 'admin.sock');
let lb: TslbProcess;
let app: HttpBackend;
let port = 0;
let metricsPort = 0;

/** Text that compresses well, the same each time. */
const body = Buffer.from('frontend backend server check stick table acl rule\n'.repeat(Math.ceil((PIECE * PIECES) / 51))).subarray(0, PIECE * PIECES);

/** /text: `body` chunked, one 16 KiB piece every 20 ms (so tslb compresses it in several pieces); /png: 4 KiB of image/png. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.url === '/png') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': 4096 });
    res.end(Buffer.alloc(4096, 7));
    return true;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  let i = 0;
  const next = (): void => {
    if (i === PIECES) return void res.end();
    res.write(body.subarray(i * PIECE, ++i * PIECE));
    setTimeout(next, 20);
  };
  next();
  return true;
}

before(async () => {
  app = await startHttpBackend('app', handler);
  port = await freePort();
  metricsPort = await freePort();
  lb = await startTslb(`
global:
  workers: 1
  options: ["maxcomprate 1"]
runtime_api: { socket: ${sock}, level: admin }
prometheus: { bind: "127.0.0.1:${metricsPort}", prefix: haproxy }
frontends:
  - name: web
    binds: ["127.0.0.1:${port}"]
    compression: { algos: [gzip], types: [text/plain] }
    default_backend: app
backends:
  - name: app
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
`);
});
after(async () => {
  await lb?.stop();
  await app?.close();
});

async function get(p: string) {
  const res = await request(`http://127.0.0.1:${port}${p}`, { headers: { 'accept-encoding': 'gzip' } });
  return { encoding: res.headers['content-encoding'], body: Buffer.from(await res.body.arrayBuffer()) };
}

type CompCounters = Record<'fe' | 'be', { in: number; out: number; byp: number; rsp: number }>;

/** The web frontend's and app backend's comp_* columns of `show stat`. */
function compCounters(rows: Map<string, Record<string, string>>): CompCounters {
  const pick = (key: string) => {
    const v = (name: string) => Number(rows.get(key)![name]);
    return { in: v('comp_in'), out: v('comp_out'), byp: v('comp_byp'), rsp: v('comp_rsp') };
  };
  return { fe: pick('web/FRONTEND'), be: pick('app/BACKEND') };
}

const compStats = async (): Promise<CompCounters> => compCounters(await showStat(sock));

/** The counters once `ready` accepts them (the workers push theirs to the primary periodically). */
const statsWhen = async (ready: (s: CompCounters) => boolean): Promise<CompCounters> => compCounters(await showStatWhen(sock, (rows) => ready(compCounters(rows))));

test('responses compression leaves alone (a type not listed, a HEAD) count no bypassed bytes', async () => {
  const png = await get('/png');
  assert.equal(png.encoding, undefined);
  assert.equal(png.body.length, 4096);
  const res = await request(`http://127.0.0.1:${port}/png`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
  await res.body.dump();
  assert.equal(res.headers['content-encoding'], undefined);
  await new Promise((r) => setTimeout(r, 300));
  const s = await compStats();
  assert.deepEqual([s.fe.byp, s.fe.in, s.fe.rsp, s.be.byp], [0, 0, 0, 0]);
});

test('over maxcomprate: the response goes on at level 0 (still valid gzip), its later pieces count in comp_byp; the next response is not compressed', async () => {
  const first = await get('/text');
  assert.equal(first.encoding, 'gzip');
  assert.ok(zlib.gunzipSync(first.body).equals(body), 'the gzip body decodes to what the server sent');
  const second = await get('/text');
  assert.equal(second.encoding, undefined, 'over the rate when it starts: not compressed at all');
  assert.ok(second.body.equals(body));
  const s = await statsWhen((x) => x.fe.in + x.fe.byp === body.length);
  assert.equal(s.fe.in + s.fe.byp, body.length, `comp_in ${s.fe.in} + comp_byp ${s.fe.byp}: the first response's bytes, once`);
  assert.ok(s.fe.in >= 1 && s.fe.byp >= PIECE, `the first piece compressed (comp_in ${s.fe.in}), later ones bypassed (comp_byp ${s.fe.byp})`);
  assert.equal(s.fe.rsp, 1);
  assert.deepEqual(s.be, s.fe, 'the backend counts the same');
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, new RegExp(`^haproxy_frontend_http_comp_bytes_bypassed_total\\{proxy="web"\\} ${s.fe.byp}$`, 'm'));
  assert.match(metrics, new RegExp(`^haproxy_backend_http_comp_bytes_bypassed_total\\{proxy="app"\\} ${s.be.byp}$`, 'm'));
});

test('show info and Prometheus report the limit in bytes; set rate-limit http-compression global changes it at run time (0: none); CompressBpsIn/Out show the rates', async () => {
  assert.match(await unixCommand(sock, 'show info\n'), /\nCompressBpsRateLim: 1024\n/);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /^haproxy_process_limit_http_comp 1024$/m);
  assert.match(await unixCommand(sock, 'set rate-limit connections global 5\n'), /only supports :\n   - 'http-compression global'/);
  assert.equal(await unixCommand(sock, 'set rate-limit http-compression global\n'), 'Expects an integer value.\n\n');
  assert.equal(await unixCommand(sock, 'set rate-limit http-compression global 0\n'), '\n');
  assert.match(await unixCommand(sock, 'show info\n'), /\nCompressBpsRateLim: 0\n/);
  const before = await compStats();
  const r = await get('/text');
  assert.equal(r.encoding, 'gzip', 'no limit now: compressed even right after the earlier responses');
  assert.ok(zlib.gunzipSync(r.body).equals(body));
  const s = await statsWhen((x) => x.fe.in === before.fe.in + body.length);
  assert.equal(s.fe.in, before.fe.in + body.length, 'every byte compressed');
  assert.equal(s.fe.byp, before.fe.byp, 'none bypassed');  // CompressBpsIn/Out: bytes through the compressors over the last second, while responses are compressed.
  let info = '';
  for (let i = 0; i < 20; i++) {
    await get('/text');
    info = await unixCommand(sock, 'show info\n');
    if (/\nCompressBpsIn: [1-9]\d*\nCompressBpsOut: [1-9]\d*\n/.test(info)) break;
  }
  const bps = /\nCompressBpsIn: (\d+)\nCompressBpsOut: (\d+)\nCompressBpsRateLim: 0\n/.exec(info);
  assert.ok(bps && Number(bps[1]) > Number(bps[2]) && Number(bps[2]) > 0, info);
});

test('tslb -c: maxcomprate and maxcompcpuusage lines and YAML fields are checked', async () => {
  const file = path.join(dir, 'bad.yaml');
  const config = (global: string) => `global:\n${global}frontends:\n  - name: web\n    binds: ["127.0.0.1:8080"]\n    default_backend: app\nbackends:\n  - name: app\n    servers: [{ name: s1, address: 127.0.0.1, port: 8081 }]\n`;
  writeFileSync(file, config('  max_comp_cpu_usage: 101\n'));
  const yaml = await runCli(['-c', '-f', file]);
  assert.equal(yaml.code, 1);
  assert.match(yaml.stdout + yaml.stderr, /bad\.yaml:2:\d+: global\.max_comp_cpu_usage: must be 0\.\.100/);
  writeFileSync(file, config('  options:\n    - maxcompcpuusage 200\n    - maxcomprate lots\n'));
  const r = await runCli(['-c', '-f', file]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 1, out);
  assert.match(out, /bad\.yaml:3:\d+: global\.options\[0\]: maxcompcpuusage must be 0\.\.100 \(got 200\)/);
  assert.match(out, /bad\.yaml:4:\d+: global\.options\[1\]: .*lots/);
  writeFileSync(file, config('  max_comp_rate: 5000\n  options: ["maxcompcpuusage 80"]\n'));
  const ok = await runCli(['-c', '-f', file]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
});
