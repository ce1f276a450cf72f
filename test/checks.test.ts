/** Health checks against real servers on loopback: tcp, httpchk, tcp-check, agent, external, TLS, SMTP, mail alerts. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { HealthMonitor } from '../src/primary/health';
import type { ServerStateUpdate } from '../src/ipc/messages';
import { backend, captureLog, close, listen, model, server, waitFor } from './services/fixtures';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function monitor(m: ReturnType<typeof model>) {
  const cap = captureLog();
  const updates: ServerStateUpdate[] = [];
  const mon = new HealthMonitor(m, cap.log, (u) => updates.push(...u));
  cleanups.push(() => mon.stop());
  return { mon, cap, updates, state: (s: string) => mon.health().find((h) => h.server === s)! };
}

function tcpServer(onConn: (sock: net.Socket) => void = () => {}): net.Server {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    onConn(sock);
  });
  cleanups.push(() => close(srv));
  return srv;
}

describe('tcp check', () => {
  test('DOWN after fall failures, UP after rise, HAProxy log lines and counters', async () => {
    const a = tcpServer((s) => s.end());
    const b = tcpServer((s) => s.end());
    const portA = await listen(a);
    const portB = await listen(b);
    const m = model([backend('web_backend', [server('web1', portA), server('web2', portB)])]);
    const { mon, cap, updates, state } = monitor(m);
    assert.equal(state('web1').status, 'UP'); // starts fully up: `fall` failures to go DOWN
    mon.start();
    await waitFor(() => state('web1').checkStatus === 'L4OK' && state('web1').status === 'UP', 2000, 'first check');
    await close(a);
    await waitFor(() => !state('web1').up, 2000, 'web1 DOWN');
    const h = state('web1');
    assert.equal(h.status, 'DOWN');
    assert.equal(h.checkStatus, 'L4CON');
    assert.equal(h.checkDesc, 'Connection refused');
    assert.equal(h.chkdown, 1);
    assert.equal(h.chkfail, 2);
    assert.deepEqual(updates.at(-1), { backend: 'web_backend', server: 'web1', up: false, admin: 'ready', weight: 10, maxconn: 0 });
    // A reload's new monitor starts from the known state, so workers get DOWN at once.
    const reloaded = new HealthMonitor(m, cap.log, () => {});
    reloaded.adopt(mon);
    assert.equal(reloaded.snapshot().find((u) => u.server === 'web1')!.up, false);
    assert.equal(reloaded.health().find((x) => x.server === 'web1')!.chkdown, 1);
    reloaded.stop();
    const down = cap.messages().find((msg) => msg.includes('is DOWN'));
    assert.match(
      down ?? '',
      /^Server web_backend\/web1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 1 active and 0 backup servers left\. 0 sessions active, 0 requeued, 0 remaining in queue\.$/,
    );
    assert.equal(cap.lines.find((l) => l.msg === down)?.level, 40);
    // Back on the same port: UP after `rise` successes.
    await listen(a, portA);
    await waitFor(() => state('web1').up, 2000, 'web1 UP');
    const up = cap.messages().find((msg) => msg.includes('is UP'));
    assert.match(
      up ?? '',
      /^Server web_backend\/web1 is UP, reason: Layer4 check passed, check duration: \d+ms\. 2 active and 0 backup servers online\. 0 sessions requeued, 0 total in queue\.$/,
    );
    assert.ok(state('web1').downtime > 0);
    assert.ok(state('web1').lastchg > Date.now() - 5000);
  });

  test('last server down: "has no server available!", and log-health-checks lines', async () => {
    const a = tcpServer((s) => s.end());
    const port = await listen(a);
    const m = model([backend('be', [server('srv', port, { backup: true })], {}, ['log-health-checks'])]);
    const { mon, cap, state } = monitor(m);
    mon.start();
    await waitFor(() => state('srv').status === 'UP', 2000, 'UP');
    await close(a);
    await waitFor(() => cap.messages().some((msg) => msg === 'backend be has no server available!'), 2000, 'no server log');
    const msgs = cap.messages();
    assert.ok(msgs.some((msg) => /^Backup Server be\/srv is DOWN, reason: Layer4 connection problem, .*0 active and 0 backup servers left\./.test(msg)));
    assert.ok(msgs.some((msg) => /^Health check for backup server be\/srv failed, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms, status: 1\/2 UP\.$/.test(msg)), msgs.join('\n'));
    // Back again: the first success is logged on the way up.
    await listen(a, port);
    await waitFor(() => state('srv').up, 2000, 'UP again');
    assert.ok(cap.messages().some((msg) => /^Health check for backup server be\/srv succeeded, reason: Layer4 check passed, check duration: \d+ms, status: 1\/2 DOWN\.$/.test(msg)), cap.messages().join('\n'));
  });

  test('admin state and weight from the runtime API; unchecked servers', async () => {
    const a = tcpServer((s) => s.end());
    const port = await listen(a);
    const m = model([backend('be', [server('s1', port), server('s2', port, {}, { enabled: false })])]);
    const { mon, cap, updates, state } = monitor(m);
    assert.equal(state('s2').status, 'no check');
    assert.equal(mon.setAdmin('nope', 's1', 'maint'), 'No such backend.');
    assert.equal(mon.setAdmin('be', 'nope', 'maint'), 'No such server.');
    assert.equal(mon.setAdmin('be', 's1', 'maint'), 'ok');
    assert.equal(state('s1').status, 'MAINT');
    assert.equal(updates.at(-1)?.admin, 'maint');
    assert.match(cap.messages().at(-1)!, /^Server be\/s1 is going DOWN for maintenance\. 1 active and 0 backup servers left\. 0 sessions active/);
    mon.setAdmin('be', 's1', 'ready');
    assert.equal(cap.messages().at(-1), 'Server be/s1 is UP/READY (leaving forced maintenance).');
    mon.setAdmin('be', 's2', 'drain');
    assert.equal(state('s2').status, 'DRAIN');
    assert.equal(mon.setWeight('be', 's1', 0), 'ok');
    assert.equal(updates.at(-1)?.weight, 0);
    // A reload keeps runtime changes.
    const next = new HealthMonitor(m, cap.log, () => {});
    next.adopt(mon);
    assert.equal(next.health().find((h) => h.server === 's2')!.admin, 'drain');
    assert.equal(next.snapshot().find((u) => u.server === 's1')!.weight, 0);
    next.stop();
  });
});

describe('httpchk', () => {
  test('default OPTIONS / HTTP/1.0 passes on 2xx; expect status 200 fails on a 500 with L7STS', async () => {
    const seen: string[] = [];
    const srv = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
      res.statusCode = req.url === '/bad' ? 500 : 200;
      res.end('hello');
    });
    cleanups.push(() => close(srv));
    const port = await listen(srv);
    const m = model([
      backend('plain', [server('p1', port)], { kind: 'http' }),
      backend('strict', [server('s1', port)], {
        kind: 'http',
        http: { method: 'GET', uri: '/bad', version: 'HTTP/1.1', headers: [{ name: 'Host', value: 'x' }], expect: { kind: 'status', negate: false, value: '200' } },
      }),
      backend('body', [server('b1', port)], {
        kind: 'http',
        http: { method: 'GET', uri: '/', version: 'HTTP/1.1', headers: [{ name: 'Host', value: 'x' }], expect: { kind: 'string', negate: false, value: 'hello' } },
      }),
    ]);
    const { mon, cap, state } = monitor(m);
    mon.start();
    await waitFor(() => state('p1').checkStatus === 'L7OK' && state('b1').checkStatus === 'L7OK' && !state('s1').up, 2000, 'http results', () => mon.health());
    assert.ok(seen.includes('OPTIONS / HTTP/1.0'));
    assert.ok(seen.includes('GET /bad HTTP/1.1'));
    assert.equal(state('p1').checkCode, 200);
    assert.equal(state('s1').checkStatus, 'L7STS');
    assert.equal(state('s1').checkCode, 500);
    assert.ok(
      cap.messages().some((msg) =>
        /^Server strict\/s1 is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: \d+ms\. 0 active and 0 backup servers left\./.test(msg),
      ),
    );
    assert.ok(cap.messages().includes('backend strict has no server available!'));
  });
});

describe('tcp-check', () => {
  test('send/expect passes on the expected reply, fails on another', async () => {
    const srv = tcpServer((s) => s.once('data', (d) => s.end(d.toString() === 'PING\r\n' ? 'valid reply\r\n' : 'error\r\n')));
    const port = await listen(srv);
    const m = model([
      backend('good', [server('g', port)], { kind: 'tcp-check', tcpSteps: [{ step: 'send', data: 'PING\r\n' }, { step: 'expect', kind: 'string', negate: false, value: 'valid' }] }),
      backend('bad', [server('b', port)], {
        kind: 'tcp-check',
        tcpSteps: [{ step: 'connect' }, { step: 'send-binary', hex: '50494e470d0a' }, { step: 'expect', kind: 'rstring', negate: true, value: '^valid' }],
      }),
      backend('slow', [server('t', port)], { kind: 'tcp-check', tcpSteps: [{ step: 'connect' }, { step: 'expect', kind: 'string', negate: false, value: 'never' }] }),
    ]);
    m.backends[2].timeouts = { ...m.backends[2].timeouts, check: 150 };
    const { mon, state } = monitor(m);
    mon.start();
    await waitFor(() => state('g').checkStatus === 'L7OK' && state('b').checkStatus === 'L7RSP' && state('t').checkStatus === 'L7TOUT', 3000, 'tcp-check results', () => mon.health());
    assert.equal(state('g').up, true);
    assert.equal(state('b').checkDesc, 'TCPCHK matched unwanted content (regex) at step 3');
    assert.equal(state('t').checkDesc, " at step 2 of tcp-check (expect string 'never')");
  });
});

describe('agent-check', () => {
  test('the agent reply changes weight, maxconn and state', async () => {
    let reply = '50%,maxconn:30\n';
    const agent = tcpServer((s) => s.end(reply));
    const agentPort = await listen(agent);
    const a = tcpServer((s) => s.end());
    const port = await listen(a);
    const m = model([backend('be', [server('srv', port, {}, { agent: { port: agentPort, inter: 100 } })])]);
    const { mon, updates, state } = monitor(m);
    mon.start();
    await waitFor(() => state('srv').weight === 5 && state('srv').maxconn === 30, 2000, 'agent weight');
    assert.ok(updates.some((u) => u.weight === 5));
    reply = 'down#disk full\n';
    await waitFor(() => !state('srv').up, 2000, 'agent down');
    assert.equal(state('srv').status, 'DOWN (agent)');
    assert.equal(state('srv').agentDesc, 'disk full');
    reply = 'up,drain\n';
    await waitFor(() => state('srv').up && state('srv').admin === 'drain', 2000, 'agent up+drain');
    assert.equal(state('srv').status, 'DRAIN');
  });
});

describe('external-check', () => {
  test('exit status decides, arguments and environment as HAProxy', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chk-ext-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const ok = path.join(dir, 'ok.sh');
    fs.writeFileSync(ok, '#!/bin/sh\n[ "$3" = 127.0.0.1 ] && [ "$HAPROXY_SERVER_NAME" = e1 ] && exit 0\nexit 9\n', { mode: 0o755 });
    const bad = path.join(dir, 'bad.sh');
    fs.writeFileSync(bad, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const m = model([
      backend('x1', [server('e1', 1)], { kind: 'external', external: { command: ok, path: '/usr/bin:/bin' } }),
      backend('x2', [server('e2', 1)], { kind: 'external', external: { command: bad } }),
    ]);
    const { mon, state } = monitor(m);
    mon.start();
    await waitFor(() => state('e1').checkStatus === 'PROCOK' && !state('e2').up, 3000, 'external results');
    assert.equal(state('e2').checkStatus, 'PROCERR');
    assert.equal(state('e2').checkCode, 3);
  });
});

describe('TLS', () => {
  test('check-ssl with SNI and ssl-hello-chk', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chk-tls-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=check.test', '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const names: (string | undefined)[] = [];
    const context = tls.createSecureContext({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) });
    const srv = tls.createServer(
      {
        SNICallback: (name, cb) => {
          names.push(name);
          cb(null, context);
        },
        key: fs.readFileSync(path.join(dir, 'key.pem')),
        cert: fs.readFileSync(path.join(dir, 'cert.pem')),
      },
      (s) => s.end(),
    );
    srv.on('tlsClientError', () => {});
    cleanups.push(() => close(srv));
    const port = await listen(srv);
    const plain = tcpServer((s) => s.end('not tls at all'));
    const plainPort = await listen(plain);
    const m = model([
      backend('ssl', [server('t1', port, {}, { ssl: true, sni: 'check.test' })]),
      backend('hello', [server('h1', port), server('h2', plainPort)], { kind: 'ssl-hello' }),
    ]);
    const { mon, state } = monitor(m);
    mon.start();
    await waitFor(() => state('t1').checkStatus === 'L6OK' && state('h1').checkStatus === 'L6OK' && state('h2').checkStatus === 'L6RSP', 3000, 'tls results', () => mon.health());
    assert.ok(names.includes('check.test'));
  });
});

describe('smtpchk and email alerts', () => {
  test('smtpchk passes on 2xx; a DOWN alert arrives at the SMTP sink', async () => {
    const mails: { to: string; body: string }[] = [];
    const sink = new SMTPServer({
      authOptional: true,
      disableReverseLookup: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, cb) {
        let body = '';
        stream.on('data', (d: Buffer) => (body += d.toString()));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), body });
          cb();
        });
      },
    });
    sink.on('error', () => {});
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const sinkPort = ((sink as unknown as { server: net.Server }).server.address() as net.AddressInfo).port;
    cleanups.push(() => new Promise<void>((r) => sink.close(() => r())));
    const a = tcpServer((s) => s.end());
    const port = await listen(a);
    const m = model(
      [backend('mail', [server('smtp1', sinkPort)], { kind: 'smtp', smtpHello: 'EHLO check.test' }), backend('web', [server('w1', port)])],
      { mailers: { host: '127.0.0.1', port: sinkPort, from: 'lb@test', to: 'admin@company.com' } },
    );
    const { mon, state } = monitor(m);
    mon.start();
    await waitFor(() => state('smtp1').checkStatus === 'L7OK' && state('w1').status === 'UP', 3000, 'smtp check', () => mon.health());
    assert.equal(state('smtp1').checkCode, 250);
    await close(a);
    const unfold = (body: string) => body.replace(/=\r\n/g, '').replace(/\r\n /g, ' ');
    await waitFor(() => mails.some((x) => unfold(x.body).includes('web/w1 is DOWN')), 5000, 'alert mail');
    const mail = mails.find((x) => unfold(x.body).includes('web/w1 is DOWN'))!;
    assert.equal(mail.to, 'admin@company.com');
    assert.match(mail.body, /^Subject: /m);
    assert.match(unfold(mail.body), /\r\n\r\nServer web\/w1 is DOWN, reason: Layer4 connection problem, info: "Connection refused"/);
    assert.equal(state('smtp1').up, true);
  });
});

describe('more expectations', () => {
  test('http-check expect rstatus and hdr', async () => {
    const srv = http.createServer((req, res) => {
      res.setHeader('x-state', 'ready-1');
      res.statusCode = 204;
      res.end();
    });
    cleanups.push(() => close(srv));
    const port = await listen(srv);
    const m = model([
      backend('r', [server('r1', port)], { kind: 'http', http: { method: 'GET', uri: '/', version: 'HTTP/1.0', headers: [], expect: { kind: 'rstatus', negate: false, value: '^2' } } }),
      backend('h', [server('h1', port)], {
        kind: 'http',
        http: { method: 'GET', uri: '/', version: 'HTTP/1.0', headers: [], expect: { kind: 'hdr', negate: false, header: 'X-State', value: 'ready', headerMatch: 'beg' } },
      }),
      backend('n', [server('n1', port)], {
        kind: 'http',
        http: { method: 'GET', uri: '/', version: 'HTTP/1.0', headers: [], expect: { kind: 'hdr', negate: false, header: 'x-missing', value: '' } },
      }),
    ]);
    const { mon, state } = monitor(m);
    mon.start();
    await waitFor(() => state('r1').checkStatus === 'L7OK' && state('h1').checkStatus === 'L7OK' && state('n1').checkStatus === 'L7STS', 2000, 'expect results', () => mon.health());
    assert.equal(state('n1').checkDesc, 'HTTP header did not match');
  });

  test('an unreachable SMTP server is logged and does not hold up checks', async () => {
    const dead = tcpServer();
    const deadPort = await listen(dead);
    await close(dead);
    const a = tcpServer((s) => s.end());
    const port = await listen(a);
    const m = model([backend('web', [server('w1', port)])], { mailers: { host: '127.0.0.1', port: deadPort, to: 'ops@test' } });
    const { mon, cap, state } = monitor(m);
    mon.start();
    await waitFor(() => state('w1').status === 'UP', 2000, 'UP');
    await close(a);
    await waitFor(() => cap.messages().some((x) => x.startsWith('email alert to ops@test via 127.0.0.1:')), 5000, 'mail failure log', () => cap.messages());
    assert.equal(state('w1').status, 'DOWN');
    assert.equal(state('w1').checkStatus, 'L4CON');
  });
});
