/**
 * use_backend lists: runs of literal host rules are looked up in one table
 * (src/rules/compile.ts compileFirstMatch) and must pick exactly the backend the
 * rule-by-rule order picks — first match wins, -i or not, runs broken by other rules.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { Condition } from '../src/config/model';
import { parseCondition } from '../src/rules/acl-parser';
import { compileCondition, compileFirstMatch } from '../src/rules/compile';
import type { SampleContext } from '../src/rules/context';
import { freePort, startTslb } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const RULES = [
  'hdr(host) -i a.example',
  'hdr(host) -i B.example',
  'hdr(host) -i a.example', // a duplicate: the first one wins
  'hdr(host) c.example', // case-sensitive: a run of its own
  'hdr(host) C.example',
  'path_beg /api', // breaks the run
  'hdr(host) -i d.example e.example',
  'hdr(host) -i api.example',
];

function condition(text: string): Condition {
  const r = parseCondition(text, 'request');
  assert.equal(r.error, undefined, text);
  return r.condition!;
}

/** Just what the fetches above read: Host values and the path. */
function sample(hosts: string[], path: string): SampleContext {
  return { stage: 'request', headerValues: () => hosts, path: () => path } as unknown as SampleContext;
}

test('the table lookup picks the same rule as testing the rules in order', () => {
  const conds = RULES.map(condition);
  const first = compileFirstMatch(conds, 'request');
  const tests = conds.map((c) => compileCondition(c, 'request'));
  const hosts = ['a.example', 'A.EXAMPLE', 'b.example', 'c.example', 'C.example', 'c.EXAMPLE', 'd.example', 'E.example', 'api.example', 'zzz', ''];
  let cases = 0;
  for (const path of ['/', '/api/x']) {
    for (const h of hosts) {
      for (const values of [[h], [h, 'api.example'], ['zzz', h], []]) {
        const ctx = sample(values, path);
        assert.equal(first(ctx), tests.findIndex((t) => t(ctx)), `${values.join(',')} ${path}`);
        cases++;
      }
    }
  }
  assert.equal(cases, 88);
});

test('through tslb: 1,000 host rules route each host to its backend, the first duplicate wins', async () => {
  const servers: HttpBackend[] = [];
  for (const name of ['b0', 'b1', 'b2', 'def']) {
    const b = await startHttpBackend(name);
    servers.push(b);
    cleanups.push(() => b.close());
  }
  const port = await freePort();
  const rules = [];
  for (let i = 0; i < 1000; i++) rules.push(`      - { backend: b${i % 3}, if: "hdr(host) -i host-${i}.test" }`);
  rules.splice(500, 0, `      - { backend: b2, if: "hdr(host) -i host-7.test" }`, `      - { backend: def, if: "path_beg /special" }`);
  const lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: def
    use_backend:
${rules.join('\n')}
backends:
${servers.map((s) => `  - { name: ${s.name}, mode: http, servers: [{ name: ${s.name}, address: 127.0.0.1, port: ${s.port} }] }`).join('\n')}
`);
  cleanups.push(() => lb.stop());
  const served = async (host: string, path = '/'): Promise<string> => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
    await res.body.text();
    return String(res.headers['x-served-by']);
  };
  assert.equal(await served('host-0.test'), 'b0');
  assert.equal(await served('HOST-998.test'), 'b2');
  assert.equal(await served('host-999.test'), 'b0');
  assert.equal(await served('host-7.test'), 'b1', 'rule 7 comes before its duplicate');
  assert.equal(await served('host-700.test', '/special'), 'def', 'the path rule sits before host-700 in the list');
  assert.equal(await served('host-400.test', '/special'), 'b1', 'host-400 comes before the path rule');
  assert.equal(await served('other.test'), 'def');
});
