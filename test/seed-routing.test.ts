/**
 * The seed's Multi-Service example (config/seed/03-multi-service.yaml) through a real
 * tslb, its addresses moved to loopback: routing_rules pick by Host and path, and a
 * Host no rule matches goes to the first backend of the list, never to a 503.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { freePort, startTslb } from './helpers/tslb';
import { startHttpBackend, type HttpBackend } from './helpers/backends';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface SeedBackend {
  name: string;
  server_name: string;
  server_host_ip: string;
  server_port: number;
}

test('seed Multi-Service: an unmatched Host goes to the first backend of the list', async () => {
  const seed = parse(readFileSync(path.join(__dirname, '../../config/seed/03-multi-service.yaml'), 'utf8')) as {
    proxy: { https_in_binds: { ip: string; port: number }[]; backends: SeedBackend[] };
  };
  const servers = new Map<string, HttpBackend>();
  for (const b of seed.proxy.backends) {
    const server = await startHttpBackend(b.name);
    cleanups.push(() => server.close());
    servers.set(b.server_name, server);
    b.server_host_ip = '127.0.0.1';
    b.server_port = server.port;
  }
  const port = await freePort();
  seed.proxy.https_in_binds = [{ ip: '127.0.0.1', port }];
  const lb = await startTslb(stringify({ global: { workers: 1 }, ...seed }));
  cleanups.push(() => lb.stop());
  const served = async (host: string, p = '/') => {
    const res = await request(`http://127.0.0.1:${port}${p}`, { headers: { host } });
    await res.body.text();
    return `${res.statusCode} ${res.headers['x-served-by']}`;
  };
  assert.equal(await served('www.company.com'), '200 web_backend');
  assert.equal(await served('API.company.com'), '200 api_backend');
  assert.equal(await served('unknown.example'), '200 api_backend', 'no rule matches: the first backend');
  assert.equal(await served('unknown.example', '/api/v1'), '200 api_backend');
});
