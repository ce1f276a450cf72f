/**
 * The HTTP/2 frame reader and writer (src/http2/frames.ts): every frame type written by
 * FrameWriter reads back the same whether the bytes arrive in one chunk, one byte at a
 * time or split at random; DATA payloads come out in pieces without being gathered;
 * padding is stripped; framing errors are reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  E_FRAME_SIZE_ERROR, E_PROTOCOL_ERROR, F_END_STREAM, F_PADDED, FrameReader, FrameWriter, PREFACE, S_INITIAL_WINDOW_SIZE,
  S_MAX_CONCURRENT_STREAMS, T_CONTINUATION, T_DATA, T_GOAWAY, T_HEADERS, T_PING, T_PRIORITY, T_PUSH_PROMISE, T_RST_STREAM,
  T_SETTINGS, T_WINDOW_UPDATE, type FrameListener,
} from '../src/http2/frames';

/** Records frames as comparable strings; DATA pieces are joined per frame. */
class Recorder implements FrameListener {
  events: string[] = [];
  data = new Map<number, Buffer[]>();
  pieces = 0;
  errors: string[] = [];
  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): boolean {
    this.events.push(`${type}/${flags}/${streamId}/${buf.toString('hex', start, end)}`);
    return true;
  }
  onDataFrame(streamId: number, flags: number, length: number): boolean {
    this.events.push(`DATA/${flags}/${streamId}/len=${length}`);
    this.data.set(streamId, []);
    return true;
  }
  onDataChunk(streamId: number, buf: Buffer, start: number, end: number, last: boolean): boolean {
    this.pieces++;
    this.data.get(streamId)!.push(Buffer.from(buf.subarray(start, end)));
    if (last) this.events.push(`DATA-END/${streamId}/${Buffer.concat(this.data.get(streamId)!).toString('hex')}`);
    return true;
  }
  onReadError(code: number, reason: string): void {
    this.errors.push(`${code}:${reason}`);
  }
}

function sample(): Buffer {
  const w = new FrameWriter();
  w.settings([S_MAX_CONCURRENT_STREAMS, 100, S_INITIAL_WINDOW_SIZE, 1 << 20]);
  w.settingsAck();
  w.ping(false, Buffer.from('01234567'), 0);
  w.windowUpdate(0, 1 << 24);
  w.priority(3, 1, true, 256);
  const block = w.beginHeaders();
  w.buf!.write('headerblock', w.len);
  w.len += 11;
  w.endHeaders(block, 1, false, 16384);
  w.data(1, Buffer.alloc(20000, 7), 0, 20000, false);
  w.data(1, Buffer.from('padded'), 0, 6, true, 10);
  w.data(3, Buffer.alloc(0), 0, 0, true);
  w.data(5, Buffer.alloc(0), 0, 0, false, 4);
  w.rstStream(3, 8);
  w.frame(T_PUSH_PROMISE, 4, 1, Buffer.from('00000002', 'hex'));
  w.goaway(5, 0, 'bye');
  return Buffer.concat([PREFACE, Buffer.from(w.buf!.subarray(0, w.len))]);
}

function read(chunks: Buffer[], maxFrameSize = 32768): Recorder {
  const r = new Recorder();
  const reader = new FrameReader(r, maxFrameSize);
  for (const c of chunks) reader.push(c, 0, c.length);
  return r;
}

function splitAt(buf: Buffer, sizes: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = Math.max(1, sizes());
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

test('frames read back the same in one chunk, byte by byte, and split at random', () => {
  const bytes = sample();
  const whole = read([bytes]);
  assert.deepEqual(whole.errors, []);
  assert.deepEqual(whole.events, [
    `${T_SETTINGS}/0/0/000300000064000400100000`,
    `${T_SETTINGS}/1/0/`,
    `${T_PING}/0/0/${Buffer.from('01234567').toString('hex')}`,
    `${T_WINDOW_UPDATE}/0/0/01000000`,
    `${T_PRIORITY}/0/3/80000001ff`,
    `${T_HEADERS}/4/1/${Buffer.from('headerblock').toString('hex')}`,
    `DATA/0/1/len=20000`,
    `DATA-END/1/${Buffer.alloc(20000, 7).toString('hex')}`,
    `DATA/${F_END_STREAM | F_PADDED}/1/len=17`,
    `DATA-END/1/${Buffer.from('padded').toString('hex')}`,
    `DATA/${F_END_STREAM}/3/len=0`,
    `DATA-END/3/`,
    `DATA/${F_PADDED}/5/len=5`,
    `DATA-END/5/`,
    `${T_RST_STREAM}/0/3/00000008`,
    `${T_PUSH_PROMISE}/4/1/00000002`,
    `${T_GOAWAY}/0/0/0000000500000000${Buffer.from('bye').toString('hex')}`,
  ]);
  assert.deepEqual(read(splitAt(bytes, () => 1)).events, whole.events);
  for (let round = 0; round < 20; round++) {
    assert.deepEqual(read(splitAt(bytes, () => Math.floor(Math.random() * 3000))).events, whole.events);
  }
});

test('DATA arriving in pieces is handed over in pieces, without waiting for the whole frame', () => {
  const w = new FrameWriter();
  const payload = randomBytes(16384);
  w.data(1, payload, 0, payload.length, true);
  const bytes = Buffer.from(w.buf!.subarray(0, w.len));
  const r = new Recorder();
  const reader = new FrameReader(r, 16384, false);
  reader.push(bytes, 0, 9 + 1000);
  assert.equal(r.pieces, 1);
  assert.equal(r.data.get(1)![0].length, 1000);
  reader.push(bytes, 9 + 1000, bytes.length);
  assert.equal(r.pieces, 2);
  assert.equal(Buffer.concat(r.data.get(1)!).toString('hex'), payload.toString('hex'));
});

test('a header block longer than the peer frame size is split into CONTINUATION frames', () => {
  const w = new FrameWriter();
  const block = w.beginHeaders();
  const content = randomBytes(40000);
  w.reserve(content.length);
  content.copy(w.buf!, w.len);
  w.len += content.length;
  w.endHeaders(block, 7, true, 16384);
  const r = read([PREFACE, Buffer.from(w.buf!.subarray(0, w.len))]);
  assert.equal(r.events.length, 3);
  const parts = r.events.map((e) => e.split('/'));
  assert.deepEqual(parts.map((p) => [Number(p[0]), Number(p[1]), Number(p[2])]), [[T_HEADERS, F_END_STREAM, 7], [T_CONTINUATION, 0, 7], [T_CONTINUATION, 4, 7]]);
  assert.equal(parts.map((p) => p[3]).join(''), content.toString('hex'));
});

test('framing errors: a bad preface, a frame above SETTINGS_MAX_FRAME_SIZE, padding longer than the DATA frame', () => {
  assert.deepEqual(read([Buffer.from('GET / HTTP/1.1\r\n\r\n')]).errors, [`${E_PROTOCOL_ERROR}:invalid connection preface`]);
  const big = new FrameWriter();
  big.frame(T_HEADERS, 4, 1, Buffer.alloc(16385));
  assert.deepEqual(read([PREFACE, Buffer.from(big.buf!.subarray(0, big.len))], 16384).errors, [`${E_FRAME_SIZE_ERROR}:frame larger than SETTINGS_MAX_FRAME_SIZE`]);
  const pad = new FrameWriter();
  pad.frame(T_DATA, F_PADDED, 1, Buffer.from([5, 1, 2]));
  assert.deepEqual(read([PREFACE, Buffer.from(pad.buf!.subarray(0, pad.len))]).errors, [`${E_PROTOCOL_ERROR}:DATA padding longer than the frame`]);
});
