// Observability through a real tslb process (the primary's wiring in src/primary/main.ts):
// HTTP traffic through a frontend, then the runtime API on its unix socket (socat) and
// TCP port, the Prometheus endpoint (linted by promtool) and the stats page CSV all
// report it, and a runtime API `disable server` shows up on the other two.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';
import { hasSocat, socat, tcpCommand } from './helpers/runtime-api';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

async function text(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return res.text();
}

describe('observability through tslb', () => {
  let backend: http.Server;
  let lb: TslbProcess;
  let fePort: number;
  let apiPort: number;
  let promPort: number;
  let statsPort: number;
  let socket: string;

  before(async () => {
    backend = http.createServer((_req, res) => res.end('hello\n'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const bePort = (backend.address() as AddressInfo).port;
    [fePort, apiPort, promPort, statsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    socket = path.join(tempDir('tslb-obs-'), 'stats.sock');
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${fePort}"]
    default_backend: app
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${bePort} }
      - { name: s2, address: 127.0.0.1, port: ${bePort} }
runtime_api:
  socket: ${socket}
  tcp: "127.0.0.1:${apiPort}"
prometheus:
  bind: "127.0.0.1:${promPort}"
stats:
  bind: "127.0.0.1:${statsPort}"
`);
    for (let i = 0; i < 10; i++) assert.equal(await (await fetch(`http://127.0.0.1:${fePort}/`)).text(), 'hello\n');
    // Workers report once a second: wait until the primary has the ten requests.
    for (let i = 0; i < 40; i++) {
      if (/^app,BACKEND,(?:[^,]*,){5}10,/m.test(await tcpCommand(apiPort, 'show stat\n'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await lb?.stop();
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
  });

  it('runtime API: show stat and show info over TCP and the unix socket', { skip: !hasSocat && 'socat not installed' }, async () => {
    const stat = await socat(socket, 'show stat\n');
    assert.match(stat, /^# pxname,svname,qcur,/);
    assert.match(stat, /^web,FRONTEND,(?:[^,]*,){5}\d+,/m);
    assert.match(stat, /^app,BACKEND,(?:[^,]*,){5}10,/m);
    const info = await tcpCommand(apiPort, 'show info\n');
    assert.match(info, /^Name: tslb$/m);
    assert.match(info, /^CumReq: 10$/m);
  });

  it('Prometheus: counters match the traffic and promtool is clean', async () => {
    const body = await text(`http://127.0.0.1:${promPort}/metrics`);
    assert.match(body, /^tslb_backend_sessions_total\{proxy="app"\} 10$/m);
    assert.match(body, /^tslb_backend_http_responses_total\{proxy="app",code="2xx"\} 10$/m);
    assert.match(body, /^tslb_frontend_http_requests_total\{proxy="web"\} 10$/m);
    assert.match(body, /^tslb_backend_response_time_seconds_count\{proxy="app"\} 10$/m);
    if (hasPromtool) {
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, timeout: 10_000 });
      assert.equal(lint.stdout.toString() + lint.stderr.toString(), '');
      assert.equal(lint.status, 0);
    }
  });

  it('disable server on the runtime API shows on the stats page and in Prometheus', async () => {
    assert.equal(await tcpCommand(apiPort, 'disable server app/s2\n'), '\n');
    const csv = await text(`http://127.0.0.1:${statsPort}/stats;csv`);
    assert.match(csv, /^app,s2,(?:[^,]*,){15}MAINT,/m);
    const body = await text(`http://127.0.0.1:${promPort}/metrics?scope=server`);
    assert.match(body, /^tslb_server_status\{proxy="app",server="s2",state="MAINT"\} 1$/m);
    assert.equal(await tcpCommand(apiPort, 'enable server app/s2\n'), '\n');
    assert.match(await text(`http://127.0.0.1:${statsPort}/stats;csv`), /^app,s2,(?:[^,]*,){15}no check,/m);
  });
});
