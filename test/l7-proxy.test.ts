/** The L7 session end to end on loopback: in-process proxy, real node:http and raw backends. */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { startHttpBackend, type HttpBackend } from './helpers/backends';
import { httpModel, server, startL7Proxy, type L7Proxy } from './helpers/l7-model';
import { exchange, header, RecordingBackend } from './helpers/rawhttp';

function get(port: number, path: string, agent: http.Agent, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('L7 keep-alive GET', () => {
  let a: HttpBackend;
  let b: HttpBackend;
  let proxy: L7Proxy;
  before(async () => {
    a = await startHttpBackend('a');
    b = await startHttpBackend('b');
    proxy = await startL7Proxy(httpModel([server('a', a.port), server('b', b.port)]));
  });
  after(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  it('balances keep-alive GETs over pooled server connections', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await get(proxy.port, `/x${i}`, agent);
      assert.equal(r.status, 200);
      assert.equal(r.body, `hello from ${r.headers['x-served-by']}\n`);
      assert.equal(r.headers['connection'], undefined); // hop-by-hop stripped, no close
      seen.push(r.headers['x-served-by'] as string);
    }
    agent.destroy();
    assert.deepEqual(seen, ['a', 'b', 'a', 'b', 'a', 'b']);
    // Two client-side connections at most were pooled upstream: one per server.
    let conns = 0;
    a.server.getConnections((_e, n) => (conns += n));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(conns <= 1, `backend a saw ${conns} live connections`);
  });
});

describe('L7 request rewriting', () => {
  const rec = new RecordingBackend();
  let proxy: L7Proxy;
  before(async () => {
    await rec.start();
    proxy = await startL7Proxy(
      httpModel([server('r', rec.port)], { frontend: { forwardFor: { header: 'X-Forwarded-For', ifNone: false, except: [] }, forwardedHost: true } }),
    );
  });
  after(async () => {
    await proxy.close();
    await rec.close();
  });

  it('strips hop-by-hop and Connection-listed headers, appends X-Forwarded-*', async () => {
    const r = await exchange(
      proxy.port,
      Buffer.from(
        'GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 300\r\n' +
          'Proxy-Connection: x\r\nTE: gzip\r\nUpgrade: foo\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: evil\r\nX-Keep: yes\r\n\r\n',
      ),
      { until: (rs) => rs.length === 1 },
    );
    assert.equal(r.responses[0].status, 200);
    const fwd = rec.requests.at(-1)!;
    const names = fwd.headers.map(([n]) => n.toLowerCase());
    for (const gone of ['connection', 'x-drop', 'keep-alive', 'proxy-connection', 'te', 'upgrade']) assert.ok(!names.includes(gone), gone);
    assert.deepEqual(header(fwd, 'x-forwarded-for'), ['10.0.0.1', '127.0.0.1']);
    assert.deepEqual(header(fwd, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(header(fwd, 'x-forwarded-host'), ['example.com:8080']);
    assert.deepEqual(header(fwd, 'x-keep'), ['yes']);
    assert.equal(fwd.startLine, 'GET /p?q=1 HTTP/1.1');
  });
});
