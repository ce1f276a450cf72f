/**
 * Log injection through a real tslb: request data reaches the access log encoded as
 * HAProxy encodes it (`#` and two hex digits for control bytes, bytes >= 0x7f, `"`
 * and `#`), so a client cannot close a quoted field, start a new line or send
 * terminal controls (C1 `CSI`, 0x9B) to whoever reads the log; JSON lines stay valid
 * JSON and give the value back.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { exchange, RecordingBackend } from './helpers/rawhttp';
import { freePort, startTslb, tempDir, type TslbProcess } from './helpers/tslb';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

let lb: TslbProcess;
let logFile: string;
const ports: Record<string, number> = {};

before(async () => {
  const backend = await new RecordingBackend().start();
  cleanups.push(() => backend.close());
  for (const n of ['web', 'custom', 'json']) ports[n] = await freePort();
  logFile = path.join(tempDir('tslb-escape-'), 'access.log');
  lb = await startTslb(`
global:
  workers: 1
  access_log: ${logFile}
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${ports.web}"], default_backend: app, log: { format: httplog } }
  - { name: custom, mode: http, binds: ["127.0.0.1:${ports.custom}"], default_backend: app, log: { format: 'custom %{+Q}r %{+Q}[hdr(x-note)] %HU' } }
  - { name: jsonfe, mode: http, binds: ["127.0.0.1:${ports.json}"], default_backend: app, log: { format: json } }
backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${backend.port} }]
`);
  cleanups.push(() => lb.stop());
});

/** The log file's lines as bytes (latin1), so a raw byte shows as itself. */
function lines(): string[] {
  return existsSync(logFile) ? readFileSync(logFile, 'latin1').split('\n').filter(Boolean) : [];
}

async function waitForLine(pred: (l: string) => boolean, timeoutMs = 5000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = lines().find(pred);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no matching log line; file has:\n${lines().join('\n')}\nprocess output:\n${lb.logs()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A target with a quote, a hash and a backslash (visible ASCII: the parser accepts them),
// and a header value with TAB, a quote and the C1 byte 0x9B (header bytes may be >= 0x80).
const TARGET = '/inj"ect#ed{x}\\p';
const NOTE = 'a\tb"c\x9bd';

async function send(port: number, tag: string): Promise<void> {
  const req = Buffer.from(`GET ${TARGET}?${tag} HTTP/1.1\r\nhost: t\r\nx-note: ${NOTE}\r\n\r\n`, 'latin1');
  const r = await exchange(port, req, { until: (res) => res.length === 1, timeoutMs: 5000 });
  assert.equal(r.responses[0]?.status, 200);
}

/** Every byte of a text log line is printable ASCII. */
function assertPrintable(line: string): void {
  assert.ok(/^[\x20-\x7e]*$/.test(line), `raw control or non-ASCII bytes in: ${JSON.stringify(line)}`);
}

test('httplog: a quote in the URI is written #22, the quoted request field stays one field', async () => {
  await send(ports.web, 'web');
  const line = await waitForLine((l) => l.includes('?web'));
  assertPrintable(line);
  assert.ok(line.endsWith(' "GET /inj#22ect#23ed{x}\\p?web HTTP/1.1"'), line);
  assert.equal(line.split('"').length, 3, `exactly one quoted field: ${line}`);
});

test('custom log-format: a header fetch with TAB, quote and 0x9B is written #09, #22, #9B', async () => {
  await send(ports.custom, 'custom');
  const line = await waitForLine((l) => l.startsWith('custom ') && l.includes('?custom'));
  assertPrintable(line);
  assert.equal(line, 'custom "GET /inj#22ect#23ed{x}\\p?custom HTTP/1.1" "a#09b#22c#9Bd" /inj#22ect#23ed{x}\\p?custom');
});

test('JSON: the line parses and gives the URI back as received', async () => {
  await send(ports.json, 'json');
  const line = await waitForLine((l) => l.includes('"frontend_name":"jsonfe"') && l.includes('json'));
  const obj = JSON.parse(Buffer.from(line, 'latin1').toString('utf8'));
  assert.equal(obj.http_uri, `${TARGET}?json`);
  assert.equal(obj.request_line, `GET ${TARGET}?json HTTP/1.1`);
});
