/**
 * The L7 pipeline (src/http/pipeline.ts): modules are compiled only for the proxies
 * whose config uses them; the phases run in their documented order (frontend then
 * backend on the request, backend then frontend on the response); a module that
 * answers stops every later function and phase. The order and the stops are shown
 * with a probe module added to a runtime's pipelines (in-process proxy on real
 * sockets), then as the built-in modules' visible behaviour through a real tslb.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { loadConfig } from '../src/config/load';
import { Runtime } from '../src/worker/runtime';
import { CONTINUE, type HttpModule, type Pipeline } from '../src/http/pipeline';
import type { HttpExchange } from '../src/http/exchange';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { httpModel, server, startL7Proxy, type L7Proxy } from './helpers/l7-model';
import { exchange, header, RecordingBackend } from './helpers/rawhttp';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const PHASES = ['request', 'choose', 'upstreamRequest', 'connect', 'upstreamResponse', 'response', 'responseBody', 'log', 'localPage'] as const;

function phaseSizes(p: Pipeline): Record<string, number> {
  const out: Record<string, number> = {};
  for (const phase of PHASES) if (p[phase].length) out[phase] = p[phase].length;
  return out;
}

describe('pipeline compilation', () => {
  it('builds a module only for a proxy whose config uses it: an unconfigured proxy has empty phase arrays', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, '503.http'), 'HTTP/1.0 503 Busy\r\n\r\n');
    const file = path.join(dir, 'lb.yaml');
    writeFileSync(
      file,
      `
frontends:
  - name: bare
    mode: http
    binds: ["127.0.0.1:18001"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    default_backend: plain
  - name: full
    mode: http
    binds: ["127.0.0.1:18002"]
    forwardfor: true
    http_request: [{ set_header: { name: X-A, value: "1" } }]
    http_response: [{ del_header: server }]
    errorfiles: { 503: 503.http }
    log: { format: httplog }
    default_backend: sticky
  - { name: raw, mode: tcp, binds: ["127.0.0.1:18003"], default_backend: tcp }
backends:
  - { name: plain, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: 18010 }] }
  - name: sticky
    mode: http
    cookie: "SRV insert"
    stick_on: src
    stick_table: "type ip size 10"
    servers: [{ name: s1, address: 127.0.0.1, port: 18011 }]
  - { name: tcp, mode: tcp, servers: [{ name: s1, address: 127.0.0.1, port: 18012 }] }
`,
    );
    const loaded = loadConfig([file]);
    assert.deepEqual(loaded.errors, []);
    const rt = new Runtime(loaded.model!);
    const fe = (name: string) => rt.frontends.find((f) => f.name === name)!.pipeline;
    const be = (name: string) => rt.backends.get(name)!.pipeline;

    assert.deepEqual(fe('bare').modules, []);
    assert.deepEqual(phaseSizes(fe('bare')), {});
    assert.deepEqual(be('plain').modules, []);
    assert.deepEqual(phaseSizes(be('plain')), {});
    assert.deepEqual(fe('raw').modules, []);
    assert.deepEqual(be('tcp').modules, []);

    assert.deepEqual(fe('full').modules, ['http-request', 'http-response', 'forwarded', 'error-pages', 'access-log']);
    assert.deepEqual(phaseSizes(fe('full')), { request: 1, upstreamRequest: 1, upstreamResponse: 1, log: 1, localPage: 1 });
    assert.deepEqual(be('sticky').modules, ['cookie', 'stick']);
    assert.deepEqual(phaseSizes(be('sticky')), { choose: 2, upstreamRequest: 1, connect: 1, response: 1 });
  });
});

/** A module in every phase that records `<side>:<phase>`, adds a header each way, and answers where told. */
function probe(side: string, seen: string[], answerIn: Partial<Record<string, string>>): HttpModule {
  const step = (phase: string, ex: HttpExchange): number => {
    seen.push(`${side}:${phase}`);
    const when = answerIn[phase];
    return when !== undefined && ex.ctx.path() === when ? ex.answer(phase === 'request' ? 403 : 502, true) : CONTINUE;
  };
  return {
    request: (ex) => step('request', ex),
    choose: (ex) => step('choose', ex),
    upstreamRequest(ex) {
      ex.addRequestHeader('X-Probe', side);
      return step('upstreamRequest', ex);
    },
    connect: (ex) => void step('connect', ex),
    upstreamResponse: (ex) => step('upstreamResponse', ex),
    response(ex) {
      ex.addResponseHeader('X-Probe', side);
      return step('response', ex);
    },
    responseBody: (ex, _buf, start, end) => {
      seen.push(`${side}:responseBody ${end - start}`);
      return CONTINUE;
    },
    log: (ex) => void step('log', ex),
    localPage(_ex, status) {
      seen.push(`${side}:localPage ${status}`);
      return undefined;
    },
  };
}

describe('phase order and local answers (probe module on a compiled runtime)', () => {
  const rec = new RecordingBackend();
  let proxy: L7Proxy;
  const seen: string[] = [];
  before(async () => {
    await rec.start();
    rec.reply = (req) => ({
      bytes: Buffer.from(req.target === '/fail' ? 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'),
    });
    proxy = await startL7Proxy(httpModel([server('r', rec.port)]));
    proxy.runtime.frontends[0].pipeline.add('probe', probe('fe', seen, { request: '/local' }));
    proxy.runtime.backends.get('be_http')!.pipeline.add('probe', probe('be', seen, { upstreamResponse: '/fail' }));
  });
  after(async () => {
    await proxy.close();
    await rec.close();
  });

  it('runs frontend then backend on the request, backend then frontend on the response', async () => {
    seen.length = 0;
    const r = await exchange(proxy.port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(r.responses[0].status, 200);
    assert.equal(r.responses[0].body.toString(), 'hello');
    // The exchange logs once the response is relayed: wait for the last record.
    await rec.waitFor(() => seen.includes('be:log'), 2000);
    assert.deepEqual(seen, [
      'fe:request', 'be:request', 'fe:choose', 'be:choose', 'fe:upstreamRequest', 'be:upstreamRequest', 'fe:connect', 'be:connect',
      'be:upstreamResponse', 'fe:upstreamResponse', 'be:response', 'fe:response', 'be:responseBody 5', 'fe:responseBody 5', 'fe:log', 'be:log',
    ]);
    // Added lines follow the same order; the frontend's forwarded module ran before its probe.
    const sent = rec.requests.at(-1)!;
    assert.deepEqual(header(sent, 'x-probe'), ['fe', 'be']);
    assert.deepEqual(header(sent, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(header(r.responses[0], 'x-probe'), ['be', 'fe']);
  });

  it('stops every later function and phase when a module answers: nothing reaches the server', async () => {
    seen.length = 0;
    const forwarded = rec.requests.length;
    const r = await exchange(proxy.port, Buffer.from('GET /local HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(r.responses[0].status, 403);
    assert.deepEqual(seen, ['fe:request', 'fe:localPage 403', 'fe:log']);
    assert.equal(rec.requests.length, forwarded);
  });

  it('answers from the response phase instead of the server: pages asked from the backend first, response phases stop', async () => {
    seen.length = 0;
    const r = await exchange(proxy.port, Buffer.from('GET /fail HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(r.responses[0].status, 502);
    assert.deepEqual(header(r.responses[0], 'x-probe'), []);
    assert.deepEqual(seen.slice(seen.indexOf('be:upstreamResponse')), ['be:upstreamResponse', 'be:localPage 502', 'fe:localPage 502', 'fe:log', 'be:log']);
  });
});

describe('built-in modules through a real tslb', () => {
  let app: HttpBackend;
  let lb: TslbProcess;
  let port: number;
  before(async () => {
    // Echoes the X-Seq lines it got and sets its own cookie; /fail closes without answering.
    app = await startHttpBackend('app', (req, res) => {
      if (req.url === '/fail') {
        req.socket.destroy();
        return true;
      }
      res.writeHead(200, { 'x-seen-seq': String(req.headers['x-seq']), 'set-cookie': 'app=1', 'content-length': '2' });
      res.end('ok');
      return true;
    });
    const closed = await freePort();
    port = await freePort();
    const dir = tempDir();
    writeFileSync(path.join(dir, 'fe.http'), 'HTTP/1.0 503 Frontend page\r\nContent-Length: 0\r\n\r\n');
    writeFileSync(path.join(dir, 'fe502.http'), 'HTTP/1.0 502 Frontend page\r\nContent-Length: 0\r\n\r\n');
    writeFileSync(path.join(dir, 'be502.http'), 'HTTP/1.0 502 Backend page\r\nContent-Length: 0\r\n\r\n');
    writeFileSync(path.join(dir, 'be400.http'), 'HTTP/1.0 400 Backend page\r\nContent-Length: 0\r\n\r\n');
    lb = await startTslb(`
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    forwarded_proto: false
    forwarded_host: false
    log: { enabled: false }
    http_request:
      - { deny: { status: 403 }, if: "path_beg /deny" }
      - { add_header: { name: X-Seq, value: fe } }
    http_response:
      - { add_header: { name: X-Seq, value: fe } }
      - { del_header: set-cookie }
    errorfiles: { 503: ${path.join(dir, 'fe.http')}, 502: ${path.join(dir, 'fe502.http')} }
    use_backend: [{ backend: down, if: "path_beg /down" }]
    default_backend: app
backends:
  - name: app
    mode: http
    cookie: "SRV insert"
    http_request: [{ add_header: { name: X-Seq, value: be } }]
    http_response: [{ add_header: { name: X-Seq, value: be } }]
    errorfiles: { 502: ${path.join(dir, 'be502.http')}, 400: ${path.join(dir, 'be400.http')} }
    servers: [{ name: s1, address: 127.0.0.1, port: ${app.port} }]
  - name: down
    mode: http
    retries: 0
    servers: [{ name: gone, address: 127.0.0.1, port: ${closed} }]
`);
  });
  after(async () => {
    await lb.stop();
    await app.close();
  });

  async function get(p: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const r = await request(`http://127.0.0.1:${port}${p}`, { reset: true });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  }

  it('request rules run frontend then backend, response rules backend then frontend, the persistence cookie after all of them', async () => {
    const r = await get('/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-seen-seq'], 'fe, be');
    assert.deepEqual(r.headers['x-seq'], ['be', 'fe']);
    // The frontend's del-header removed the server's cookie; the cookie module ran after it.
    assert.equal(r.headers['set-cookie'], 'SRV=s1; path=/');
  });

  it('a request denied by the frontend reaches neither the backend rules nor the server', async () => {
    const hits = app.hits;
    const r = await get('/deny');
    assert.equal(r.status, 403);
    assert.equal(r.headers['set-cookie'], undefined);
    assert.equal(app.hits, hits);
  });

  it('error pages come from the backend, else the frontend: a failed response gets the backend 502, a dead server the frontend 503', async () => {
    const failed = await exchange(port, Buffer.from('GET /fail HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(failed.responses[0].startLine, 'HTTP/1.0 502 Backend page');
    const down = await exchange(port, Buffer.from('GET /down HTTP/1.1\r\nHost: h\r\n\r\n'), { until: (rs) => rs.length === 1 });
    assert.equal(down.responses[0].startLine, 'HTTP/1.0 503 Frontend page');
  });

  it('a request refused before routing gets no page of the backend the previous request on the connection used', async () => {
    const r = await exchange(port, Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n\r\n'), { until: (rs) => rs.length === 2 });
    assert.equal(r.responses[0].status, 200);
    assert.equal(r.responses[1].startLine, 'HTTP/1.1 400 Bad request');
  });
});
