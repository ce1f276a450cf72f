/**
 * The client address from a trusted proxy's X-Forwarded-For through a real tslb:
 * `source_from_header` (right-most untrusted address) and the HAProxy line
 * `http-request set-src hdr(x-forwarded-for) if { src … }`. From a trusted peer (127.0.0.2)
 * the header's address is what ACLs, `access:` lists, stick tables, the access log and the
 * X-Forwarded-For tslb adds see; from any other peer (127.0.0.3) the header is ignored.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { tcpCommand } from './helpers/runtime-api';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let backend: HttpBackend;
let lb: TslbProcess;
let native: number;
let line: number;
let cli: number;
const logFile = path.join(tempDir(), 'access.log');

before(async () => {
  // Answers with the X-Forwarded-For it received: tslb's own line is the last value.
  backend = await startHttpBackend('app', (req, res) => {
    res.end(String(req.headers['x-forwarded-for'] ?? ''));
    return true;
  });
  cleanups.push(() => backend.close());
  [native, line, cli] = [await freePort(), await freePort(), await freePort()];
  lb = await startTslb(`
global: { access_log: ${logFile} }
frontends:
  - name: edge
    mode: http
    binds: ["127.0.0.1:${native}"]
    default_backend: app
    forwardfor: true
    log: { format: "xff %ci %HU" }
    stick_table: "type ipv6 size 1k expire 1m store http_req_cnt"
    source_from_header: { trusted: [127.0.0.2, 10.0.0.0/8] }
    access: { deny: [192.0.2.0/24, "2001:db8::/32"] }
    options: ["http-request track-sc0 src"]
  - name: haproxy
    mode: http
    binds: ["127.0.0.1:${line}"]
    default_backend: app
    forwardfor: true
    options:
      - "http-request set-src hdr(x-forwarded-for) if { src 127.0.0.2 }"
      - "http-request deny deny_status 403 if { src 192.0.2.0/24 }"
backends:
  - name: app
    servers: [{ name: a, address: 127.0.0.1, port: ${backend.port} }]
runtime_api: { tcp: "127.0.0.1:${cli}" }
`);
  cleanups.push(() => lb.stop());
});

const agents = new Map<string, Agent>();
cleanups.push(async () => Promise.all([...agents.values()].map((a) => a.close())));

/** A request from `localAddress` with `xff` (absent: no header): the status and the address tslb forwarded as the client's. */
async function from(port: number, localAddress: string, p: string, xff?: string): Promise<{ status: number; client: string }> {
  let dispatcher = agents.get(localAddress);
  if (!dispatcher) agents.set(localAddress, (dispatcher = new Agent({ localAddress })));
  const res = await request(`http://127.0.0.1:${port}${p}`, { headers: xff === undefined ? {} : { 'x-forwarded-for': xff }, dispatcher });
  const body = await res.body.text();
  return { status: res.statusCode, client: res.statusCode === 200 ? body.split(',').pop()!.trim() : '' };
}

function logged(p: string): string | undefined {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').find((l) => l.endsWith(` ${p}`)) : undefined;
}

async function waitForLog(p: string): Promise<string> {
  const until = Date.now() + 5000;
  for (;;) {
    const l = logged(p);
    if (l) return l;
    if (Date.now() > until) throw new Error(`no log line for ${p}:\n${lb.logs()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('source_from_header: from a trusted proxy the right-most untrusted address is the source (forwarded, logged, tracked); an untrusted peer cannot spoof it', async () => {
  // 10.1.1.1 is a trusted proxy in the chain: skipped; 203.0.113.1 was written by the client itself: left of the real one, ignored.
  assert.deepEqual(await from(native, '127.0.0.2', '/trusted', '203.0.113.1, 198.51.100.7, 10.1.1.1'), { status: 200, client: '198.51.100.7' });
  assert.deepEqual(await from(native, '127.0.0.3', '/spoof', '198.51.100.9'), { status: 200, client: '127.0.0.3' });
  // All trusted: the left-most; garbage on the right: the peer's own address.
  assert.deepEqual(await from(native, '127.0.0.2', '/chain', '10.0.0.5, 10.0.0.6'), { status: 200, client: '10.0.0.5' });
  assert.deepEqual(await from(native, '127.0.0.2', '/garbage', '198.51.100.7, nonsense'), { status: 200, client: '127.0.0.2' });
  assert.deepEqual(await from(native, '127.0.0.2', '/none'), { status: 200, client: '127.0.0.2' });

  assert.match(await waitForLog('/trusted'), /^xff 198\.51\.100\.7 /);
  assert.match(await waitForLog('/spoof'), /^xff 127\.0\.0\.3 /);

  // The workers' last increments reach the primary's table within a batch (≤ 10 ms) and an IPC hop: wait for the last one.
  let table = '';
  for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    table = await tcpCommand(cli, 'show table edge\n');
    if (/key=::ffff:127\.0\.0\.2 .*http_req_cnt=2/.test(table)) break;
  }
  assert.match(table, /key=::ffff:198\.51\.100\.7 .*http_req_cnt=1/);
  assert.match(table, /key=::ffff:127\.0\.0\.3 /);
  // The proxy's keep-alive connection carried four clients: each request tracked its own (HAProxy's stream counters).
  assert.match(table, /key=::ffff:10\.0\.0\.5 .*http_req_cnt=1/);
  assert.match(table, /key=::ffff:127\.0\.0\.2 .*http_req_cnt=2/);
  assert.doesNotMatch(table, /198\.51\.100\.9/, 'a spoofed header never becomes a key');
});

test('source_from_header: the access lists judge the forwarded address (403, the server never sees it), v4 and v6; a spoofed header from an untrusted peer is not judged', async () => {
  const hits = backend.hits;
  assert.equal((await from(native, '127.0.0.2', '/deny4', '192.0.2.44')).status, 403);
  assert.equal((await from(native, '127.0.0.2', '/deny6', '2001:db8::1')).status, 403);
  assert.equal(backend.hits, hits);
  assert.deepEqual(await from(native, '127.0.0.3', '/spoofdeny', '192.0.2.44'), { status: 200, client: '127.0.0.3' });
  assert.deepEqual(await from(native, '127.0.0.2', '/v6', '2001:db9::1'), { status: 200, client: '2001:db9::1' });
});

test('http-request set-src hdr(x-forwarded-for) if { src 127.0.0.2 }: the last value from the trusted peer, ignored from others', async () => {
  assert.deepEqual(await from(line, '127.0.0.2', '/line', '203.0.113.1, 198.51.100.20'), { status: 200, client: '198.51.100.20' });
  assert.equal((await from(line, '127.0.0.2', '/line-deny', '192.0.2.1')).status, 403);
  assert.deepEqual(await from(line, '127.0.0.3', '/line-spoof', '192.0.2.1'), { status: 200, client: '127.0.0.3' });
  assert.deepEqual(await from(line, '127.0.0.2', '/line-bad', 'not-an-ip'), { status: 200, client: '127.0.0.2' });
});
