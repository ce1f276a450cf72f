import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTime, parseSize, splitWords } from '../src/config/haproxy-syntax';
import { parseServerOptions } from '../src/config/server-syntax';
import { parseOption } from '../src/config/option-syntax';
import { parseBalanceLine } from '../src/config/backend-syntax';
import { parseCondition, parseCriterion } from '../src/rules/acl-parser';
import type { Condition } from '../src/config/model';

test('time values', () => {
  assert.equal(parseTime('5s').value, 5000);
  assert.equal(parseTime('500ms').value, 500);
  assert.equal(parseTime('2m').value, 120_000);
  assert.equal(parseTime('1h').value, 3_600_000);
  assert.equal(parseTime('1d').value, 86_400_000);
  assert.equal(parseTime('250').value, 250);
  assert.equal(parseTime(1500).value, 1500);
  assert.match(parseTime('5 sec').error!, /bad time/);
  assert.match(parseTime('-1s').error!, /bad time/);
});

test('sizes', () => {
  assert.equal(parseSize('16k').value, 16384);
  assert.equal(parseSize(32768).value, 32768);
  assert.ok(parseSize('lots').error);
});

test('server keywords', () => {
  const r = parseServerOptions('check fall 3 rise 2 weight 100 backup inter 3s send-proxy-v2 ssl verify none sni str(api.example.com)');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.values, {
    check: true, fall: 3, rise: 2, weight: 100, backup: true, inter: 3000, sendProxy: 2, ssl: true, verify: 'none', sni: 'api.example.com',
  });
  assert.deepEqual(r.pending, []);
});

test('server keywords: errors and pending ones', () => {
  const r = parseServerOptions('chek weight 300 cookie s1 redir http://x fall');
  assert.equal(r.errors.length, 3);
  assert.match(r.errors[0], /unknown server keyword "chek" \(did you mean "check"\?\)/);
  assert.match(r.errors[1], /weight: must be 0\.\.256/);
  assert.match(r.errors[2], /"fall" needs 1 argument/);
  // cookie is implemented (session persistence); redir is carried as pending.
  assert.deepEqual(r.pending.map((p) => p.area), ['http rules (redir)']);
  assert.equal(r.values.cookie, 's1');
});

test('word splitting keeps \\r\\n and unescapes "\\ "', () => {
  assert.deepEqual(splitWords('httpchk GET /api/health HTTP/1.1\\r\\nHost:\\ api.company.com'), [
    'httpchk', 'GET', '/api/health', 'HTTP/1.1\\r\\nHost: api.company.com',
  ]);
});

test('option httpchk forms', () => {
  const seed = parseOption('httpchk GET /api/health HTTP/1.1\\r\\nHost:\\ api.company.com');
  assert.equal(seed.kind, 'check');
  if (seed.kind !== 'check') return;
  assert.deepEqual(seed.check.http, { method: 'GET', uri: '/api/health', version: 'HTTP/1.1', headers: [{ name: 'Host', value: 'api.company.com' }] });
  const plain = parseOption('httpchk');
  assert.ok(plain.kind === 'check' && plain.check.http!.method === 'OPTIONS' && plain.check.http!.uri === '/');
  const uriOnly = parseOption('httpchk /ping');
  assert.ok(uriOnly.kind === 'check' && uriOnly.check.http!.uri === '/ping');
  const host = parseOption('httpchk GET /status HTTP/1.1 www.example.org');
  assert.ok(host.kind === 'check' && host.check.http!.headers[0].value === 'www.example.org');
  assert.equal(parseOption('httpchk GET health').kind, 'error');
});

test('other options', () => {
  const my = parseOption('mysql-check user haproxy');
  assert.ok(my.kind === 'check' && my.check.kind === 'mysql' && my.check.user === 'haproxy' && !my.check.mysqlPost41);
  const my41 = parseOption('mysql-check user haproxy post-41');
  assert.ok(my41.kind === 'check' && my41.check.mysqlPost41);
  assert.equal(parseOption('pgsql-check').kind, 'error');
  const tc = parseOption('tcp-check');
  assert.ok(tc.kind === 'check' && tc.check.kind === 'tcp-check');
  for (const o of ['redis-check', 'smtpchk', 'ssl-hello-chk', 'ldap-check']) assert.equal(parseOption(o).kind, 'check', o);
  const ff = parseOption('forwardfor except 127.0.0.0/8 header X-Real-IP if-none');
  assert.deepEqual(ff, { kind: 'forwardfor', forwardFor: { header: 'X-Real-IP', ifNone: true, except: ['127.0.0.0/8'] } });
  assert.deepEqual(parseOption('httplog'), { kind: 'flag', name: 'httplog' });
  assert.equal(parseOption('http-server-close').kind, 'pending');
  const bad = parseOption('dontlognul');
  assert.ok(bad.kind === 'error' && /did you mean "dontlognull"/.test(bad.error));
});

test('balance lines', () => {
  assert.deepEqual(parseBalanceLine('uri whole'), { algorithm: 'uri', args: ['whole'] });
  assert.deepEqual(parseBalanceLine('hdr(host)'), { algorithm: 'hdr', args: ['host'] });
});

function leaf(c: Condition | undefined): Extract<Condition, { kind: 'match' }> {
  assert.ok(c && c.kind === 'match', JSON.stringify(c));
  return c;
}

test('ACL: seed-style inline criterion', () => {
  const r = parseCondition('hdr(host) -i api.company.com', 'request');
  const l = leaf(r.condition);
  assert.equal(l.fetch, 'hdr');
  assert.deepEqual(l.args, ['host']);
  assert.equal(l.ignoreCase, true);
  assert.equal(l.method, 'str');
  assert.deepEqual(l.patterns, ['api.company.com']);
  const p = leaf(parseCondition('path_beg /api/ /v2/', 'request').condition);
  assert.equal(p.method, 'beg');
  assert.deepEqual(p.patterns, ['/api/', '/v2/']);
});

test('ACL: braces, negation, or, implicit and', () => {
  const r = parseCondition('!{ ssl_fc }', 'request');
  assert.equal(r.condition!.kind, 'not');
  const named = new Map<string, Condition>([
    ['is_api', parseCriterion('path_beg /api', 'request').condition!],
    ['is_post', parseCriterion('method POST', 'request').condition!],
  ]);
  const c = parseCondition('is_api is_post || { hdr(x-debug) -m found } or !is_api', 'request', named).condition!;
  assert.equal(c.kind, 'or');
  if (c.kind !== 'or') return;
  assert.equal(c.terms.length, 3);
  assert.equal(c.terms[0].kind, 'and');
  assert.equal(c.terms[2].kind, 'not');
  assert.equal(parseCondition('TRUE', 'connection').condition!.kind, 'true');
});

test('ACL: methods, converters, int operators, --', () => {
  const l = leaf(parseCondition('{ hdr(host),lower -m dom company.com }', 'request').condition);
  assert.deepEqual(l.converters, [{ name: 'lower', args: [] }]);
  assert.equal(l.method, 'dom');
  const n = leaf(parseCondition('{ dst_port gt 1024 8000:9000 }', 'connection').condition);
  assert.deepEqual(n.patterns, ['gt 1024', '8000:9000']);
  const d = leaf(parseCondition('{ path -- -weird }', 'request').condition);
  assert.deepEqual(d.patterns, ['-weird']);
  const ip = leaf(parseCondition('{ src 10.0.0.0/8 ::1 }', 'connection').condition);
  assert.equal(ip.method, 'ip');
  const re = leaf(parseCondition('{ path_reg ^/api/v[0-9]+\\.json$ }', 'request').condition);
  assert.deepEqual(re.patterns, ['^/api/v[0-9]+\\.json$']);
});

test('ACL: errors', () => {
  assert.match(parseCondition('hdr(host) -i x', 'connection').error!, /not available in a tcp frontend/);
  assert.match(parseCondition('{ status 200 }', 'request').error!, /not available in http-request rules/);
  assert.match(parseCondition('{ path_bge /x }', 'request').error!, /unknown fetch "path_bge" \(did you mean "path_beg"\?\)/);
  assert.match(parseCondition('path_bge /x', 'request').error!, /did you mean "path_beg"/);
  assert.match(parseCondition('{ src 10.0.0.300 }', 'connection').error!, /not an IP/);
  assert.match(parseCondition('{ src 10.0.0.0/40 }', 'connection').error!, /prefix length/);
  assert.match(parseCondition('{ path_reg ^(unclosed }', 'request').error!, /bad regex/);
  assert.match(parseCondition('{ hdr }', 'request').error!, /takes 1 to 2 arguments, got 0/);
  assert.match(parseCondition('{ path -m nope x }', 'request').error!, /unknown match method/);
  assert.match(parseCondition('{ path }', 'request').error!, /no pattern/);
  assert.match(parseCondition('{ path_beg /x', 'request').error!, /missing "}"/);
  assert.match(parseCondition('{ hdr(host),lowr x }', 'request').error!, /did you mean "lower"/);
  assert.match(parseCondition('', 'request').error!, /empty/);
  assert.match(parseCondition('{ dst_port gt x }', 'connection').error!, /needs an integer/);
});
