/**
 * The llhttp conformance corpus (test/corpus) through a real tslb process, black-box.
 *
 * Request cases go from a raw client to tslb; a raw recording backend answers each complete
 * request it receives with a fixed 200. Response cases go the other way: the backend sends the
 * case bytes as its answers to simple GETs. For every message, llhttp's verdict decides:
 * - completed → forwarded with the same body bytes (tslb may re-frame), and answered;
 * - rejected → refused (400/501 to a client, 502 for a response) and nothing of it forwarded;
 * - cut short by the end of the input → never forwarded as a complete message.
 * Any difference must be in DELIBERATELY_STRICTER (case → reason), and every entry there must
 * still be a difference. `*-lenient-*` cases may be accepted as llhttp's lenient mode does or
 * refused cleanly; which one tslb does is reported as a diagnostic.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  escapeLikeLlhttp,
  httpBlockToBytes,
  loadCorpus,
  messageSegments,
  parseCaseFile,
  type CorpusCase,
  type CorpusMessage,
} from './helpers/corpus';
import { exchange, header, RecordingBackend, type RawResponse } from './helpers/rawhttp';
import { freePort, startTslb, type TslbProcess } from './helpers/tslb';

const cases = loadCorpus();

// ---------------------------------------------------------------------------------------------
// Where tslb refuses what llhttp accepts, on purpose. Every entry must still differ from llhttp.

const CONNECT = "CONNECT asks for a tunnel to a host of the client's choosing, a forward-proxy feature: tslb is a reverse proxy and answers 501 Not Implemented";
const NOT_HTTP = 'not HTTP/1.x (RTSP/ICE/HTTP/0.9): tslb speaks HTTP/1.0 and HTTP/1.1 only, like HAProxy';
const DELIBERATELY_STRICTER: Record<string, string> = {
  'request/method: CONNECT request': CONNECT,
  'request/method: CONNECT request with CAPS': CONNECT,
  'request/method: CONNECT with body': CONNECT,
  'request/uri: Underscore in hostname': CONNECT,
  'request/method: SOURCE request with ICE': NOT_HTTP,
  'request/method: OPTIONS request with RTSP': NOT_HTTP,
  'request/method: ANNOUNCE request with RTSP': NOT_HTTP,
  'request/sample: No HTTP version': `HTTP/0.9 simple request (no version): ${NOT_HTTP}`,
  'response/sample: RTSP response': NOT_HTTP,
  'response/sample: ICE response': NOT_HTTP,
  'response/sample: HTTP version 0.9': `a status line cannot say HTTP/0.9 (0.9 has none): ${NOT_HTTP}`,
  'request/uri: `host:port` and basic auth':
    'userinfo in an absolute-form target: refused with 400, as RFC 9110 §4.2.4 advises (it serves to obscure the authority); HAProxy drops it before comparing with Host',
  'request/transfer-encoding: POST with `chunked` as last transfer-encoding':
    'a transfer coding other than chunked (deflate): tslb implements none and answers 501 (RFC 9112 §6.1), never forwarding a body it cannot frame-check',
  'request/transfer-encoding: POST with `chunked` as last transfer-encoding (multiple headers)':
    'the same codings over two Transfer-Encoding lines, one list (RFC 9110 §5.3): 501 as on one line',
};

/**
 * tslb requires Host on HTTP/1.1 requests (RFC 9112 §3.2: a server MUST answer 400), and most
 * corpus requests have none. Those cases run with `Host: corpus.test` added after the request
 * line of each message (bodies and every other byte unchanged); the rule itself is checked on
 * the unmodified corpus by the test "HTTP/1.1 corpus requests without Host are refused".
 * An absolute-form target gets its own authority as Host (tslb refuses any other value).
 */
function addedHost(requestLine: string): Buffer {
  const authority = /^\S+ [a-z][a-z0-9+.-]*:\/\/([^/?#\s]*)/i.exec(requestLine)?.[1];
  return Buffer.from(`Host: ${authority ?? 'corpus.test'}\r\n`);
}

/** Cases that exercise llhttp's C API rather than bytes on a wire: nothing to compare. */
const NOT_ON_THE_WIRE: Record<string, string> = {
  'request/content-length: Content-Length reset when no body is received':
    "llhttp's skip-body callback return has no request-side equivalent on a wire: there the second request is the first one's body",
};

// ---------------------------------------------------------------------------------------------
// Reading the corpus (no tslb needed)

describe('llhttp corpus reader', () => {
  test('reads every case of the copied corpus with a verdict for each message', () => {
    assert.ok(cases.length >= 240, `cases: ${cases.length}`);
    assert.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'case ids are unique');
    for (const c of cases) assert.ok(c.messages.length > 0, `${c.id}: has messages`);
    assert.ok(cases.filter((c) => c.leniency === null).length >= 200);
  });

  test('bytes agree with every ASCII span the llhttp log printed', () => {
    let checked = 0;
    for (const c of cases) {
      for (const line of c.log) {
        const m = /^off=(\d+) len=(\d+) span\[\w+\]="(.*)"$/.exec(line);
        if (!m || /[^\x00-\x7f]/.test(m[3])) continue;
        assert.equal(escapeLikeLlhttp(c.bytes.subarray(Number(m[1]), Number(m[1]) + Number(m[2]))), m[3], `${c.id}: ${line}`);
        checked++;
      }
    }
    assert.ok(checked > 1900, `spans checked: ${checked}`);
  });

  test('http block conversion: final newline, continuation, CRLF, escapes, UTF-8', () => {
    assert.deepEqual(httpBlockToBytes('GET / HTTP/1.1\nA: b\\\nc\n\n'), Buffer.from('GET / HTTP/1.1\r\nA: bc\r\n'));
    assert.deepEqual(httpBlockToBytes('x\\r\\n\\t\\f\\xff\\033\\01\\tz\n'), Buffer.from([0x78, 13, 10, 9, 12, 0xff, 0o33, 1, 9, 0x7a]));
    assert.deepEqual(httpBlockToBytes('ü\n'), Buffer.from('ü'));
    // The final newline goes first, so a backslash before it stays a literal byte (as in llhttp's runner).
    assert.deepEqual(httpBlockToBytes('a\\\n'), Buffer.from('a\\'));
    assert.throws(() => httpBlockToBytes('${"a".repeat(3)}'), /not supported/);
  });

  test('log reading: pipelined, chunked, errors after a complete message, upgrade, EOF', () => {
    const md = [
      '# T',
      '## Two then error',
      '<!-- meta={"type": "request"} -->',
      '```http',
      'POST /a HTTP/1.1',
      'Transfer-Encoding: chunked',
      '',
      '1',
      'A',
      '0',
      '',
      'X',
      '```',
      '',
      '```log',
      'off=0 message begin',
      'off=48 headers complete method=3 v=1/1 flags=208 content_length=0',
      'off=51 chunk header len=1',
      'off=51 len=1 span[body]="A"',
      'off=54 chunk complete',
      'off=59 chunk header len=0',
      'off=59 chunk complete',
      'off=59 message complete',
      'off=59 error code=5 reason="Data after `Connection: close`"',
      '```',
      '### Up',
      '<!-- meta={"type": "response"} -->',
      '```http',
      'HTTP/1.1 101 OK',
      '',
      'tunnel',
      '```',
      '```log',
      'off=0 message begin',
      'off=19 headers complete status=101 v=1/1 flags=0 content_length=0',
      'off=19 message complete',
      'off=19 error code=22 reason="Pause on CONNECT/Upgrade"',
      '```',
      '## Close-delimited',
      '<!-- meta={"type": "response-finish"} -->',
      '```http',
      'HTTP/1.1 200 OK',
      '',
      '',
      '```',
      '```log',
      'off=0 message begin',
      'off=19 headers complete status=200 v=1/1 flags=0 content_length=0',
      'off=NULL finish=1',
      '```',
    ].join('\n');
    const [two, up, eof] = parseCaseFile(md, 'request/t.md');
    assert.equal(two.id, 'request/t: Two then error');
    assert.equal(up.id, 'request/t: Two then error › Up');
    assert.deepEqual(
      two.messages.map((m) => [m.begin, m.outcome, m.body.toString(), m.chunkSizes, m.error?.code ?? null]),
      [
        [0, 'complete', 'A', [1, 0], null],
        [59, 'error', '', [], 5],
      ],
    );
    assert.equal(two.messages[0].head?.method, 3);
    assert.equal(two.messages[0].head?.flags, 0x208);
    assert.deepEqual(messageSegments(two).map((s) => s.toString()), [two.bytes.subarray(0, 59).toString(), 'X']);
    assert.equal(up.kind, 'response');
    assert.deepEqual([up.messages[0].outcome, up.messages[0].head?.status], ['upgrade', 101]);
    assert.equal(eof.endsWithEof, true);
    assert.equal(eof.messages[0].outcome, 'eof');
  });
});

// ---------------------------------------------------------------------------------------------
// Expectations derived from llhttp's verdicts

const F_CHUNKED = 0x08;
const F_CONTENT_LENGTH = 0x20;
const FIXED_BODY = 'ok';
const OK_RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${FIXED_BODY.length}\r\n\r\n${FIXED_BODY}`);
const OK_HEAD = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${FIXED_BODY.length}\r\n\r\n`);

interface CaseResult {
  /** Differences from what llhttp decided; empty when tslb agrees. */
  differences: string[];
  /** What tslb did, for the report. */
  notes: string[];
  /** tslb refused the whole case cleanly (a refusal status or a close, nothing of it forwarded). */
  refusedCleanly: boolean;
}

function firstLine(b: Buffer): string {
  const skip = /^(\r\n)*/.exec(b.toString('latin1'))![0].length;
  const text = b.subarray(skip).toString('latin1');
  const eol = text.indexOf('\r\n');
  return eol < 0 ? text : text.slice(0, eol);
}

function show(b: Buffer, max = 160): string {
  const s = JSON.stringify(b.subarray(0, max).toString('latin1'));
  return b.length > max ? `${s}… (${b.length} bytes)` : s;
}

/** Request bytes with Host added to each HTTP/1.1 message that lacks one; null when the case does not need it. */
function withHost(c: CorpusCase): Buffer | null {
  const segments = messageSegments(c);
  let changed = false;
  const out = segments.map((seg, i) => {
    const m = c.messages[i];
    const skip = /^(\r\n)*/.exec(seg.toString('latin1'))![0].length;
    const eol = seg.indexOf('\r\n', skip);
    const headEnd = seg.indexOf('\r\n\r\n', skip);
    const requestLine = eol < 0 ? '' : seg.subarray(skip, eol).toString('latin1');
    // Only where the request line is intact (an error in it must stay where it is) and says HTTP/1.1.
    if (eol < 0 || !/ HTTP\/1\.1$/.test(requestLine) || (m.error && m.error.offset <= m.begin + eol)) return seg;
    const head = seg.subarray(skip, headEnd < 0 ? seg.length : headEnd).toString('latin1');
    if (/\r\nhost:/i.test(head)) return seg;
    changed = true;
    return Buffer.concat([seg.subarray(0, eol + 2), addedHost(requestLine), seg.subarray(eol + 2)]);
  });
  return changed ? Buffer.concat(out) : null;
}

/** The statuses tslb may use to refuse a request llhttp rejects. */
function refusalAllowed(status: number, segment: Buffer): boolean {
  if (status === 400) return true;
  // 501 Not Implemented: a transfer coding tslb does not implement (RFC 9112 §6.1).
  return status === 501 && /\r\ntransfer-encoding:/i.test(segment.toString('latin1'));
}

function expectedMethod(segment: Buffer): string {
  return firstLine(segment).split(' ')[0];
}

/** Message framing per llhttp's flags: is the body delimited by the end of the connection? */
function closeDelimited(m: CorpusMessage): boolean {
  const h = m.head;
  if (!h || m.skipBody) return false;
  const status = h.status ?? 0;
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return false;
  return (h.flags & (F_CHUNKED | F_CONTENT_LENGTH)) === 0;
}

// ---- requests

async function runRequestCase(c: CorpusCase, bytes: Buffer, port: number, backend: RecordingBackend): Promise<CaseResult> {
  const differences: { at: number; text: string }[] = [];
  const diff = (at: number, text: string) => differences.push({ at, text });
  const notes: string[] = [];
  backend.reset();
  backend.reply = (req) => ({ bytes: req.method === 'HEAD' ? OK_HEAD : OK_RESPONSE });
  // Segments of the (possibly Host-added) bytes: recompute by re-splitting on the same message count.
  const original = messageSegments(c);
  const stop = c.messages.findIndex((m) => m.outcome !== 'complete');
  const completed = stop < 0 ? c.messages.length : stop;
  const last = stop < 0 ? null : c.messages[stop];
  const expectResponses = completed + (last?.outcome === 'upgrade' ? 1 : 0);
  const waitForHead = last !== null && last.outcome === 'incomplete' && last.head !== null;

  const methods = c.messages.map((_m, i) => expectedMethod(original[i]));
  const result = await exchange(port, bytes, {
    methods,
    endAfterSend: c.endsWithEof || (last?.outcome === 'incomplete' && !waitForHead),
    timeoutMs: 2000,
    until: (responses) => {
      if (waitForHead) return backend.heads.length > completed || responses.length > completed;
      if (last?.outcome === 'error') return false; // wait for the close that must follow a refusal
      if (last?.outcome === 'incomplete') return false;
      return responses.length >= expectResponses;
    },
  });
  await new Promise((r) => setTimeout(r, 20)); // let a stray forward arrive before judging

  const ok = result.responses.filter((r, i) => r.status === 200 && r.body.toString() === (methods[i] === 'HEAD' ? '' : FIXED_BODY));
  for (let i = 0; i < completed + (last?.outcome === 'upgrade' ? 1 : 0); i++) {
    const m = c.messages[i];
    const got = backend.requests[i];
    const what = `message ${i + 1} (${JSON.stringify(firstLine(original[i]))})`;
    if (!got) {
      diff(i, `${what}: llhttp ${m.outcome === 'upgrade' ? 'completed it (then upgrade)' : 'completed it'}, backend did not receive it; client got ${describeClient(result)}`);
      continue;
    }
    if (got.method !== expectedMethod(original[i])) diff(i, `${what}: backend got method ${got.method}`);
    if (!got.body.equals(m.body)) diff(i, `${what}: body ${show(m.body)} expected, backend got ${show(got.body)} (${got.framing})`);
    if (!ok[i]) diff(i, `${what}: client did not get the backend's 200; got ${describeClient(result)}`);
  }
  if (last === null || last.outcome === 'complete' || last.outcome === 'eof') {
    if (backend.requests.length > completed) diff(completed, `backend got ${backend.requests.length - completed} extra request(s)`);
  } else if (last.outcome === 'upgrade') {
    notes.push(`after the upgrade request: ${describeClient(result)}`);
  } else {
    const extraComplete = backend.requests.length - completed;
    if (extraComplete > 0) diff(stop, `llhttp ${last.outcome === 'error' ? `rejected message ${stop + 1} (${last.error!.reason})` : `found message ${stop + 1} cut short`}, but the backend got it complete: ${show(backend.requests[completed].raw)}`);
    const forwardedHead = backend.heads.length > completed;
    if (last.outcome === 'error') {
      const prior = backend.requests.slice(0, completed).reduce((n, r) => n + r.raw.length, 0);
      if (last.head === null && (forwardedHead || backend.bytesReceived > prior)) {
        diff(stop, `llhttp rejected message ${stop + 1} in its head (${last.error!.reason} at ${last.error!.offset}), but ${backend.bytesReceived - prior} byte(s) of it reached the backend`);
      } else if (forwardedHead) {
        notes.push(`head forwarded before the body error (${last.error!.reason}); the backend never got a complete message`);
      }
      const refusal = result.responses[completed];
      if (refusal) {
        if (!refusalAllowed(refusal.status, original[stop] ?? Buffer.alloc(0))) diff(stop, `llhttp rejected message ${stop + 1} (${last.error!.reason}); client got ${refusal.status} instead of 400`);
      } else if (last.error!.code !== 5) {
        // "Data after Connection: close" needs no answer: the client asked to close.
        diff(stop, `llhttp rejected message ${stop + 1} (${last.error!.reason}); client got ${describeClient(result)} instead of 400`);
      }
      if (!result.closed) diff(stop, `connection not closed after the rejected message ${stop + 1}`);
    } else if (last.head !== null) {
      // Cut short after a complete head: llhttp accepted the head, so tslb should forward it with the same framing.
      const got = backend.heads[completed];
      if (!got) diff(stop, `llhttp accepted the head of message ${stop + 1} (then waited for more), tslb did not forward it; client got ${describeClient(result)}`);
      // The client is gone mid-message: the upstream connection carries half a request and must be closed, not kept.
      else if (!(await backend.waitFor(() => backend.partial.includes(got), 1000))) {
        diff(stop, `client closed during message ${stop + 1}'s body, but tslb kept the upstream connection (half a request on it) open for 1 s`);
      }
      else if (got.method !== expectedMethod(original[stop])) diff(stop, `message ${stop + 1}: backend got method ${got.method}`);
      else if ((last.head.flags & F_CONTENT_LENGTH) !== 0 && got.framing === 'length' && header(got, 'content-length')[0] !== String(last.head.contentLength)) {
        diff(stop, `message ${stop + 1}: Content-Length ${last.head.contentLength} expected, backend got ${header(got, 'content-length')[0]}`);
      }
    } else if (forwardedHead) {
      diff(stop, `message ${stop + 1} ended before its head did, yet a head reached the backend: ${show(backend.heads[completed].head)}`);
    }
  }
  // Refused cleanly: from some message on, a refusal status (or a close) and nothing of it or after it forwarded.
  const refusedStatus = result.responses.findIndex((r) => r.status >= 400);
  const refusedAt = refusedStatus >= 0 ? refusedStatus : result.closed ? result.responses.length : -1;
  const refusedCleanly =
    refusedAt >= 0 &&
    refusedAt < c.messages.length &&
    result.closed &&
    backend.requests.length === refusedAt &&
    backend.heads.length === refusedAt &&
    differences.every((d) => d.at >= refusedAt);
  return { differences: differences.map((d) => d.text), notes, refusedCleanly };
}

function describeClient(r: { responses: RawResponse[]; closed: boolean; timedOut: boolean; received: Buffer }): string {
  const statuses = r.responses.map((x) => `${x.status}${x.complete ? '' : ' (incomplete)'}`);
  return `[${statuses.join(', ') || 'no response'}]${r.closed ? ', closed' : ''}${r.timedOut ? ', timed out' : ''}${r.responses.length === 0 && r.received.length ? ` bytes ${show(r.received)}` : ''}`;
}

// ---- responses

interface ResponseGroup {
  /** Index of the final message (the one a request is answered with), -1 when there is none. */
  final: number;
  bytes: Buffer;
  /** The backend closes the connection after writing: the final message ends at EOF or is cut short. */
  close: boolean;
}

/** Groups response messages by the request they answer: interim 1xx go with the next final, stray bytes with the previous. */
function responseGroups(c: CorpusCase): ResponseGroup[] {
  const segments = messageSegments(c);
  const groups: ResponseGroup[] = [];
  let pending: Buffer[] = [];
  c.messages.forEach((m, i) => {
    const status = m.head?.status ?? null;
    const interim = status !== null && status >= 100 && status < 200 && status !== 101 && m.outcome === 'complete';
    if (m.head === null && groups.length > 0 && pending.length === 0) {
      const g = groups[groups.length - 1];
      g.bytes = Buffer.concat([g.bytes, segments[i]]);
      return;
    }
    pending.push(segments[i]);
    if (interim) return;
    const close = c.endsWithEof || m.outcome === 'eof' || (m.outcome === 'incomplete' && m.head !== null);
    groups.push({ final: m.head ? i : -1, bytes: Buffer.concat(pending), close });
    pending = [];
  });
  if (pending.length) groups.push({ final: -1, bytes: Buffer.concat(pending), close: c.endsWithEof });
  return groups;
}

async function runResponseCase(c: CorpusCase, port: number, backend: RecordingBackend): Promise<CaseResult> {
  const differences: { at: number; text: string }[] = [];
  const diff = (at: number, text: string) => differences.push({ at, text });
  const notes: string[] = [];
  backend.reset();
  const groups = responseGroups(c);
  backend.reply = (_req, index) => {
    const g = groups[index];
    return g ? { bytes: g.bytes, close: g.close } : { bytes: Buffer.alloc(0), close: true };
  };
  const method = c.messages.some((m) => m.skipBody) ? 'HEAD' : 'GET';
  const upgrade = c.messages.find((m) => m.outcome === 'upgrade');
  const upgradeLine = upgrade ? (/\r\nupgrade:\s*([^\r]*)/i.exec(c.bytes.toString('latin1'))?.[1] ?? 'websocket') : '';
  const request = upgrade
    ? `GET /corpus HTTP/1.1\r\nHost: corpus.test\r\nConnection: Upgrade\r\nUpgrade: ${upgradeLine}\r\n\r\n`
    : `${method} /corpus HTTP/1.1\r\nHost: corpus.test\r\n\r\n`;
  const finals = groups.filter((g) => g.final >= 0);
  const result = await exchange(port, Buffer.from(request.repeat(upgrade ? 1 : Math.max(1, groups.length))), {
    methods: groups.map(() => method),
    timeoutMs: 2000,
    until: (responses) => {
      const done = responses.filter((r) => r.status < 100 || r.status >= 200).length;
      if (upgrade) return responses.some((r) => r.status === 101);
      return done >= groups.length && !finals.some((g) => g.close);
    },
  });
  if (upgrade) {
    const tunnel = c.bytes.subarray(upgrade.head!.offset);
    const got = result.received.toString('latin1');
    if (!got.startsWith('HTTP/1.1 101')) diff(0, `llhttp completed a 101 (upgrade); client got ${describeClient(result)}`);
    else if (tunnel.length && !result.received.subarray(result.received.length - tunnel.length).equals(tunnel)) {
      notes.push(`tunnel bytes after the 101 not (yet) relayed: expected ${show(tunnel)}, got ${show(result.received)}`);
    }
    return { differences: differences.map((d) => d.text), notes, refusedCleanly: false };
  }
  const finalsGot = result.responses.filter((r) => r.status < 100 || r.status >= 200);
  if (result.responses.some((r) => r.status >= 100 && r.status < 200)) notes.push('interim 1xx forwarded to the client');
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi];
    const got = finalsGot[gi];
    const m = g.final >= 0 ? c.messages[g.final] : null;
    const what = `response ${gi + 1} (${m ? JSON.stringify(firstLine(messageSegments(c)[g.final])) : 'no head'})`;
    if (m && (m.outcome === 'complete' || m.outcome === 'eof' || (m.outcome === 'incomplete' && closeDelimited(m)))) {
      if (!got || !got.complete) diff(gi, `${what}: llhttp completed it${m.outcome === 'complete' ? '' : ' at EOF'}; client got ${describeClient(result)}`);
      else if (got.status !== m.head!.status) diff(gi, `${what}: status ${m.head!.status} expected, client got ${got.status}`);
      else if (!got.body.equals(m.body)) diff(gi, `${what}: body ${show(m.body)} expected, client got ${show(got.body)}`);
      continue;
    }
    // Rejected or cut short: the client must not get it as a complete response with its status.
    const reason = m?.error ? `rejected it (${m.error.reason})` : 'found it cut short';
    const gotSame = got && got.complete && m?.head && got.status === m.head.status;
    if (gotSame) diff(gi, `${what}: llhttp ${reason}, yet the client got it complete: ${show(got.raw)}`);
    else if (got && got.complete && got.status !== 502) diff(gi, `${what}: llhttp ${reason}; client got ${got.status} instead of 502`);
    else if (!got) notes.push(`${what}: ${describeClient(result)}`);
    if (got && !got.complete) notes.push(`${what}: head relayed, then cut`);
  }
  const refusedCleanly = differences.length > 0 && differences.every((d) => finalsGot[d.at]?.status === 502);
  return { differences: differences.map((d) => d.text), notes, refusedCleanly };
}

// ---------------------------------------------------------------------------------------------
// Through tslb

describe('llhttp corpus through tslb', () => {
  let lb: TslbProcess;
  let port = 0;
  const backend = new RecordingBackend();
  const lenientOutcomes: string[] = [];

  before(async () => {
    await backend.start();
    port = await freePort();
    lb = await startTslb(`
global: { workers: 1 }
frontends:
  - name: fe
    mode: http
    binds: ["127.0.0.1:${port}"]
    default_backend: be
backends:
  - name: be
    mode: http
    servers:
      - { name: s1, address: 127.0.0.1, port: ${backend.port} }
`);
  });

  after(async () => {
    await backend.close(); // first: a session tslb failed to abort would otherwise hold its graceful stop
    await lb?.stop();
  });

  test('HTTP/1.1 corpus requests without Host are refused with 400 and not forwarded', async () => {
    const samples = cases.filter((c) => c.kind === 'request' && c.leniency === null && c.messages.length === 1 && c.messages[0].outcome === 'complete' && withHost(c) !== null).slice(0, 5);
    assert.ok(samples.length > 0);
    for (const c of samples) {
      backend.reset();
      const r = await exchange(port, c.bytes, { timeoutMs: 2000 });
      assert.equal(r.responses[0]?.status, 400, `${c.id}: ${describeClient(r)}`);
      assert.equal(backend.bytesReceived, 0, `${c.id}: nothing forwarded`);
    }
  });

  for (const c of cases) {
    const skip = NOT_ON_THE_WIRE[c.id];
    test(c.id, { skip }, async (t) => {
      const hosted = c.kind === 'request' ? withHost(c) : null;
      const bytes = hosted ?? c.bytes;
      const r = c.kind === 'request' ? await runRequestCase(c, bytes, port, backend) : await runResponseCase(c, port, backend);
      for (const n of r.notes) t.diagnostic(n);
      const input = `${c.type}${hosted ? ' (Host added)' : ''}, bytes ${show(bytes, 400)}`;
      if (c.leniency !== null) {
        const verdict = r.differences.length === 0 ? 'same as llhttp with its leniency flag' : r.refusedCleanly ? 'refused cleanly' : 'NEITHER';
        lenientOutcomes.push(`${c.id}: ${verdict}`);
        t.diagnostic(`lenient (${c.leniency}): ${verdict}`);
        assert.ok(r.differences.length === 0 || r.refusedCleanly, `${c.id}: lenient case neither accepted like llhttp nor refused cleanly\n${input}\n- ${r.differences.join('\n- ')}`);
        return;
      }
      const stricter = DELIBERATELY_STRICTER[c.id];
      if (stricter) {
        assert.ok(r.differences.length > 0, `${c.id} is listed as deliberately stricter (${stricter}) but tslb now agrees with llhttp: remove it from the list`);
        assert.ok(r.refusedCleanly, `${c.id} (stricter: ${stricter}) must be refused cleanly\n${input}\n- ${r.differences.join('\n- ')}`);
        return;
      }
      assert.deepEqual(r.differences, [], `${c.id}\n${input}\n- ${r.differences.join('\n- ')}`);
    });
  }

  test('lenient cases: what tslb does', (t) => {
    for (const line of lenientOutcomes) t.diagnostic(line);
  });
});
