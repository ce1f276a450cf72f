/**
 * The access-log renderer and sinks in-process: HAProxy's httplog/tcplog layouts,
 * the seed's custom log-format, separators around empty variables, quoting, fetches,
 * dates, JSON, file reopen (log rotation), and RFC 3164/5424 syslog over UDP.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { compileLogFormat, emptyEntry, formatLogDate, HTTPLOG_FORMAT, renderJson, TCPLOG_FORMAT, type AccessLogEntry } from '../src/log/access';
import { accessLogSink, parseAccessLogDestination, reopenAccessLogs } from '../src/log/access-sink';
import type { SampleContext } from '../src/rules/context';
import { tempDir } from './helpers/tslb';

const sockets: dgram.Socket[] = [];
after(() => {
  for (const s of sockets) s.close();
});

function sample(): SampleContext {
  return {
    stage: 'request',
    src: '10.0.0.1',
    srcPort: 4242,
    dst: '127.0.0.1',
    dstPort: 80,
    ssl: false,
    sni: undefined,
    frontend: 'fe1',
    method: () => 'GET',
    path: () => '/r/2',
    url: () => '/r/2?q=2',
    query: () => 'q=2',
    version: () => '1.1',
    header: (n) => (n === 'host' ? 'WWW.Example.com' : undefined),
    headerValues: (n) => (n === 'host' ? ['WWW.Example.com'] : []),
    status: () => 0,
    responseHeader: () => undefined,
    responseHeaderValues: () => [],
  };
}

/** A request with known values; the accept date is a fixed local time. */
function entry(): AccessLogEntry {
  const e = emptyEntry();
  const accept = new Date(2026, 10, 26, 0, 52, 48, 379).getTime();
  Object.assign(e, {
    clientIp: '10.0.0.1',
    clientPort: 4242,
    frontendIp: '127.0.0.1',
    frontendPort: 80,
    acceptDate: accept,
    requestDate: accept + 2,
    frontend: 'fe1',
    backend: 'be1',
    server: 'srv1',
    serverIp: '127.0.0.2',
    serverPort: 8080,
    th: 0,
    ti: 2,
    tR: 1,
    tw: 0,
    tc: 3,
    tr: 7,
    ta: 12,
    tt: 14,
    status: 200,
    bytesRead: 80,
    bytesSent: 145,
    termination: '--',
    actconn: 3,
    feconn: 2,
    beconn: 1,
    srvconn: 1,
    retries: 0,
    hasRequest: true,
    method: 'GET',
    uri: '/r/2?q=2',
    path: '/r/2',
    pathOnly: '/r/2',
    query: '?q=2',
    version: 'HTTP/1.1',
    sample: sample(),
  });
  return e;
}

test('httplog renders HAProxy\'s layout, empty captures take no room', () => {
  const f = compileLogFormat(HTTPLOG_FORMAT);
  assert.deepEqual(f.errors, []);
  assert.equal(
    f.render(entry()),
    '10.0.0.1:4242 [26/Nov/2026:00:52:48.381] fe1 be1/srv1 1/0/3/7/12 200 145 - - ---- 3/2/1/1/0 0/0 "GET /r/2?q=2 HTTP/1.1"',
  );
});

test('httplog of a refused connection: <NOSRV>, -1 timers, SC--, TLS frontend with ~, redispatch +', () => {
  const e = entry();
  Object.assign(e, { server: '<NOSRV>', serverIp: '', tc: -1, tr: -1, status: 503, termination: 'SC', ssl: true, retries: 3, redispatched: true });
  const line = compileLogFormat(HTTPLOG_FORMAT).render(e);
  assert.match(line, / fe1~ be1\/<NOSRV> 1\/0\/-1\/-1\/12 503 145 - - SC-- 3\/2\/1\/1\/\+3 0\/0 "GET /);
});

test('<BADREQ> when no head was parsed; captures render in braces', () => {
  const e = entry();
  Object.assign(e, { hasRequest: false, requestHeaders: ['a.example', 'curl'], responseHeaders: ['nginx'] });
  const line = compileLogFormat(HTTPLOG_FORMAT).render(e);
  assert.match(line, / 0\/0 \{a\.example\|curl\} \{nginx\} "<BADREQ>"$/);
});

test('tcplog renders HAProxy\'s layout', () => {
  const e = entry();
  Object.assign(e, { tw: 0, tc: 1, tt: 250, bytesSent: 4096, hasRequest: false });
  assert.equal(
    compileLogFormat(TCPLOG_FORMAT).render(e),
    '10.0.0.1:4242 [26/Nov/2026:00:52:48.379] fe1 be1/srv1 0/1/250 4096 -- 3/2/1/1/0 0/0',
  );
});

test("the seed's https_log_format renders (hostname first)", () => {
  const f = compileLogFormat('%H %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r');
  assert.deepEqual(f.errors, []);
  assert.equal(
    f.render(entry()),
    `${hostname()} 10.0.0.1:4242 [26/Nov/2026:00:52:48.379] fe1 be1/srv1 0/3/14 145 -- 3/2/1/1/0 0/0 "GET /r/2?q=2 HTTP/1.1"`,
  );
});

test('URI variables, %[fetch] with converters, +E escaping, %% and literal text', () => {
  const f = compileLogFormat('hpo=%HPO hp=%HP hu=%HU hq=%HQ %HM %HV src=%[src] host=%[hdr(host),lower] %{+Q,+E}[url] 100%% %Th/%Ti/%TR/%Tq/%Td %U %si:%sp');
  assert.deepEqual(f.errors, []);
  const e = entry();
  e.uri = '/a"b';
  e.sample = { ...sample(), url: () => '/a"b' };
  assert.equal(
    f.render(e),
    'hpo=/r/2 hp=/r/2 hu=/a#22b hq=?q=2 GET HTTP/1.1 src=10.0.0.1 host=www.example.com "/a\\"b" 100% 0/2/1/3/1 80 127.0.0.2:8080',
  );
});

test('request data is #XX-encoded: controls, bytes >= 0x7f, " and #; {|} too inside captures', () => {
  const e = entry();
  Object.assign(e, {
    method: 'GET',
    uri: '/a"b#c{|}\\d]',
    requestHeaders: ['x\ty', 'p{|}q'],
    responseHeaders: ['\x9b[2J\r\n'],
    sample: { ...sample(), headerValues: () => ['v"\x00\x7f\xff#'] },
  });
  assert.equal(
    compileLogFormat('%hr %hs %{+Q}r %[hdr(x)] %hrl').render(e),
    '{x#09y|p#7B#7C#7Dq} {#9B[2J#0D#0A} "GET /a#22b#23c{|}\\d] HTTP/1.1" v#22#00#7F#FF#23 x#09y p#7B#7C#7Dq',
  );
  // +E escapes what the encoding leaves (a backslash, `]`); a sample under +E keeps HAProxy's \".
  assert.equal(compileLogFormat('%{+E}HU %{+Q,+E}[hdr(x)]').render(e), '/a#22b#23c{|}\\\\d\\] "v\\"#00#7F#FF#23"');
  // A converter's output beyond latin1 is encoded as its UTF-8 bytes.
  e.sample = { ...sample(), headerValues: () => ['é€😀'] };
  assert.equal(compileLogFormat('%[hdr(x)]').render(e), '#E9#E2#82#AC#F0#9F#98#80');
});

test('unknown variables and fetches are reported and left visible', () => {
  const f = compileLogFormat('%ci %bogus %[nope] %[hdr(] x');
  assert.equal(f.errors.length, 3);
  assert.match(f.render(entry()), /^10\.0\.0\.1 %bogus %\[nope\] %\[hdr\(\] x$/);
});

test('dates: %t local with ms, %T GMT, %Ts epoch, %trl local with offset', () => {
  const ms = Date.UTC(2026, 0, 5, 3, 4, 5, 6);
  assert.match(formatLogDate(ms), /^\d\d\/[A-Z][a-z]{2}\/2026:\d\d:\d\d:05\.006$/);
  const e = entry();
  e.acceptDate = ms;
  e.requestDate = ms;
  const line = compileLogFormat('%T|%Ts|%trg|%trl|%ms').render(e);
  assert.match(line, /^05\/Jan\/2026:03:04:05 \+0000\|1767582245\|05\/Jan\/2026:03:04:05 \+0000\|\d\d\/Jan\/2026:\d\d:\d\d:05 [+-]\d{4}\|006$/);
});

test('JSON is one object with HAProxy field names', () => {
  const obj = JSON.parse(renderJson(entry(), true));
  assert.equal(obj.msg, 'access');
  assert.equal(obj.level, 'info');
  assert.equal(obj.client_ip, '10.0.0.1');
  assert.equal(obj.server_name, 'srv1');
  assert.equal(obj.status_code, 200);
  assert.equal(obj.time_connect, 3);
  assert.equal(obj.termination_state, '--');
  assert.equal(obj.request_line, 'GET /r/2?q=2 HTTP/1.1');
  const tcp = JSON.parse(renderJson(entry(), false));
  assert.equal(tcp.status_code, undefined);
  assert.equal(tcp.request_line, undefined);
});

test('destinations parse; unix datagram is refused with a reason', () => {
  assert.deepEqual(parseAccessLogDestination('stdout'), { kind: 'stdout' });
  assert.deepEqual(parseAccessLogDestination('/var/log/a.log'), { kind: 'file', path: '/var/log/a.log' });
  assert.deepEqual(parseAccessLogDestination('udp://127.0.0.1'), { kind: 'syslog', rfc: 3164, host: '127.0.0.1', port: 514, facility: 16, tag: 'tslb' });
  assert.deepEqual(parseAccessLogDestination('udp5424://[::1]:1514?facility=local3&tag=haproxy'), {
    kind: 'syslog',
    rfc: 5424,
    host: '::1',
    port: 1514,
    facility: 19,
    tag: 'haproxy',
  });
  assert.throws(() => parseAccessLogDestination('unix:///dev/log'), /not supported/);
  assert.throws(() => parseAccessLogDestination('udp://127.0.0.1?facility=nope'), /facility/);
});

test('file sink: reopen after a rename sends later lines to a new file, none lost', async () => {
  const dir = tempDir('tslb-log-');
  const file = path.join(dir, 'access.log');
  const sink = accessLogSink(file);
  for (let i = 0; i < 50; i++) sink.write(`before ${i}`, false);
  await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length === 51);
  renameSync(file, file + '.1');
  reopenAccessLogs();
  for (let i = 0; i < 30; i++) sink.write(`after ${i}`, false);
  await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length === 31);
  const old = readFileSync(file + '.1', 'utf8').trim().split('\n');
  const fresh = readFileSync(file, 'utf8').trim().split('\n');
  assert.deepEqual(old, Array.from({ length: 50 }, (_, i) => `before ${i}`));
  assert.deepEqual(fresh, Array.from({ length: 30 }, (_, i) => `after ${i}`));
});

test('syslog over UDP: RFC 3164 and RFC 5424 framing, err severity for errors', async () => {
  const got: string[] = [];
  const server = dgram.createSocket('udp4');
  sockets.push(server);
  server.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const port = server.address().port;
  accessLogSink(`udp://127.0.0.1:${port}`).write('hello 3164', false);
  accessLogSink(`udp5424://127.0.0.1:${port}?facility=local1&tag=haproxy`).write('hello 5424', true);
  await waitFor(() => got.length === 2);
  const m3164 = got.find((m) => m.endsWith('hello 3164'))!;
  const m5424 = got.find((m) => m.endsWith('hello 5424'))!;
  // local0.info = 134; local1.err = 139
  assert.match(m3164, new RegExp(`^<134>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d ${hostname()} tslb\\[${process.pid}\\]: hello 3164$`));
  assert.match(m5424, new RegExp(`^<139>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${hostname()} haproxy ${process.pid} - - hello 5424$`));
});

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
