// Reads the llhttp conformance corpus (test/corpus, copied from llhttp 9.4.2, MIT) into
// byte-exact cases with what llhttp decided for every message in them.
// Format: test/corpus/README.md. Only the corpus copy inside test/ is read.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type CorpusKind = 'request' | 'response';

/**
 * How llhttp ended one message:
 * - complete: `message complete` was reported;
 * - upgrade: llhttp stopped with "Pause on CONNECT/Upgrade" (the rest of the input is tunnel data);
 * - error: llhttp rejected the input at `error.offset`;
 * - eof: the message completes only when the input ends (close-delimited; `finish=1`);
 * - incomplete: the input ended before the message did (more bytes needed, or `finish=2`).
 */
export type MessageOutcome = 'complete' | 'upgrade' | 'error' | 'eof' | 'incomplete';

export interface LlhttpError {
  offset: number;
  code: number;
  reason: string;
}

export interface HeadInfo {
  /** Offset just past the empty line that ends the head. */
  offset: number;
  /** llhttp method number (requests) or status code (responses). */
  method: number | null;
  status: number | null;
  version: string;
  /** llhttp F_* flags (hex in the log). */
  flags: number;
  contentLength: number;
}

export interface CorpusMessage {
  /** Offset of `message begin` (or, for data rejected after a complete message, where that message ended). */
  begin: number;
  head: HeadInfo | null;
  /** Body bytes as llhttp reported them (span[body]; de-chunked). */
  body: Buffer;
  /** Sizes from `chunk header len=N`, including the final 0: empty when the body is not chunked. */
  chunkSizes: number[];
  /** The log said `skip body` (the test harness asked llhttp to treat it like a response to HEAD). */
  skipBody: boolean;
  outcome: MessageOutcome;
  error: LlhttpError | null;
}

export interface CorpusCase {
  /** Unique: `request/content-length: Heading › Sub-heading` (with ` #2` for repeated titles). */
  id: string;
  /** Path inside the corpus, e.g. `request/content-length.md`. */
  file: string;
  kind: CorpusKind;
  /** meta.type as written (`request`, `response-finish`, `request-lenient-headers`, ...). */
  type: string;
  /** `-finish` types: the input is followed by end of stream. */
  endsWithEof: boolean;
  /** The llhttp leniency flag a `*-lenient-*` case needs, else null. */
  leniency: string | null;
  meta: Record<string, unknown>;
  bytes: Buffer;
  log: string[];
  messages: CorpusMessage[];
}

export const CORPUS_DIR = path.resolve(__dirname, '../../../test/corpus');

/** Every case of every `.md` file under `dir` (default: the copy in test/corpus), in file order. */
export function loadCorpus(dir: string = CORPUS_DIR): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const seen = new Map<string, number>();
  for (const kind of ['request', 'response'] as const) {
    const files = fs.readdirSync(path.join(dir, kind)).filter((f) => f.endsWith('.md')).sort();
    for (const f of files) {
      const file = `${kind}/${f}`;
      for (const c of parseCaseFile(fs.readFileSync(path.join(dir, file), 'utf8'), file)) {
        const n = (seen.get(c.id) ?? 0) + 1;
        seen.set(c.id, n);
        if (n > 1) c.id += ` #${n}`;
        cases.push(c);
      }
    }
  }
  return cases;
}

/** The cases of one corpus file. `file` is its corpus-relative path (names the cases). */
export function parseCaseFile(text: string, file: string): CorpusCase[] {
  const lines = text.split('\n');
  const headings: string[] = []; // headings[level - 2] for ##, ###, ...
  const cases: CorpusCase[] = [];
  let meta: Record<string, unknown> | null = null;
  let http: string | null = null;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const heading = /^(#{2,6}) (.*)$/.exec(line);
    const metaMatch = /^<!-- meta=(\{.*\}) -->$/.exec(line);
    if (heading) {
      const level = heading[1].length - 2;
      headings.length = level;
      headings[level] = heading[2].trim();
      i++;
    } else if (metaMatch) {
      meta = JSON.parse(metaMatch[1]) as Record<string, unknown>;
      http = null;
      i++;
    } else if (line.startsWith('```')) {
      const lang = line.slice(3).trim();
      const end = lines.indexOf('```', i + 1);
      if (end < 0) throw new Error(`${file}:${i + 1}: unterminated code block`);
      const block = lines.slice(i + 1, end);
      if (meta && lang === 'http') {
        http = block.join('\n') + '\n';
      } else if (meta && lang === 'log' && http !== null) {
        cases.push(buildCase(file, headings.filter(Boolean), meta, http, block.filter((l) => l.length > 0)));
        meta = null;
        http = null;
      }
      i = end + 1;
    } else {
      i++;
    }
  }
  return cases;
}

function buildCase(file: string, headings: string[], meta: Record<string, unknown>, http: string, log: string[]): CorpusCase {
  const type = String(meta.type);
  const kind: CorpusKind = type.startsWith('request') ? 'request' : 'response';
  const lenient = /-lenient-(.+)$/.exec(type);
  const id = `${file.replace(/\.md$/, '')}: ${headings.join(' › ')}`;
  const bytes = httpBlockToBytes(http, id);
  return {
    id,
    file,
    kind,
    type,
    endsWithEof: type.endsWith('-finish'),
    leniency: lenient ? lenient[1] : null,
    meta,
    bytes,
    log,
    messages: parseLog(log, bytes, id),
  };
}

/**
 * The README's conversion of an ```http block to bytes: drop the final newline, remove
 * backslash-newline, newline → CRLF, then the escapes \r \n \t \f \xHH \NNN (octal).
 * Text is UTF-8, as in llhttp's runner (`\xff` is the byte 0xff, `ü` two bytes).
 */
export function httpBlockToBytes(block: string, where = 'http block'): Buffer {
  let text = block.endsWith('\n') ? block.slice(0, -1) : block;
  if (text.includes('${')) {
    // The corpus copied into test/ has no ${…} expression; evaluating corpus text as code is not worth it.
    throw new Error(`${where}: \${…} expressions are not supported`);
  }
  text = text.replace(/\\\n/g, '').replace(/\n/g, '\r\n');
  const parts: Buffer[] = [];
  let run = 0;
  let k = 0;
  while (k < text.length) {
    if (text[k] !== '\\') {
      k++;
      continue;
    }
    parts.push(Buffer.from(text.slice(run, k), 'utf8'));
    const c = text[k + 1];
    const simple: Record<string, number> = { r: 0x0d, n: 0x0a, t: 0x09, f: 0x0c };
    if (c !== undefined && c in simple) {
      parts.push(Buffer.of(simple[c]));
      k += 2;
    } else if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(k + 2, k + 4))) {
      parts.push(Buffer.of(parseInt(text.slice(k + 2, k + 4), 16)));
      k += 4;
    } else if (c !== undefined && /[0-7]/.test(c)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(k + 1))![0];
      parts.push(Buffer.of(parseInt(octal, 8) & 0xff));
      k += 1 + octal.length;
    } else {
      // Not an escape (e.g. a backslash ending the block): the backslash is a literal byte, as in llhttp's runner.
      parts.push(Buffer.of(0x5c));
      k += 1;
    }
    run = k;
  }
  parts.push(Buffer.from(text.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

const UPGRADE_ERROR_CODE = 22; // HPE_PAUSED_UPGRADE: "Pause on CONNECT/Upgrade"

/** Splits the log into messages and reads each one's head, body and ending. */
export function parseLog(log: string[], bytes: Buffer, where = 'log'): CorpusMessage[] {
  const messages: CorpusMessage[] = [];
  let current: CorpusMessage | null = null;
  let lastEnd = 0; // offset where the last finished message ended
  const open = (begin: number): CorpusMessage => {
    const m: CorpusMessage = { begin, head: null, body: Buffer.alloc(0), chunkSizes: [], skipBody: false, outcome: 'incomplete', error: null };
    messages.push(m);
    return m;
  };
  for (const line of log) {
    const ev = /^off=(\d+|NULL) (.*)$/.exec(line);
    if (!ev) throw new Error(`${where}: unreadable log line ${JSON.stringify(line)}`);
    const off = ev[1] === 'NULL' ? -1 : Number(ev[1]);
    const what = ev[2];
    let m: RegExpExecArray | null;
    if (what === 'message begin') {
      current = open(off);
    } else if ((m = /^headers complete (method|status)=(\d+) v=(\d+)\/(\d+) flags=([0-9a-f]+) content_length=(\d+)$/.exec(what))) {
      if (!current) throw new Error(`${where}: headers complete outside a message`);
      current.head = {
        offset: off,
        method: m[1] === 'method' ? Number(m[2]) : null,
        status: m[1] === 'status' ? Number(m[2]) : null,
        version: `${m[3]}.${m[4]}`,
        flags: parseInt(m[5], 16),
        contentLength: Number(m[6]),
      };
    } else if ((m = /^len=(\d+) span\[body\]=/.exec(what))) {
      if (!current) throw new Error(`${where}: body outside a message`);
      current.body = Buffer.concat([current.body, bytes.subarray(off, off + Number(m[1]))]);
    } else if ((m = /^chunk header len=(\d+)$/.exec(what))) {
      current?.chunkSizes.push(Number(m[1]));
    } else if (what === 'skip body') {
      if (current) current.skipBody = true;
    } else if (what === 'message complete') {
      if (!current) throw new Error(`${where}: message complete outside a message`);
      current.outcome = 'complete';
      lastEnd = off;
      current = null;
    } else if ((m = /^error code=(\d+) reason="(.*)"$/.exec(what))) {
      const error = { offset: off, code: Number(m[1]), reason: m[2] };
      const last = messages[messages.length - 1];
      if (error.code === UPGRADE_ERROR_CODE && last && last.head) {
        last.outcome = 'upgrade';
        last.error = null;
      } else {
        const target = current ?? open(lastEnd);
        target.outcome = 'error';
        target.error = error;
      }
      current = null;
    } else if ((m = /^finish=(\d+)$/.exec(what))) {
      // llhttp_finish() state: 0 safe (nothing pending), 1 the message completes at EOF, 2 unsafe (cut short).
      const state = Number(m[1]);
      const last = messages[messages.length - 1];
      if (state === 1 && last) last.outcome = 'eof';
      if (state === 2 && last) last.outcome = 'incomplete';
    } else if (/^len=\d+ span\[|complete$|^reset$|^pause$/.test(what)) {
      // Spans of the head and per-token events: the bytes say the same.
    } else {
      throw new Error(`${where}: unknown log event ${JSON.stringify(line)}`);
    }
  }
  return messages;
}

/**
 * The bytes of each message in the input: message i runs from its begin to the next message's begin
 * (so a CRLF that llhttp skips between pipelined messages stays with the previous one).
 */
export function messageSegments(c: CorpusCase): Buffer[] {
  return c.messages.map((m, i) => c.bytes.subarray(m.begin, i + 1 < c.messages.length ? c.messages[i + 1].begin : c.bytes.length));
}

/** How llhttp's test fixture prints an ASCII span value (used to check the byte conversion against the log). */
export function escapeLikeLlhttp(b: Buffer): string {
  let s = '';
  for (const byte of b) {
    if (byte === 0x0d) s += '\\r';
    else if (byte === 0x0a) s += '\\n';
    else if (byte === 0x09) s += '\\t';
    else if (byte === 0x0c) s += '\\f';
    else if (byte < 0x20 || byte === 0x7f) s += `\\x${byte.toString(16).padStart(2, '0')}`;
    else s += String.fromCharCode(byte);
  }
  return s;
}
