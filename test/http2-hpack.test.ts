/**
 * HPACK (src/http2/hpack.ts, huffman.ts) against RFC 7541 Appendix C: every example block
 * decodes to its header list and leaves the dynamic table the RFC shows, and the encoder
 * produces the RFC's bytes (C.3–C.6). Plus Huffman round trips over every byte, the
 * decoder's refusals, and the list-size cap that defeats HPACK bombs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  DECODED, DECODED_TOO_LARGE, DECODE_ERROR, HpackDecoder, HpackEncoder, M_AUTO, M_INDEX, M_NEVER_INDEX, M_NO_INDEX,
} from '../src/http2/hpack';
import { FieldList } from './helpers/h2raw';
import { CODES, CODE_LENGTHS, huffmanDecode, huffmanDecodedMax, huffmanEncode, huffmanEncodedLength } from '../src/http2/huffman';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}


function decode(d: HpackDecoder, block: Buffer, max = 1 << 20): { status: number; fields: [string, string][] } {
  const sink = new FieldList();
  const status = d.decode(block, 0, block.length, sink, max);
  return { status, fields: sink.fields };
}

function tableOf(t: { count: number; entry(i: number): [string, string] }): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 1; i <= t.count; i++) out.push(t.entry(i));
  return out;
}

/** A growable output the encoder writes into. */
class Out {
  buf: Buffer | null = Buffer.alloc(16);
  len = 0;
  reserve(n: number): Buffer {
    if (this.len + n > this.buf!.length) {
      const b = Buffer.alloc((this.len + n) * 2);
      this.buf!.copy(b, 0, 0, this.len);
      this.buf = b;
    }
    return this.buf!;
  }
  take(): Buffer {
    const b = Buffer.from(this.buf!.subarray(0, this.len));
    this.len = 0;
    return b;
  }
}

function encode(e: HpackEncoder, fields: [string, string][], mode = M_INDEX): Buffer {
  const out = new Out();
  e.begin(out);
  for (const [n, v] of fields) {
    const nb = Buffer.from(n, 'latin1');
    const vb = Buffer.from(v, 'latin1');
    e.field(out, nb, 0, nb.length, vb, 0, vb.length, mode);
  }
  return out.take();
}

const REQ1: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const REQ2: [string, string][] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: [string, string][] = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
const RES1: [string, string][] = [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']];
const RES2: [string, string][] = [[':status', '307'], ...RES1.slice(1)];
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RES3: [string, string][] = [[':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]];

interface Step {
  id: string;
  block: string;
  fields: [string, string][];
  table: [string, string][];
  size: number;
}

const C3_C4_TABLES: [string, string][][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const C5_C6_TABLES: [string, string][][] = [
  [['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private']],
  [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT']],
];

const SERIES: { name: string; tableSize: number; huffman: boolean; steps: Step[] }[] = [
  {
    name: 'C.3 requests without Huffman',
    tableSize: 4096,
    huffman: false,
    steps: [
      { id: 'C.3.1', block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: REQ1, table: C3_C4_TABLES[0], size: 57 },
      { id: 'C.3.2', block: '8286 84be 5808 6e6f 2d63 6163 6865', fields: REQ2, table: C3_C4_TABLES[1], size: 110 },
      { id: 'C.3.3', block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', fields: REQ3, table: C3_C4_TABLES[2], size: 164 },
    ],
  },
  {
    name: 'C.4 requests with Huffman',
    tableSize: 4096,
    huffman: true,
    steps: [
      { id: 'C.4.1', block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: REQ1, table: C3_C4_TABLES[0], size: 57 },
      { id: 'C.4.2', block: '8286 84be 5886 a8eb 1064 9cbf', fields: REQ2, table: C3_C4_TABLES[1], size: 110 },
      { id: 'C.4.3', block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', fields: REQ3, table: C3_C4_TABLES[2], size: 164 },
    ],
  },
  {
    name: 'C.5 responses without Huffman, 256-byte table',
    tableSize: 256,
    huffman: false,
    steps: [
      {
        id: 'C.5.1',
        block: '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        fields: RES1, table: C5_C6_TABLES[0], size: 222,
      },
      { id: 'C.5.2', block: '4803 3330 37c1 c0bf', fields: RES2, table: C5_C6_TABLES[1], size: 222 },
      {
        id: 'C.5.3',
        block: '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
        fields: RES3, table: C5_C6_TABLES[2], size: 215,
      },
    ],
  },
  {
    name: 'C.6 responses with Huffman, 256-byte table',
    tableSize: 256,
    huffman: true,
    steps: [
      {
        id: 'C.6.1',
        block: '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        fields: RES1, table: C5_C6_TABLES[0], size: 222,
      },
      { id: 'C.6.2', block: '4883 640e ffc1 c0bf', fields: RES2, table: C5_C6_TABLES[1], size: 222 },
      {
        id: 'C.6.3',
        block: '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
        fields: RES3, table: C5_C6_TABLES[2], size: 215,
      },
    ],
  },
];

for (const series of SERIES) {
  test(`RFC 7541 ${series.name}: decoded fields and dynamic table`, () => {
    const d = new HpackDecoder();
    d.table.setMaxSize(series.tableSize);
    for (const step of series.steps) {
      const r = decode(d, hex(step.block));
      assert.equal(r.status, DECODED, step.id);
      assert.deepEqual(r.fields, step.fields, step.id);
      assert.deepEqual(tableOf(d.table), step.table, step.id);
      assert.equal(d.table.size, step.size, step.id);
    }
  });

  test(`RFC 7541 ${series.name}: the encoder writes the RFC's bytes`, () => {
    const e = new HpackEncoder(series.huffman);
    e.table.setMaxSize(series.tableSize);
    for (const step of series.steps) {
      assert.equal(encode(e, step.fields).toString('hex'), hex(step.block).toString('hex'), step.id);
      assert.deepEqual(tableOf(e.table), step.table, step.id);
    }
  });
}

test('RFC 7541 C.2: literal without indexing, never indexed, indexed', () => {
  const d = new HpackDecoder();
  assert.deepEqual(decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).fields, [['custom-key', 'custom-header']]);
  assert.equal(d.table.count, 1);
  assert.deepEqual(decode(d, hex('040c 2f73 616d 706c 652f 7061 7468')).fields, [[':path', '/sample/path']]);
  assert.deepEqual(decode(d, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).fields, [['password', 'secret']]);
  assert.deepEqual(decode(d, hex('82')).fields, [[':method', 'GET']]);
  assert.equal(d.table.count, 1);
  const e = new HpackEncoder();
  assert.equal(encode(e, [[':path', '/sample/path']], M_NO_INDEX).toString('hex'), '040c2f73616d706c652f70617468');
  assert.equal(encode(e, [['password', 'secret']], M_NEVER_INDEX).toString('hex'), '100870617373776f726406736563726574');
  assert.equal(e.table.count, 0);
});

test('Huffman: the canonical codes rebuilt from the lengths are the RFC table', () => {
  // Spot checks against RFC 7541 Appendix B.
  assert.equal(CODES[0].toString(16), '1ff8');
  assert.equal(CODE_LENGTHS[0], 13);
  assert.equal(CODES[32].toString(16), '14'); // ' '
  assert.equal(CODES[48].toString(16), '0'); // '0'
  assert.equal(CODES[97].toString(16), '3'); // 'a'
  assert.equal(CODES[255].toString(16), '3ffffee');
  assert.equal(CODES[256].toString(16), '3fffffff'); // EOS
  assert.equal(CODE_LENGTHS[256], 30);
});

test('Huffman: every byte value and random strings round-trip', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (const src of [all, randomBytes(1000), Buffer.from('www.example.com'), Buffer.alloc(0), Buffer.from([255, 0, 255])]) {
    const enc = Buffer.alloc(huffmanEncodedLength(src, 0, src.length));
    assert.equal(huffmanEncode(src, 0, src.length, enc, 0), enc.length);
    const dec = Buffer.alloc(huffmanDecodedMax(enc.length) + 1);
    const n = huffmanDecode(enc, 0, enc.length, dec, 0);
    assert.equal(dec.subarray(0, n).toString('hex'), src.toString('hex'));
  }
});

test('Huffman: EOS in the string, padding of zeros and padding of 8 bits are refused', () => {
  const out = Buffer.alloc(16);
  // EOS (30 one-bits) then 2 padding bits.
  assert.equal(huffmanDecode(hex('ffff fffc'), 0, 4, out, 0), -1);
  // 'a' (00011) padded with zeros instead of ones.
  assert.equal(huffmanDecode(hex('18'), 0, 1, out, 0), -1);
  // 'a' padded correctly, then a whole byte of ones: padding longer than 7 bits.
  assert.equal(huffmanDecode(hex('1f'), 0, 1, out, 0), 1);
  assert.equal(huffmanDecode(hex('1fff'), 0, 2, out, 0), -1);
});

test('decoder refusals: index 0, index past the table, truncated strings, late size update, oversized size update', () => {
  const cases: [string, string][] = [
    ['80', 'index 0'],
    ['be', 'dynamic index on an empty table'],
    ['400a 6375 7374', 'string longer than the block'],
    ['82 3f e1 1f', 'size update after a field'],
    ['3f e2 1f', 'size update to 4,097 (above our SETTINGS_HEADER_TABLE_SIZE)'],
    ['ff ff ff ff ff ff 01', 'integer overflow'],
  ];
  for (const [block, what] of cases) {
    assert.equal(decode(new HpackDecoder(), hex(block)).status, DECODE_ERROR, what);
  }
  // A size update to 0 at the start of a block is fine and empties the table.
  const d = new HpackDecoder();
  decode(d, hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
  assert.equal(d.table.count, 1);
  assert.equal(decode(d, hex('20 82')).status, DECODED);
  assert.equal(d.table.count, 0);
});

test('decoder: a bomb (one 4 KiB entry referenced again and again) stops storing at the list limit and stays in sync', () => {
  const d = new HpackDecoder();
  const e = new HpackEncoder();
  const out = new Out();
  const name = Buffer.from('x-bomb');
  const value = Buffer.alloc(3000, 'a');
  e.field(out, name, 0, name.length, value, 0, value.length, M_INDEX);
  // 1,000 one-byte references to the entry: 3 MB decoded from a ~4 KB block.
  const b = out.reserve(1000);
  b.fill(0x80 | 62, out.len, out.len + 1000);
  out.len += 1000;
  const block = out.take();
  const sink = new FieldList();
  const t0 = process.hrtime.bigint();
  assert.equal(d.decode(block, 0, block.length, sink, 64 * 1024), DECODED_TOO_LARGE);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(sink.len <= 64 * 1024 + 4096, `sink holds ${sink.len} bytes`);
  assert.equal(sink.fields.length, 21); // 21 × (3006 + 32) ≤ 65,536 < 22 × 3038
  assert.ok(ms < 500, `decoding took ${ms} ms`);
  // The table still matches the encoder's: the next block decodes.
  const next = encode(e, [['x-bomb', value.toString()], ['x-next', '1']], M_AUTO);
  const r = decode(d, next);
  assert.equal(r.status, DECODED);
  assert.deepEqual(r.fields.map(([n]) => n), ['x-bomb', 'x-next']);
});

test('encoder: a smaller peer table size is announced at the start of the next block, and M_AUTO keeps content-length out of the table', () => {
  const e = new HpackEncoder();
  const d = new HpackDecoder();
  const fields: [string, string][] = [[':status', '200'], ['content-type', 'text/plain'], ['content-length', '96'], ['x-custom', 'A']];
  const first = encode(e, fields, M_AUTO);
  assert.deepEqual(decode(d, first).fields, fields);
  assert.deepEqual(tableOf(e.table), [['x-custom', 'A'], ['content-type', 'text/plain']]);
  // Repeated: content-type and x-custom are one byte each now.
  const second = encode(e, fields, M_AUTO);
  assert.ok(second.length < first.length - 15, `${second.length} vs ${first.length}`);
  assert.deepEqual(decode(d, second).fields, fields);
  e.setPeerTableSize(0);
  e.setPeerTableSize(100);
  const third = encode(e, fields, M_AUTO);
  assert.equal(third[0], 0x20); // size update to 0
  assert.deepEqual(decode(d, third).fields, fields);
  assert.equal(d.table.maxSize, 100);
  // Upper-case names from an HTTP/1 head are sent lower-case.
  const upper = encode(e, [['Content-Type', 'text/html'], ['X-Up', 'v']], M_AUTO);
  assert.deepEqual(decode(d, upper).fields, [['content-type', 'text/html'], ['x-up', 'v']]);
});
