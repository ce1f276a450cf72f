// The stats page through a real tslb process: HTTP exports and admin actions with
// curl-like requests, then headless Chromium (Debian's `chromium`, driven by
// playwright-core) logging in with basic auth and watching a server go DOWN live
// over the WebSocket. The screenshot lands in test-artifacts/stats-page.png.
// Browser-side code is passed as strings: the test build has no DOM typings.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import WebSocket from 'ws';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
const AUTH = 'Basic ' + Buffer.from('admin:s3cret').toString('base64');

async function get(port: number, url: string, auth = AUTH): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { headers: auth ? { authorization: auth } : {}, redirect: 'manual' });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function post(port: number, body: string, headers: Record<string, string> = {}): Promise<{ status: number; location: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`, {
    method: 'POST',
    body,
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get('location') };
}

/** `backend,server` line of the CSV export. */
function csvLine(csv: string, px: string, sv: string): string[] {
  const line = csv.split('\n').find((l) => l.startsWith(`${px},${sv},`));
  assert.ok(line, `no ${px},${sv} line in:\n${csv}`);
  return line.split(',');
}

describe('stats page', () => {
  let backend: http.Server;
  let backendPort: number;
  let lb: TslbProcess;
  let statsPort: number;
  let frontendPort: number;
  let appIid: string;

  before(async () => {
    backend = http.createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendPort = (backend.address() as AddressInfo).port;
    statsPort = await freePort();
    frontendPort = await freePort();
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: web
    mode: http
    binds: ["127.0.0.1:${frontendPort}"]
    default_backend: app
backends:
  - name: app
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${backendPort}, check: true, inter: 200ms, fall: 1, rise: 1 }
      - { name: s2, address: 127.0.0.1, port: ${backendPort} }
  - name: other
    mode: http
    servers:
      - { name: o1, address: 127.0.0.1, port: ${backendPort} }
stats:
  bind: "127.0.0.1:${statsPort}"
  uri: /stats
  username: admin
  password: s3cret
  refresh: 30s
  admin: true
`);
    // The first check runs within one inter (200 ms): wait until s1 reports L4OK.
    for (let i = 0; i < 50; i++) {
      if (csvLine((await get(statsPort, '/stats;csv')).body, 'app', 's1').includes('L4OK')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    appIid = csvLine((await get(statsPort, '/stats;csv')).body, 'app', 'BACKEND')[27];
  });

  after(async () => {
    await lb?.stop();
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
  });

  it('asks for credentials and refuses wrong ones (401, realm)', async () => {
    const none = await get(statsPort, '/stats', '');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="tslb statistics"');
    const wrong = await get(statsPort, '/stats;csv', 'Basic ' + Buffer.from('admin:s3cres').toString('base64'));
    assert.equal(wrong.status, 401);
    assert.equal((await get(statsPort, '/elsewhere')).status, 404);
  });

  it('exports CSV (HAProxy header, ;norefresh, scope) and JSON', async () => {
    const csv = await get(statsPort, '/stats;csv');
    assert.equal(csv.status, 200);
    assert.match(csv.body, /^# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,/);
    assert.equal(csvLine(csv.body, 'app', 's1')[17], 'UP');
    assert.equal(csvLine(csv.body, 'app', 's2')[17], 'no check');
    assert.equal((await get(statsPort, '/stats;csv;norefresh')).status, 200);
    const scoped = await get(statsPort, '/stats?;csv;scope=oth');
    const proxies = new Set(scoped.body.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[0]));
    assert.deepEqual([...proxies], ['other']);
    const json = await get(statsPort, '/stats;json');
    assert.equal(json.headers.get('content-type'), 'application/json');
    const parsed = JSON.parse(json.body) as { field: { name: string }; value: { value: unknown } }[][];
    assert.ok(parsed.some((r) => r.some((f) => f.field.name === 'svname' && f.value.value === 's2')));
  });

  it('admin POST sets a server state and answers 303 like HAProxy', async () => {
    const r = await post(statsPort, `s=s2&action=maint&b=%23${appIid}`);
    assert.equal(r.status, 303);
    assert.equal(r.location, '/stats;st=DONE');
    assert.equal(csvLine((await get(statsPort, '/stats;csv')).body, 'app', 's2')[17], 'MAINT');
    for (const view of [';csv;no-maint', ';csv;up']) {
      const servers = (await get(statsPort, `/stats${view}`)).body.split('\n').filter((l) => l.startsWith('app,s'));
      assert.deepEqual(servers.map((l) => l.split(',')[1]), ['s1'], view);
    }
    assert.equal((await post(statsPort, 's=s2&action=drain&b=app')).location, '/stats;st=DONE');
    assert.equal(csvLine((await get(statsPort, '/stats;csv')).body, 'app', 's2')[17], 'DRAIN');
    assert.equal((await post(statsPort, 's=s2&action=explode&b=app')).location, '/stats;st=ERRP');
    assert.equal((await post(statsPort, 's=s2&s=nope&action=ready&b=app')).location, '/stats;st=PART');
    assert.equal((await post(statsPort, 's=s2&action=maint&b=app', { origin: 'http://elsewhere.example' })).location, '/stats;st=DENY');
    assert.equal(csvLine((await get(statsPort, '/stats;csv')).body, 'app', 's2')[17], 'no check');
    const page = await get(statsPort, '/stats;st=DONE');
    assert.match(page.body, /Action processed successfully\./);
    const scoped = await get(statsPort, '/stats;scope=OTH');
    assert.match(scoped.body, /<table class="tbl" data-proxy="other">/);
    assert.doesNotMatch(scoped.body, /data-proxy="app"/);
  });

  it('the WebSocket needs the page token and pushes rows once a second', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${statsPort}/stats/ws?token=1.abc`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    assert.equal(refused, 401);
    const page = await get(statsPort, '/stats');
    const cfg = JSON.parse(/<script type="application\/json" id="tslb-cfg">(.*?)<\/script>/.exec(page.body)![1]) as { ws: string };
    const ws = new WebSocket(`ws://127.0.0.1:${statsPort}${cfg.ws}`);
    const messages: { rows: [string, string, string[]][]; history?: Record<string, number[]> }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fewer than 2 pushes in 4 s')), 4000);
      ws.on('message', (d) => {
        messages.push(JSON.parse(String(d)));
        if (messages.length === 2) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.on('error', reject);
    });
    ws.close();
    assert.ok(messages[0].history, 'the first push carries the rate history');
    const s1 = messages[1].rows.find((r) => r[0] === 'app/s1')!;
    assert.equal(s1[1], 'active_up');
  });

  it('Chromium: log in, see s1 UP, watch it go DOWN live, screenshot', { skip: !hasChromium && `${CHROMIUM} missing (Debian package chromium)` }, async () => {
    // playwright-core is a dev dependency loaded only when the browser exists.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const context = await chromium.launchPersistentContext(tempDir('tslb-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      httpCredentials: { username: 'admin', password: 's3cret' },
      viewport: { width: 1400, height: 700 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const res = await page.goto(`http://127.0.0.1:${statsPort}/stats`);
      assert.equal(res?.status(), 200);
      const s1 = page.locator('tr[data-key="app/s1"]');
      assert.equal(await s1.getAttribute('class'), 'active_up');
      assert.match((await s1.locator('td.status').textContent()) ?? '', /UP$/);
      await page.waitForSelector('#live.on', { timeout: 5000 });
      // A marker a reload would wipe: the DOWN state must arrive over the socket.
      await page.evaluate('window.marker = 42');
      // Some traffic through the frontend so the backend's rate chart has a shape.
      for (let i = 0; i < 30; i++) {
        assert.equal((await fetch(`http://127.0.0.1:${frontendPort}/`)).status, 200);
        await new Promise((r) => setTimeout(r, 100 + (i % 10) * 10));
      }
      await page.waitForFunction(`document.querySelector('span.ratev[data-backend="app"]').textContent.indexOf('(max 1)') < 0`, undefined, { timeout: 5000 });

      backend.closeAllConnections();
      await new Promise<void>((r) => backend.close(() => r()));
      await page.waitForFunction(`document.querySelector('tr[data-key="app/s1"]').className === 'active_down'`, undefined, { timeout: 10_000 });
      assert.match((await s1.locator('td.status').textContent()) ?? '', /DOWN$/);
      assert.match((await s1.locator('td.al').nth(1).textContent()) ?? '', /^L4CON/);
      assert.equal(await page.evaluate('window.marker'), 42);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'stats-page.png'), fullPage: true });

      // Admin form: check s2, choose MAINT, apply; the 303 lands on the result.
      await page.check('tr[data-key="app/s2"] input[name="s"]');
      await page.locator('form.admin:has(table[data-proxy="app"]) select[name="action"]').selectOption('maint');
      await Promise.all([page.waitForURL(/;st=DONE$/), page.locator('form.admin:has(table[data-proxy="app"]) input[type="submit"]').click()]);
      assert.match((await page.locator('div.result').textContent()) ?? '', /Action processed successfully/);
      assert.equal(await page.locator('tr[data-key="app/s2"]').getAttribute('class'), 'maintain');
    } finally {
      await context.close();
    }
  });
});
