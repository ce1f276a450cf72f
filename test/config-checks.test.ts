/** Health-check configuration: keywords and lines → Model, errors with file:line, the seed's multi-line option, mailers. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, formatIssue, type ConfigIssue } from '../src/config/load';
import { parseCheckLine } from '../src/config/check-syntax';
import { parseOption } from '../src/config/option-syntax';
import { parseServerOptions } from '../src/config/server-syntax';
import { mailerSettings } from '../src/primary/mailer';
import type { Model } from '../src/config/model';
import { tempDir } from './helpers/tslb';

const dir = tempDir('tslb-config-checks-');
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function load(yaml: string): { model?: Model; errors: ConfigIssue[]; warnings: ConfigIssue[]; file: string } {
  const file = path.join(dir, `c${++n}.yaml`);
  writeFileSync(file, yaml);
  return { ...loadConfig([file]), file };
}

function ok(yaml: string): Model {
  const r = load(yaml);
  assert.deepEqual(r.errors.map(formatIssue), []);
  return r.model!;
}

function issue(list: ConfigIssue[], re: RegExp): ConfigIssue {
  const hit = list.find((i) => re.test(i.message));
  assert.ok(hit, `no issue ${re} in:\n${list.map(formatIssue).join('\n')}`);
  return hit;
}

const FRONT = `
frontends:
  - name: fe
    binds: ["127.0.0.1:18080"]
    default_backend: app
`;

test('agent keywords land in server.check.agent; no pending warning', () => {
  const r = parseServerOptions('check agent-check agent-port 9999 agent-inter 500ms agent-addr 127.0.0.2 agent-send "hello\\n" check-ssl check-sni chk.example.com');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.pending, []);
  assert.deepEqual(r.values, {
    check: true, agentCheck: true, agentPort: 9999, agentInter: 500, agentAddr: '127.0.0.2', agentSend: 'hello\n', checkSsl: true, checkSni: 'chk.example.com',
  });
  const r2 = load(`${FRONT}
backends:
  - name: app
    servers:
      - { name: a1, address: 127.0.0.1, port: 9001, options: "check agent-check agent-port 9999 agent-send up\\\\n" }
      - { name: a2, address: 127.0.0.1, port: 9002, options: "check check-ssl check-sni a.example.com" }
`);
  assert.deepEqual(r2.errors.map(formatIssue), []);
  assert.deepEqual(r2.warnings.map(formatIssue), []);
  const [a1, a2] = r2.model!.backends[0].servers;
  assert.deepEqual(a1.check.agent, { port: 9999, inter: 2000, send: 'up\n' });
  assert.equal(a1.check.ssl, false);
  assert.equal(a2.check.agent, undefined);
  assert.equal(a2.check.ssl, true);
  assert.equal(a2.check.sni, 'a.example.com');
  assert.deepEqual(r2.model!.pending, []);
});

test('check timing defaults: fastinter/downinter = inter, timeout check unset = 0', () => {
  const m = ok(`${FRONT}
backends:
  - name: app
    servers:
      - { name: a1, address: 127.0.0.1, port: 9001, options: "check inter 300ms" }
      - { name: a2, address: 127.0.0.1, port: 9002, options: "check fastinter 100ms downinter 5s" }
`);
  const [a1, a2] = m.backends[0].servers;
  assert.deepEqual([a1.check.inter, a1.check.fastinter, a1.check.downinter, a1.check.rise, a1.check.fall], [300, 300, 300, 2, 3]);
  assert.deepEqual([a2.check.inter, a2.check.fastinter, a2.check.downinter], [2000, 100, 5000]);
  assert.equal(m.backends[0].timeouts.check, 0);
});

test('option lines: httpchk + http-check send/expect, smtpchk EHLO, tcp-check steps, external-check', () => {
  const m = ok(`${FRONT}
backends:
  - name: app
    options:
      - "option httpchk"
      - "http-check send meth GET uri /health ver HTTP/1.1 hdr Host app.test hdr X-Check yes body '{\\"a\\":1}'"
      - "http-check expect ! rstatus ^5"
    servers: [{ name: a1, address: 127.0.0.1, port: 9001 }]
  - name: mail
    mode: tcp
    options: ["smtpchk EHLO lb.test"]
    servers: [{ name: m1, address: 127.0.0.1, port: 2525 }]
  - name: cache
    mode: tcp
    options:
      - tcp-check
      - "tcp-check connect port 6379 ssl"
      - 'tcp-check send PING\\r\\n'
      - "tcp-check send-binary 50494E47"
      - "tcp-check expect min-recv 5 ! rstring ^-ERR"
      - "tcp-check expect binary 2b504f4e47"
      - "tcp-check expect string +OK min-recv 3"
    servers: [{ name: c1, address: 127.0.0.1, port: 6379 }]
  - name: legacy
    mode: tcp
    options: ["option external-check", "external-check command /bin/true", "external-check path /usr/bin:/bin"]
    servers: [{ name: l1, address: 127.0.0.1, port: 7001 }]
`);
  const [app, mail, cache, legacy] = m.backends;
  assert.equal(app.healthCheck.kind, 'http');
  assert.deepEqual(app.healthCheck.http, {
    method: 'GET',
    uri: '/health',
    version: 'HTTP/1.1',
    headers: [{ name: 'Host', value: 'app.test' }, { name: 'X-Check', value: 'yes' }],
    body: '{"a":1}',
    expect: { kind: 'rstatus', negate: true, value: '^5' },
  });
  assert.equal(mail.healthCheck.kind, 'smtp');
  assert.equal(mail.healthCheck.smtpHello, 'EHLO lb.test');
  assert.deepEqual(cache.healthCheck.tcpSteps, [
    { step: 'connect', port: 6379, ssl: true },
    { step: 'send', data: 'PING\r\n' },
    { step: 'send-binary', hex: '50494e47' },
    { step: 'expect', kind: 'rstring', negate: true, value: '^-ERR', minRecv: 5 },
    { step: 'expect', kind: 'binary', negate: false, value: '2b504f4e47' },
    { step: 'expect', kind: 'string', negate: false, value: '+OK', minRecv: 3 },
  ]);
  assert.deepEqual(legacy.healthCheck.external, { command: '/bin/true', path: '/usr/bin:/bin' });
  assert.deepEqual(m.pending, []);
});

test('http-check expect forms', () => {
  const expect = (line: string) => {
    const r = parseCheckLine(`http-check expect ${line}`);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.value!.kind, 'http-expect');
    return r.value!.kind === 'http-expect' ? r.value.expect : undefined;
  };
  assert.deepEqual(expect('status 200,301-302'), { kind: 'status', negate: false, value: '200,301-302' });
  assert.deepEqual(expect('!string maintenance'), { kind: 'string', negate: true, value: 'maintenance' });
  assert.deepEqual(expect('rstring "ok|fine"'), { kind: 'rstring', negate: false, value: 'ok|fine' });
  assert.deepEqual(expect('hdr name x-ready'), { kind: 'hdr', negate: false, value: '', header: 'x-ready' });
  assert.deepEqual(expect('hdr name x-ready value yes'), { kind: 'hdr', negate: false, value: 'yes', header: 'x-ready', headerMatch: 'str' });
  assert.deepEqual(expect('hdr name x-ready value -m beg ye'), { kind: 'hdr', negate: false, value: 'ye', header: 'x-ready', headerMatch: 'beg' });
  assert.deepEqual(expect('! hdr name x-ready value ^n -m reg'), { kind: 'hdr', negate: true, value: '^n', header: 'x-ready', headerMatch: 'reg' });
  const bad = (line: string, re: RegExp) => assert.match(parseCheckLine(line).error ?? '', re, line);
  bad('http-check expect status abc', /not a status, range or list/);
  bad('http-check expect stauts 200', /did you mean "status"/);
  bad('http-check expect rstring (', /bad regular expression/);
  bad('http-check expect hdr name x value -m dom a', /-m must be one of str, beg, end, sub, reg/);
  bad('http-check expect string a b', /exactly one pattern/);
  bad('http-check sned meth GET', /expected connect, send or expect \(did you mean "send"\?\)/);
  bad('http-check send meth GET uri health', /uri must start with "\/"/);
  bad('http-check send ver HTTP/2', /ver must be HTTP\/1\.0 or HTTP\/1\.1/);
  bad('http-check send hdr x-a %[src]', /log-format expressions are not supported/);
  bad('tcp-check send-binary 123', /even-length hex/);
  bad('tcp-check expect regex x', /expected \[!\] string\|rstring\|binary/);
  bad('tcp-check connect port 0', /port must be 1\.\.65535/);
  bad('tcp-check connect alpn h2', /unsupported keyword "alpn"/);
  bad('tcp-check expect min-recv x string a', /min-recv needs a byte count/);
  bad('external-check comand /bin/x', /external-check takes command <path> or path <PATH>/);
  const smtp = parseOption('smtpchk helo mx.test');
  assert.ok(smtp.kind === 'check' && smtp.check.smtpHello === 'HELO mx.test');
  assert.equal(parseOption('smtpchk').kind === 'check' && (parseOption('smtpchk') as { check: { smtpHello?: string } }).check.smtpHello, undefined);
});

test('structured health_check: expect, steps, hello, command', () => {
  const m = ok(`${FRONT}
backends:
  - name: app
    health_check: { type: http, method: GET, uri: /ready, expect: "hdr name x-ready value -m sub es" }
    servers: [{ name: a1, address: 127.0.0.1, port: 9001 }]
  - name: cache
    mode: tcp
    health_check: { type: tcp-check, steps: ["send PING\\r\\n", "expect string +PONG"] }
    servers: [{ name: c1, address: 127.0.0.1, port: 6379 }]
  - name: mail
    mode: tcp
    health_check: { type: smtp, hello: "EHLO a.test" }
    servers: [{ name: m1, address: 127.0.0.1, port: 25 }]
  - name: legacy
    mode: tcp
    health_check: { type: external, command: /bin/true }
    servers: [{ name: l1, address: 127.0.0.1, port: 7001 }]
`);
  const [app, cache, mail, legacy] = m.backends;
  assert.deepEqual(app.healthCheck.http!.expect, { kind: 'hdr', negate: false, value: 'es', header: 'x-ready', headerMatch: 'sub' });
  assert.deepEqual(cache.healthCheck.tcpSteps, [{ step: 'send', data: 'PING\r\n' }, { step: 'expect', kind: 'string', negate: false, value: '+PONG' }]);
  assert.equal(mail.healthCheck.smtpHello, 'EHLO a.test');
  assert.deepEqual(legacy.healthCheck.external, { command: '/bin/true' });
});

test('a defaults check with its lines is copied per backend; a backend check of its own drops the defaults lines', () => {
  const m = ok(`${FRONT}
defaults:
  options: ["httpchk GET /", "http-check expect status 204"]
backends:
  - name: app
    options: ["http-check send hdr Host a.test"]
    servers: [{ name: a1, address: 127.0.0.1, port: 9001 }]
  - name: other
    servers: [{ name: o1, address: 127.0.0.1, port: 9002 }]
  - name: own
    options: ["tcp-check", "tcp-check send x"]
    servers: [{ name: w1, address: 127.0.0.1, port: 9003 }]
`);
  const [app, other, own] = m.backends;
  assert.deepEqual(app.healthCheck.http!.headers, [{ name: 'Host', value: 'a.test' }]);
  assert.deepEqual(app.healthCheck.http!.expect, { kind: 'status', negate: false, value: '204' });
  assert.deepEqual(other.healthCheck.http!.headers, []);
  assert.equal(own.healthCheck.kind, 'tcp-check');
  assert.deepEqual(own.healthCheck.tcpSteps, [{ step: 'send', data: 'x' }]);
});

test('bad values are errors with file:line', () => {
  const r = load(`${FRONT}
backends:
  - name: app
    options:
      - "httpchk"
      - "http-check expect status 2xx"
      - "tcp-check send PING"
    servers:
      - { name: a1, address: 127.0.0.1, port: 9001, options: "check agent-check" }
      - { name: a2, address: 127.0.0.1, port: 9002, options: "check agent-check agent-port 99999 agent-inter fast" }
  - name: ext
    options: ["option external-check"]
    servers: [{ name: e1, address: 127.0.0.1, port: 9003 }]
  - name: cache
    health_check: { type: tcp-check, steps: ["connect", "expect strin +PONG"], uri: /x }
    servers: [{ name: c1, address: 127.0.0.1, port: 9004 }]
  - name: mail
    health_check: { type: smtp, hello: "HI there" }
    servers: [{ name: m1, address: 127.0.0.1, port: 9005 }]
mailers: { to: "ops@example.com, nobody", user: x }
`);
  assert.equal(r.model, undefined);
  const at = (re: RegExp) => {
    const i = issue(r.errors, re);
    assert.equal(i.file, r.file);
    return `${i.line}:${i.path}`;
  };
  assert.equal(at(/status: "2xx" is not a status/), '11:backends[0].options[1]');
  assert.equal(at(/tcp-check steps need option tcp-check \(this backend's check is http\)/), '12:backends[0].options[2]');
  assert.equal(at(/agent-check needs agent-port/), '14:backends[0].servers[0].options');
  assert.equal(at(/agent-port: must be 1\.\.65535/), '15:backends[0].servers[1].options');
  assert.equal(at(/agent-inter: bad time "fast"/), '15:backends[0].servers[1].options');
  assert.equal(at(/option external-check needs an "external-check command <path>" line/), '17:backends[1].options[0]');
  assert.equal(at(/expected \[!\] string\|rstring\|binary <pattern>, not "strin" \(did you mean "string"\?\)/), '20:backends[2].health_check.steps[1]');
  assert.equal(at(/uri does not apply to a tcp-check check/), '20:backends[2].health_check.uri');
  assert.equal(at(/hello: expected HELO or EHLO, not "HI"/), '23:backends[3].health_check.hello');
  assert.equal(at(/"nobody" is not an e-mail address/), '25:mailers.to');
  assert.equal(at(/SMTP authentication needs both user and pass/), '25:mailers.user');
  assert.match(formatIssue(issue(r.errors, /agent-check needs agent-port/)), /c\d+\.yaml:14:\d+: backends\[0\]\.servers\[0\]\.options: agent-check needs agent-port <port>$/);
});

test('check lines in a frontend, and http-check without httpchk, are errors', () => {
  const r = load(`
frontends:
  - name: fe
    binds: ["127.0.0.1:18080"]
    options: ["http-check expect status 200"]
    default_backend: app
backends:
  - name: app
    options: ["http-check expect status 200"]
    servers: [{ name: a1, address: 127.0.0.1, port: 9001, options: "check" }]
`);
  assert.equal(issue(r.errors, /is a check directive: put it in a backend/).path, 'frontends[0].options[0]');
  assert.equal(issue(r.errors, /http-check lines need option httpchk \(this backend's check is tcp\)/).path, 'backends[0].options[0]');
});

test('mailers: native settings reach mailerSettings()', () => {
  const m = ok(`${FRONT}
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: 9001, options: check }]
mailers: { host: 127.0.0.1, port: 2525, from: lb@test, to: "a@test, b@test", level: notice, user: u, pass: p }
`);
  assert.deepEqual(mailerSettings(m), {
    host: '127.0.0.1', port: 2525, secure: false, from: 'lb@test', to: ['a@test', 'b@test'], level: 'notice', auth: { user: 'u', pass: 'p' },
  });
  const none = load(`${FRONT}
backends:
  - name: app
    servers: [{ name: a1, address: 127.0.0.1, port: 9001 }]
mailers: { host: 127.0.0.1 }
`);
  issue(none.warnings, /mailers without recipients/);
  assert.equal(mailerSettings(none.model!), undefined);
});

test('seed: multi-line option (option/http-check/tcp-check lines) and email_alerts', () => {
  const r = load(`
proxy:
  https_in_binds: [{ ip: 127.0.0.1, port: 18443 }]
  backends:
    - name: web
      option: |
        option httpchk GET /health HTTP/1.1\\r\\nHost:\\ www.test
        http-check expect status 200
      server_name: w1
      server_host_ip: 127.0.0.1
      server_port: 9001
      server_ops: "check fall 3 rise 2 agent-check agent-port 9999"
    - name: web
      server_name: w2
      server_host_ip: 127.0.0.1
      server_port: 9002
      server_ops: "check"
    - name: db
      mode: tcp
      option: "tcp-check\\ntcp-check send PING\\\\r\\\\n\\ntcp-check expect string +PONG"
      server_name: d1
      server_host_ip: 127.0.0.1
      server_port: 6379
      server_ops: "check"
  tcp_services: [{ bind_port: 16379, backend: db }]
  monitoring:
    health_checks: { interval: 500ms, email_alerts: "admin@company.com" }
mailers: { host: 127.0.0.1, port: 2525 }
`);
  assert.deepEqual(r.errors.map(formatIssue), []);
  const m = r.model!;
  const web = m.backends.find((b) => b.name === 'web')!;
  assert.deepEqual(web.healthCheck.http, {
    method: 'GET', uri: '/health', version: 'HTTP/1.1', headers: [{ name: 'Host', value: 'www.test' }], expect: { kind: 'status', negate: false, value: '200' },
  });
  assert.deepEqual(web.servers[0].check.agent, { port: 9999, inter: 2000 });
  assert.equal(web.servers[1].check.inter, 500);
  const db = m.backends.find((b) => b.name === 'db')!;
  assert.deepEqual(db.healthCheck.tcpSteps, [{ step: 'send', data: 'PING\r\n' }, { step: 'expect', kind: 'string', negate: false, value: '+PONG' }]);
  assert.deepEqual(m.pending, []);
  assert.ok(!r.warnings.some((w) => /email|agent/.test(w.message)), r.warnings.map(formatIssue).join('\n'));
  const mail = mailerSettings(m)!;
  assert.deepEqual([mail.host, mail.port, mail.to], ['127.0.0.1', 2525, ['admin@company.com']]);

  const bad = load(`
proxy:
  https_in_binds: [{ ip: 127.0.0.1, port: 18443 }]
  backends:
    - name: web
      option: |
        httpchk
        http-check expect status nope
      server_name: w1
      server_host_ip: 127.0.0.1
      server_port: 9001
`);
  const e = issue(bad.errors, /"nope" is not a status/);
  assert.deepEqual([e.file, e.line, e.path], [bad.file, 6, 'proxy.backends[0].option']);
});
