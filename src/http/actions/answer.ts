/**
 * return, deny and tarpit: tslb answers instead of the server (tarpit after holding
 * the request for `timeout tarpit`). `return` sends its own
 * message (status 200 by default, a `string`, `lf-string`, `file` or `lf-file` body with its
 * content-type, `hdr` lines); deny sends the error page of its status (`PR` in the
 * log) unless it has a body of its own, as return's. A response deny replaces the
 * response by a 502 whatever the rule's status, as HAProxy does (`PH`).
 */
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { AnswerSpec, HttpAction } from '../../config/model';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { HttpExchange } from '../exchange';
import type { RuleAction } from './index';

type Act<K extends HttpAction['action']> = Extract<HttpAction, { action: K }>;

type Rendered = string | ((ctx: HttpExchange['ctx']) => string);

function render(r: Rendered, ex: HttpExchange): string {
  return typeof r === 'string' ? r : r(ex.ctx);
}

/** A message tslb answers with, for this request, saying `Connection: close` when `close`. */
export type MessageFn = (ex: HttpExchange, close: boolean) => Buffer;

/** The message of an answer spec; built per request only when a part of it has `%[…]` samples. */
export function compileMessage(status: number, spec: AnswerSpec): MessageFn {
  // Files were read and checked by the loader; latin1 keeps an lf-file's bytes one character each.
  const logFormat = spec.lfFile !== undefined ? readFileSync(spec.lfFile, 'latin1') : spec.lfString;
  const body: Rendered | Buffer =
    spec.file !== undefined ? readFileSync(spec.file) : logFormat !== undefined ? compileValueTemplate(logFormat, 'request', [], true) : (spec.string ?? '');
  const headers = spec.headers.map((h) => ({ name: h.name, value: compileValueTemplate(h.value, 'request', []) }));
  const statusLine = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  const typeLine = spec.contentType !== undefined ? `content-type: ${spec.contentType}\r\n` : '';
  const build = (bytes: Buffer, extra: string, close: boolean, isHead: boolean): Buffer => {
    const head = `${statusLine}${typeLine}content-length: ${bytes.length}\r\n${extra}${close ? 'connection: close\r\n' : ''}\r\n`;
    return isHead ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
  };
  const fixedBody = typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.isBuffer(body) ? body : undefined;
  if (fixedBody && headers.every((h) => typeof h.value === 'string')) {
    const extra = headers.map((h) => `${h.name}: ${h.value as string}\r\n`).join('');
    // Every form a request may need, built once.
    const forms = [build(fixedBody, extra, false, false), build(fixedBody, extra, true, false), build(fixedBody, extra, false, true), build(fixedBody, extra, true, true)];
    return (ex, close) => forms[(close ? 1 : 0) + (ex.isHead ? 2 : 0)];
  }
  return (ex, close) => {
    const bytes = fixedBody ?? Buffer.from(render(body as Rendered, ex), 'latin1');
    const extra = headers.map((h) => `${h.name}: ${render(h.value, ex).replace(/[\r\n\0]/g, '')}\r\n`).join('');
    return build(bytes, extra, close, ex.isHead);
  };
}

/** A raw message (an errorfile's bytes) as it is, and a close after it (its framing is unknown). */
function rawAnswer(status: number, raw: Buffer, term: string): RuleAction {
  return (ex) => ex.answerWith(status, raw, true, term);
}

/** The answer of `errorfile F` or of a section's page (`errorfiles NAME`, resolved by the loader); undefined for others. */
function pageAnswer(status: number, spec: AnswerSpec | undefined, term: string): RuleAction | undefined {
  if (spec?.errorfile !== undefined) return rawAnswer(status, readFileSync(spec.errorfile), term);
  const page = spec?.page;
  if (page === undefined) return undefined;
  if (typeof page === 'string') return rawAnswer(status, Buffer.from(page, 'latin1'), term);
  const message = compileMessage(page.status, page.answer);
  return (ex) => ex.answerWith(status, message(ex, true), true, term);
}

export function returnAction(a: Act<'return'>): RuleAction {
  const status = a.status;
  const page = pageAnswer(status, a.answer, 'LR');
  if (page) return page;
  if (a.answer.defaultErrorfiles) return (ex) => ex.answer(status, false, 'LR');
  const message = compileMessage(a.status, a.answer);
  return (ex) => {
    const close = ex.localCloses();
    return ex.answerWith(status, message(ex, close), close, 'LR');
  };
}

/** tarpit: held for the proxy's `timeout tarpit`, then its status (500 unless deny_status) and a close, `PT` in the log. */
export function tarpitAction(a: Act<'tarpit'>): RuleAction {
  const status = a.status;
  return (ex) => {
    ex.fe.counters.deniedReq++;
    if (ex.backend) ex.backend.counters.deniedReq++;
    return ex.tarpit((ex.backend ? ex.backend.config : ex.fe.config).timeouts.tarpit, status);
  };
}

export function denyAction(a: Act<'deny'>, response: boolean): RuleAction {
  if (response) {
    return (ex) => {
      ex.fe.counters.deniedResp++;
      ex.backend!.counters.deniedResp++;
      return ex.answer(502, true, 'PH');
    };
  }
  const status = a.status;
  const page = pageAnswer(status, a.answer, 'PR');
  const message = a.answer && !a.answer.defaultErrorfiles && !page ? compileMessage(status, a.answer) : undefined;
  return (ex) => {
    ex.fe.counters.deniedReq++;
    if (ex.backend) ex.backend.counters.deniedReq++;
    if (page) return page(ex);
    if (!message) return ex.answer(status, true, 'PR');
    const close = ex.localCloses();
    return ex.answerWith(status, message(ex, close), close, 'PR');
  };
}
