/**
 * H2Connection's defences against HTTP/2 attacks seen in the wild, each driven by raw
 * frames written by the test (test/helpers/h2raw.ts) against the test server on real
 * sockets, while a well-behaved client on another connection keeps being served:
 * rapid reset (CVE-2023-44487), CONTINUATION flood (CVE-2024-27316), HPACK bomb, SETTINGS
 * and PING floods from a peer that does not read, zero-window stalls, too many concurrent
 * streams, empty-frame floods; plus the connection errors of RFC 9113 for broken framing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { startH2Server, type H2TestServer } from './helpers/h2server';
import { h2Bystander } from './helpers/h2client';
import { RawH2Client } from './helpers/h2raw';
import { H2Connection, type H2Handler } from '../src/http2/connection';
import {
  E_CANCEL, E_ENHANCE_YOUR_CALM, E_FLOW_CONTROL_ERROR, E_PROTOCOL_ERROR, E_REFUSED_STREAM, F_END_HEADERS,
  F_END_STREAM, FrameReader, FrameWriter, PREFACE, S_INITIAL_WINDOW_SIZE, T_CONTINUATION, T_GOAWAY, T_HEADERS,
  T_PUSH_PROMISE, type FrameListener,
} from '../src/http2/frames';

const servers: H2TestServer[] = [];
const clients: { close(): void }[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
});

async function server(opts: Parameters<typeof startH2Server>[0] = {}): Promise<H2TestServer> {
  const s = await startH2Server(opts);
  servers.push(s);
  return s;
}

async function raw(s: H2TestServer, settings: number[] = []): Promise<RawH2Client> {
  const c = await RawH2Client.connect(s.port, settings);
  clients.push(c);
  return c;
}

/** A well-behaved client on its own connection: GET /hello in a loop until stopped; counts 200s. */
function bystander(s: H2TestServer): { stop(): Promise<number> } {
  return h2Bystander(s.port, '/hello');
}

test('rapid reset (CVE-2023-44487): a client opening and resetting streams in a loop is cut off with ENHANCE_YOUR_CALM', async () => {
  const s = await server();
  const other = bystander(s);
  const c = await raw(s);
  await c.rapidReset('/slow');
  const goaway = await c.waitGoaway();
  assert.equal(goaway.code, E_ENHANCE_YOUR_CALM);
  await c.closedPromise;
  // The limit is 100 glitches per 10 s: at most 101 requests reached the handler.
  const slowHeads = s.closed.filter((x) => x.path === '/slow').length;
  assert.ok(slowHeads >= 100 && slowHeads <= 101, `${slowHeads} reset streams handled`);
  const served = await other.stop();
  assert.ok(served > 0, 'the other client was served meanwhile');
});

test('CONTINUATION flood (CVE-2024-27316): the header block is capped in bytes and in frames before decoding', async () => {
  const s = await server();
  const other = bystander(s);
  // Bytes: HEADERS without END_HEADERS, then 16 KiB CONTINUATIONs that never end.
  const big = await raw(s);
  await big.continuationFlood();
  assert.deepEqual(await big.waitGoaway(), { lastStreamId: 0, code: E_ENHANCE_YOUR_CALM, debug: 'header block too large' });
  await big.closedPromise;
  // Frames: empty CONTINUATIONs cost no memory but are refused past 32.
  const empty = await raw(s);
  empty.out.frame(T_HEADERS, 0, 1, Buffer.alloc(0));
  for (let k = 0; k < 1000; k++) empty.out.frame(T_CONTINUATION, 0, 1, Buffer.alloc(0));
  empty.send();
  assert.deepEqual(await empty.waitGoaway(), { lastStreamId: 0, code: E_ENHANCE_YOUR_CALM, debug: 'too many CONTINUATION frames' });
  assert.equal(s.heads > 0, true); // only the bystander's
  assert.ok((await other.stop()) > 0);
});

test('HPACK bomb: a small block that decodes past SETTINGS_MAX_HEADER_LIST_SIZE gets 431, and the connection stays in sync', async () => {
  const s = await server();
  const c = await raw(s);
  // One 4,000-byte field inserted into the table, then one-byte references to it: 100 of them
  // decode to 400 KB (fewer fields than the 128 a head may have: the list size is what trips).
  const insert = Buffer.concat([Buffer.from([0x40, 6]), Buffer.from('x-bomb'), Buffer.from([0x7f, 0x80 | 33, 30]) /* 127 + 33 + 30 × 128 = 4,000 */, Buffer.alloc(4000, 0x61)]);
  assert.equal(insert.length, 2 + 6 + 3 + 4000);
  const refs = Buffer.alloc(100, 0x80 | 62);
  const pseudo = c.block([[':method', 'GET'], [':scheme', 'http'], [':path', '/hello'], [':authority', 'a']]);
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 1, Buffer.concat([pseudo, insert, refs]));
  for (let k = 0; k < 5; k++) c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 3 + 2 * k, Buffer.concat([pseudo, refs]));
  c.send();
  for (let k = 0; k < 6; k++) {
    const h = await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 1 + 2 * k);
    assert.deepEqual(h.fields, [[':status', '431']]);
  }
  // The entry is still index 62 on both sides: a request using it once is served.
  c.out.frame(T_HEADERS, F_END_HEADERS | F_END_STREAM, 13, Buffer.concat([pseudo, Buffer.from([0x80 | 62])]));
  c.send();
  const ok = await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 13);
  assert.equal(ok.fields![0][1], '200');
  assert.equal(s.heads, 1);
  assert.equal(c.closed, false);
});

/** An H2Connection whose transport never drains, fed raw frames: what it answers and how it ends. */
function backedUp(): { conn: H2Connection; feed(w: FrameWriter): void; goaway(): { code: number; debug: string } | null; ended: number[] } {
  const out: Buffer[] = [];
  const ended: number[] = [];
  const handler: H2Handler = {
    write: (buf, start, end) => {
      out.push(Buffer.from(buf.subarray(start, end)));
      return false;
    },
    onRequestHead: () => undefined,
    onRequestData: () => undefined,
    onTrailers: () => undefined,
    onStreamWritable: () => undefined,
    onStreamClose: () => undefined,
    onGoaway: () => undefined,
    onConnectionEnd: (code) => ended.push(code),
  };
  const conn = new H2Connection(handler);
  conn.start();
  return {
    conn,
    ended,
    feed(w: FrameWriter) {
      conn.onData(w.buf!, 0, w.len);
      w.release();
    },
    goaway() {
      let found: { code: number; debug: string } | null = null;
      const listener: FrameListener = {
        onFrame: (type, _f, _id, buf, s, e) => {
          if (type === T_GOAWAY) found = { code: buf.readUInt32BE(s + 4), debug: buf.toString('latin1', s + 8, e) };
          return true;
        },
        onDataFrame: () => true,
        onDataChunk: () => true,
        onReadError: () => undefined,
      };
      const all = Buffer.concat(out);
      new FrameReader(listener, 1 << 24, false).push(all, 0, all.length);
      return found;
    },
  };
}

for (const kind of ['SETTINGS', 'PING'] as const) {
  test(`${kind} flood from a peer that does not read: acknowledgements queued past 1,000 end the connection`, () => {
    const b = backedUp();
    const w = new FrameWriter();
    b.conn.onData(PREFACE, 0, PREFACE.length);
    w.settings([]);
    b.feed(w);
    // The first flush found the transport backed up; 999 more acknowledgements are tolerated.
    for (let k = 0; k < 999; k++) {
      if (kind === 'SETTINGS') w.settings([S_INITIAL_WINDOW_SIZE, 65535]);
      else w.ping(false, Buffer.alloc(8, k & 255), 0);
    }
    b.feed(w);
    assert.equal(b.conn.isEnded, false);
    for (let k = 0; k < 10; k++) {
      if (kind === 'SETTINGS') w.settings([]);
      else w.ping(false, Buffer.alloc(8), 0);
    }
    b.feed(w);
    assert.deepEqual(b.ended, [E_ENHANCE_YOUR_CALM]);
    assert.deepEqual(b.goaway(), { code: E_ENHANCE_YOUR_CALM, debug: 'control frames queued while the peer does not read' });
  });
}

test('zero-window stall: a stream whose window stays at 0 is reset after the stall timeout; a stalled connection window ends the connection', async () => {
  const s = await server();
  s.stallTimeoutMs = 200;
  // Stream window 0 from the start: the response body cannot move.
  const c = await raw(s, [S_INITIAL_WINDOW_SIZE, 0]);
  c.request(1, '/bytes?n=100000');
  c.send();
  const t0 = Date.now();
  assert.equal(await c.waitRst(1, 5000), E_CANCEL);
  const waited = Date.now() - t0;
  assert.ok(waited >= 150, `reset after ${waited} ms`);
  assert.deepEqual(s.closed.at(-1), { id: 1, path: '/bytes?n=100000', code: E_CANCEL, byPeer: false });
  assert.equal(c.closed, false);
  // Big stream window but the connection window is never replenished: 65,535 bytes, then the end.
  const d = await raw(s, [S_INITIAL_WINDOW_SIZE, 1 << 20]);
  d.request(1, '/bytes?n=200000');
  d.send();
  const goaway = await d.waitGoaway(5000);
  assert.deepEqual(goaway, { lastStreamId: 1, code: E_ENHANCE_YOUR_CALM, debug: 'flow-control window stalled' });
  assert.equal(d.dataBytes.get(1), 65535);
});

test('too many concurrent streams: the 101st is refused with REFUSED_STREAM, a freed slot is reused', async () => {
  const s = await server();
  const c = await raw(s);
  for (let id = 1; id <= 201; id += 2) c.request(id, '/slow');
  c.send();
  assert.equal(await c.waitRst(201), E_REFUSED_STREAM);
  assert.equal(s.heads, 100);
  c.out.rstStream(1, E_CANCEL);
  c.request(203, '/hello');
  c.send();
  const h = await c.waitFor((f) => f.type === T_HEADERS && f.streamId === 203);
  assert.equal(h.fields![0][1], '200');
  assert.equal(c.closed, false);
});

test('empty DATA frames that do not end the stream count as glitches', async () => {
  const s = await server();
  const c = await raw(s);
  c.request(1, '/sha', { method: 'POST', body: true });
  for (let k = 0; k < 200; k++) c.out.data(1, Buffer.alloc(0), 0, 0, false);
  c.send();
  assert.equal((await c.waitGoaway()).code, E_ENHANCE_YOUR_CALM);
});

test('connection errors: DATA on an idle stream, PUSH_PROMISE, window overflow, even stream id, first frame not SETTINGS; stream error: flow-control violation', async () => {
  const s = await server();
  const cases: [string, (c: RawH2Client) => void, number][] = [
    ['DATA on an idle stream', (c) => c.out.data(5, Buffer.from('x'), 0, 1, true), E_PROTOCOL_ERROR],
    ['PUSH_PROMISE from a client', (c) => c.out.frame(T_PUSH_PROMISE, F_END_HEADERS, 1, Buffer.from('00000002', 'hex')), E_PROTOCOL_ERROR],
    ['connection window past 2^31-1', (c) => c.out.windowUpdate(0, 0x7fffffff), E_FLOW_CONTROL_ERROR],
    ['even stream id', (c) => c.request(2, '/hello'), E_PROTOCOL_ERROR],
  ];
  for (const [what, frames, code] of cases) {
    const c = await raw(s);
    frames(c);
    c.send();
    assert.equal((await c.waitGoaway()).code, code, what);
    await c.closedPromise;
  }
  // No SETTINGS first: the preface is followed by a PING.
  const ping = new FrameWriter();
  ping.ping(false, Buffer.alloc(8), 0);
  const sock = net.connect({ port: s.port, host: '127.0.0.1' });
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  sock.on('error', () => undefined);
  sock.write(Buffer.concat([PREFACE, Buffer.from(ping.buf!.subarray(0, ping.len))]));
  await new Promise((r) => sock.on('close', r));
  assert.ok(Buffer.concat(got).includes(Buffer.from('first frame is not SETTINGS')));
  // Flow control: the handler holds the request body (its echo cannot be sent: the client's
  // window is 0), so no WINDOW_UPDATE comes, and a fourth 16 KiB frame passes the 65,535-byte window.
  const f = await raw(s, [S_INITIAL_WINDOW_SIZE, 0]);
  f.request(1, '/echo', { method: 'POST', body: true });
  for (let k = 0; k < 5; k++) f.out.data(1, Buffer.alloc(16384), 0, 16384, false);
  f.send();
  assert.equal(await f.waitRst(1), E_FLOW_CONTROL_ERROR);
  assert.equal(f.closed, false);
});
