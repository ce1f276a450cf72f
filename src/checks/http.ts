/**
 * `option httpchk` / `http-check send` / `http-check expect`: one request, the
 * connection closed after the reply. Without an expect rule a 2xx or 3xx passes.
 * HTTP/1.x by default; HTTP/2 (./http2.ts) with `check-proto h2`, on a `proto h2`
 * server, or when a TLS check's ALPN picks h2.
 */
import type { HttpCheckSpec } from '../config/model';
import { h2Exchange } from './http2';
import { withSession, type CheckSession } from './session';
import type { CheckKind, CheckResult } from './types';

const DEFAULT_SPEC: HttpCheckSpec = { method: 'OPTIONS', uri: '/', version: 'HTTP/1.0', headers: [] };

export function buildHttpRequest(spec: HttpCheckSpec): Buffer {
  let head = `${spec.method || 'OPTIONS'} ${spec.uri || '/'} ${spec.version || 'HTTP/1.0'}\r\n`;
  const has = (name: string): boolean => spec.headers.some((h) => h.name.toLowerCase() === name);
  for (const h of spec.headers) head += `${h.name}: ${h.value}\r\n`;
  // HTTP/1.1 keeps connections open by default; a check wants its reply and the close.
  if (spec.version === 'HTTP/1.1' && !has('connection')) head += 'Connection: close\r\n';
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  if (body && !has('content-length')) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

interface ParsedResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  /** Offset of the body in the received bytes. */
  bodyStart: number;
}

function parseHead(data: Buffer): ParsedResponse | 'incomplete' | 'invalid' {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return 'incomplete';
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) return 'invalid';
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon > 0) headers.push([lines[i].slice(0, colon).trim().toLowerCase(), lines[i].slice(colon + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, bodyStart: end + 4 };
}

function header(res: ParsedResponse, name: string): string | undefined {
  return res.headers.find((h) => h[0] === name)?.[1];
}

/** The body once complete (Content-Length, chunked end, or close); undefined while more is due. */
function completeBody(res: ParsedResponse, data: Buffer, ended: boolean): Buffer | undefined {
  const raw = data.subarray(res.bodyStart);
  if (res.status < 200 || res.status === 204 || res.status === 304) return Buffer.alloc(0);
  if ((header(res, 'transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
    const body = dechunk(raw);
    return body ?? (ended ? raw : undefined);
  }
  const length = header(res, 'content-length');
  if (length !== undefined && /^\d+$/.test(length)) {
    const n = Number(length);
    return raw.length >= n ? raw.subarray(0, n) : ended ? raw : undefined;
  }
  return ended ? raw : undefined;
}

/** Decode a complete chunked body; undefined if the final chunk has not arrived. */
function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return undefined;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (raw.length < eol + 2 + size) return undefined;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/** `expect status 200`, `200-399`, `200,301-302`. */
function statusMatches(list: string, status: number): boolean {
  return list.split(',').some((part) => {
    const [lo, hi] = part.trim().split('-');
    return status >= Number(lo) && status <= Number(hi ?? lo);
  });
}

function headerValueMatches(method: string, pattern: string, value: string): boolean {
  switch (method) {
    case 'beg':
      return value.startsWith(pattern);
    case 'end':
      return value.endsWith(pattern);
    case 'sub':
      return value.includes(pattern);
    case 'reg':
      return new RegExp(pattern).test(value);
    default:
      return value === pattern;
  }
}

/** A check's reply, whichever protocol carried it. */
export interface CheckReply {
  status: number;
  reason: string;
  /** Lower-case names. */
  headers: [string, string][];
  /** The body as received, when the expect rule reads it. */
  body: Buffer | undefined;
}

/** The reply of an HTTP/1.x check: undefined when it is not an HTTP response. */
async function h1Exchange(s: CheckSession, spec: HttpCheckSpec, needsBody: boolean): Promise<CheckReply | undefined> {
  s.write(buildHttpRequest(spec));
  let body: Buffer | undefined;
  await s.read((data) => {
    const res = parseHead(data);
    if (res === 'invalid') return true;
    if (res === 'incomplete') return false;
    if (!needsBody) return true;
    body = completeBody(res, data, false);
    return body !== undefined;
  });
  const res = parseHead(s.data);
  if (res === 'incomplete' || res === 'invalid') return undefined;
  if (needsBody) body ??= completeBody(res, s.data, true);
  return { status: res.status, reason: res.reason, headers: res.headers, body };
}

/** `http-check expect` on a reply; without a rule, a 2xx or 3xx passes. */
function verdict(expect: HttpCheckSpec['expect'], res: CheckReply): CheckResult {
  const code = res.status;
  if (!expect) {
    return code >= 200 && code < 400 ? { status: 'L7OK', code, desc: '' } : { status: 'L7STS', code, desc: res.reason };
  }
  let match: boolean;
  let failure: CheckResult;
  switch (expect.kind) {
    case 'status':
      match = statusMatches(expect.value, code);
      failure = { status: 'L7STS', code, desc: res.reason };
      break;
    case 'rstatus':
      match = new RegExp(expect.value).test(String(code));
      failure = { status: 'L7STS', code, desc: res.reason };
      break;
    case 'hdr': {
      const name = (expect.header ?? '').toLowerCase();
      const values = res.headers.filter((h) => h[0] === name).map((h) => h[1]);
      match = expect.value === '' ? values.length > 0 : values.some((v) => headerValueMatches(expect.headerMatch ?? 'str', expect.value, v));
      failure = { status: 'L7STS', code, desc: expect.negate ? 'HTTP header matched unwanted content' : 'HTTP header did not match' };
      break;
    }
    default: {
      const text = (res.body ?? Buffer.alloc(0)).toString('latin1');
      match = expect.kind === 'string' ? text.includes(expect.value) : new RegExp(expect.value).test(text);
      failure = { status: 'L7RSP', code, desc: expect.negate ? 'HTTP check matched unwanted content' : 'HTTP content check did not match' };
    }
  }
  return match !== expect.negate ? { status: 'L7OK', code, desc: '' } : failure;
}

export const httpCheck: CheckKind = {
  name: 'http',
  run(ctx) {
    const spec = ctx.spec.http ?? DEFAULT_SPEC;
    const needsBody = spec.expect?.kind === 'string' || spec.expect?.kind === 'rstring';
    const { httpProto, alpn } = ctx.target;
    return withSession(
      ctx,
      async (s): Promise<CheckResult> => {
        await s.connect();
        const reply = s.speaksH2 ? await h2Exchange(s, spec, needsBody) : await h1Exchange(s, spec, needsBody);
        return reply ? verdict(spec.expect, reply) : { status: 'L7RSP', desc: '' };
      },
      (s) => {
        // HAProxy's check mux (check-proto, or the server's proto h2 / ALPN).
        s.h2 = httpProto === 'h2' ? 'always' : httpProto;
        s.alpnOffer = alpn;
      },
    );
  },
};
