/**
 * The pattern lookups shared by ACLs and maps (src/rules/pattern-index.ts): HAProxy's
 * choice among several matches, both the in-place and the indexed forms of beg/end,
 * word boundaries of dir/dom, and CIDR networks with IPv4-mapped IPv6 both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLookup, parseIpPattern, type PatternMethod } from '../src/rules/pattern-index';

const find = (method: PatternMethod, patterns: string[], value: string | number, ignoreCase = false) => buildLookup(method, patterns, ignoreCase)(value);
const many = (extra: string[]) => [...extra, 'zz1', 'zz22', 'zz333', 'zz4444'];

test('str: exact, first of duplicates, -i', () => {
  assert.equal(find('str', ['a', 'b', 'a'], 'a'), 0);
  assert.equal(find('str', ['A.example'], 'a.EXAMPLE', true), 0);
  assert.equal(find('str', ['a'], 'A'), -1);
});

test('beg: the longest prefix, tested in place or looked up by length', () => {
  for (const pats of [['/a', '/a/b', '/'], many(['/a', '/a/b', '/'])]) {
    assert.equal(find('beg', pats, '/a/b/c'), 1, pats.join(' '));
    assert.equal(find('beg', pats, '/a/c'), 0);
    assert.equal(find('beg', pats, '/x'), 2);
    assert.equal(find('beg', pats, 'x'), -1);
  }
  assert.equal(find('beg', many(['/API']), '/api/x', true), 0);
});

test('end: the first matching suffix in order, tested in place or looked up by length', () => {
  for (const pats of [['.jpg', 'x.jpg'], many(['.jpg', 'x.jpg'])]) {
    assert.equal(find('end', pats, '/a/x.jpg'), 0);
    assert.equal(find('end', pats, '/a/x.png'), -1);
  }
  assert.equal(find('end', many(['b.jpg', '.jpg']), '/ab.jpg'), 0, 'order, not length');
});

test('dir and dom: whole words between delimiters; delimiters at the ends of a pattern are ignored', () => {
  assert.equal(find('dom', ['example.com'], 'www.example.com:8080'), 0);
  assert.equal(find('dom', ['example.com'], 'wwwexample.com'), -1);
  assert.equal(find('dom', ['.example.com.'], 'a.example.com'), 0);
  assert.equal(find('dom', ['com', 'example.com'], 'a.example.com'), 0, 'first in order');
  assert.equal(find('dom', ['Example.COM'], 'www.example.com', true), 0);
  assert.equal(find('dir', ['img'], '/static/img/x.png'), 0);
  assert.equal(find('dir', ['im'], '/static/img/x.png'), -1);
  assert.equal(find('dir', ['static/img'], '/static/img?x'), 0);
  assert.equal(find('dir', ['example'], 'www.example.com'), -1, 'dir words are split on / and ? only');
});

test('sub, reg, int, len: the first pattern that matches', () => {
  assert.equal(find('sub', ['zz', 'bot', 'o'], 'Googlebot'), 1);
  assert.equal(find('reg', ['^x', '[0-9]+$'], 'v12'), 1);
  assert.equal(find('reg', ['^V'], 'v1', true), 0);
  assert.equal(find('int', ['gt 5', '1:3', ':0', '7'], 2), 1);
  assert.equal(find('int', ['gt 5'], '7'), 0);
  assert.equal(find('int', [':0'], -4), 0);
  assert.equal(find('int', ['10:'], 'x'), -1);
  assert.equal(find('len', ['3', 'ge 5'], 'abcdef'), 1);
});

test('bin: binary (latin1) samples against hex patterns', () => {
  assert.equal(find('bin', ['00ff', 'C0FFEE'], Buffer.from('c0ffee', 'hex').toString('latin1')), 1);
  assert.equal(find('bin', ['00ff'], 'x'), -1);
});

test('ip: the longest network; IPv4-mapped IPv6 both ways; dotted masks', () => {
  assert.equal(find('ip', ['10.0.0.0/8', '10.1.0.0/16'], '10.1.2.3'), 1);
  assert.equal(find('ip', ['10.0.0.0/8', '10.1.0.0/16'], '10.2.2.3'), 0);
  assert.equal(find('ip', ['10.0.0.0/8'], '11.0.0.1'), -1);
  assert.equal(find('ip', ['10.0.0.0/8'], '::ffff:10.2.3.4'), 0);
  assert.equal(find('ip', ['::ffff:10.0.0.0/104'], '10.2.3.4'), 0);
  assert.equal(find('ip', ['::/0'], '192.0.2.1'), 0);
  assert.equal(find('ip', ['::ffff:0:0/96'], '192.0.2.1'), 0);
  assert.equal(find('ip', ['2001:db8::/32'], '192.0.2.1'), -1);
  assert.equal(find('ip', ['0.0.0.0/0'], '8.8.8.8'), 0);
  assert.equal(find('ip', ['10.0.0.0/255.0.0.0'], '10.9.9.9'), 0);
  assert.equal(find('ip', ['2001:db8::/32', '2001:db8:1::/48'], '2001:db8:1::7'), 1);
  assert.equal(find('ip', ['2001:db8::/32'], '2001:db9::1'), -1);
  assert.equal(find('ip', ['::1'], '::1'), 0);
  assert.equal(find('ip', ['fe80::/10'], 'febf:1:2:3:4:5:6:7'), 0);
  assert.equal(find('ip', ['fe80::/10'], 'fec0::1'), -1);
  assert.equal(find('ip', ['1:2:3:4:5:6:7:8'], '1:2:3:4:5:6:7:8'), 0);
  assert.equal(find('ip', ['1:2::7:8'], '1:2:0:0:0:0:7:8'), 0);
  assert.equal(find('ip', ['10.0.0.0/8'], 'not-an-ip'), -1);
  for (const bad of ['1.2.3.999', '1.2.3', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'fe80::1%eth0', '::1/129', '10.0.0.0/33', '10.0.0.0/255.0.255.0', '']) {
    assert.equal(typeof parseIpPattern(bad), 'string', bad);
  }
});
