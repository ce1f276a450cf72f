/**
 * Error pages, as HAProxy's: `http-errors NAME` sections (`errorfile CODE FILE` inside,
 * YAML `http_errors: [{ name, errorfiles: { CODE: file } }]`), and in a proxy
 * `errorfile CODE FILE`, `errorloc[302|303] CODE URL`, `errorfiles NAME [CODE…]` and
 * `http-error status CODE [content-type T] [default-errorfiles | errorfile F |
 * errorfiles NAME | file F | lf-file F | string S | lf-string S] [hdr NAME VALUE]*` (YAML:
 * `errorfiles: { CODE: file }` and `http_error: [{ status, … }]`).
 *
 * Precedence is HAProxy's (src/http_htx.c proxy_finalize_http_errors): a proxy's
 * directives apply in order, the defaults' first, each replacing the page of its
 * status; `errorfiles NAME` imports what the section has (all of it, or the codes
 * listed); `default-errorfiles` forgets the proxy's page for the status. Here the YAML
 * keys come before the `options` lines. At run time the backend's page wins over the
 * frontend's, then the built-in one (src/http/modules/error-pages.ts).
 */
import { readFileSync } from 'node:fs';
import type { AnswerSpec, ErrorPage } from './model';
import type { ErrorReplyInput, HttpErrorsInput } from './schema-error-pages';
import type { Diagnostics, Seg, Where } from './source';
import { splitWords } from './haproxy-syntax';
import { compileValueTemplate } from '../rules/sample-expr';

/** The statuses HAProxy answers itself and accepts error pages for. */
const HANDLED = new Set([200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 425, 429, 431, 500, 501, 502, 503, 504]);

/** Error-page keywords of a proxy's options lines. */
export const ERROR_PAGE_LINE = /^\s*(errorfile|errorfiles|errorloc|errorloc302|errorloc303|http-error)\s/;

export interface ErrorPageLine {
  text: string;
  where: Where;
  segs: Seg[];
}

interface Env {
  at(segs: Seg[]): Where;
  diag: Diagnostics;
  /** A file's full path and text, relative paths from the config's directory; undefined (reported) when unreadable. */
  read(file: string, where: Where): { path: string; text: string } | undefined;
}

/** A section's error-page settings: YAML `errorfiles` and `http_error`, and its options lines. */
export interface ProxyErrorInput {
  base: Seg[];
  files: Record<string, string> | undefined;
  replies: ErrorReplyInput[] | undefined;
  lines: ErrorPageLine[];
}

/** One directive: set a status's page, forget it, or import a section's pages. */
type Directive = { status: number; page: ErrorPage | null } | { section: string; statuses: number[] | 'all'; where: Where };

export class ErrorPages {
  private readonly sections = new Map<string, Map<number, ErrorPage>>();

  constructor(private readonly env: Env) {}

  /** The top-level `http_errors` sections. */
  buildSections(list: HttpErrorsInput[]): void {
    list.forEach((s, si) => {
      const segs: Seg[] = ['http_errors', si];
      if (this.sections.has(s.name)) this.env.diag.error(this.env.at([...segs, 'name']), `http-errors section "${s.name}" is declared twice`);
      const pages = new Map<number, ErrorPage>();
      const files = s.errorfiles;
      if (Array.isArray(files)) {
        files.forEach((line, i) => {
          const w = splitWords(line);
          const where = [...segs, 'errorfiles', i];
          if (w.length !== 3 || w[0] !== 'errorfile') return void this.env.diag.error(this.env.at(where), 'expected "errorfile <code> <file>"');
          const status = this.status(w[1], where);
          const page = status ? this.errorfile(status, w[2], where) : undefined;
          if (status && page !== undefined) pages.set(status, page);
        });
      } else {
        for (const [code, file] of Object.entries(files)) {
          const where = [...segs, 'errorfiles', code];
          const status = this.status(code, where);
          const page = status ? this.errorfile(status, file, where) : undefined;
          if (status && page !== undefined) pages.set(status, page);
        }
      }
      this.sections.set(s.name, pages);
    });
  }

  /**
   * A proxy's pages by status: the defaults' (YAML, then lines), then the proxy's
   * YAML `errorfiles` map and `http_error` items, then its own lines, each replacing
   * what came before.
   */
  proxyPages(defaults: ProxyErrorInput, own: ProxyErrorInput): Record<string, ErrorPage> {
    const directives: Directive[] = [];
    for (const src of [defaults, own]) {
      for (const [code, file] of Object.entries(src.files ?? {})) {
        const segs = [...src.base, 'errorfiles', code];
        const page = this.errorfile(Number(code), file, segs);
        if (page !== undefined) directives.push({ status: Number(code), page });
      }
      (src.replies ?? []).forEach((r, i) => this.yamlReply(r, [...src.base, 'http_error', i], directives));
      for (const l of src.lines) this.line(l, directives);
    }
    const out: Record<string, ErrorPage> = {};
    for (const d of directives) {
      if ('status' in d) {
        if (d.page === null) delete out[d.status];
        else out[d.status] = d.page;
        continue;
      }
      const section = this.sections.get(d.section);
      if (!section) {
        this.env.diag.error(d.where, `unknown http-errors section "${d.section}"`);
        continue;
      }
      for (const status of d.statuses === 'all' ? section.keys() : d.statuses) {
        const page = section.get(status);
        if (page !== undefined) out[status] = page;
        else if (d.statuses !== 'all') this.env.diag.warn(d.where, `status ${status} is not declared in http-errors section "${d.section}"`);
      }
    }
    return out;
  }

  /**
   * A deny/return answer naming `errorfiles NAME`: the section's page for its status in
   * `answer.page`; without one, the proxy's page (HAProxy's fallback).
   */
  resolveAnswerPage(status: number, answer: AnswerSpec, where: Where, fieldWhere: (field: string) => Where): void {
    this.readBodyFiles(answer, fieldWhere);
    if (answer.errorfiles === undefined) return;
    const section = this.sections.get(answer.errorfiles);
    if (!section) return void this.env.diag.error(where, `unknown http-errors section "${answer.errorfiles}"`);
    const page = section.get(status);
    if (page !== undefined) answer.page = page;
    else answer.defaultErrorfiles = true;
  }

  /**
   * Reads an answer's `file` and `lf-file` now, as HAProxy does (relative paths from the
   * config's directory): a missing file is a config error, as is a mistake in the
   * lf-file's log-format; both become full paths. False when one was reported.
   */
  private readBodyFiles(answer: AnswerSpec, fieldWhere: (field: string) => Where): boolean {
    let ok = true;
    if (answer.file !== undefined) {
      const found = this.env.read(answer.file, fieldWhere('file'));
      if (found) answer.file = found.path;
      else ok = false;
    }
    if (answer.lfFile !== undefined) {
      const where = fieldWhere('lf_file');
      const found = this.env.read(answer.lfFile, where);
      if (found) {
        answer.lfFile = found.path;
        const errors: string[] = [];
        compileValueTemplate(found.text, 'request', errors);
        for (const e of errors) this.env.diag.error(where, `lf-file ${found.path}: ${e}`);
        ok &&= errors.length === 0;
      } else ok = false;
    }
    return ok;
  }

  private status(code: string | number, segs: Seg[]): number {
    const n = Number(code);
    if (!/^\d{3}$/.test(String(code)) || !HANDLED.has(n)) {
      this.env.diag.error(this.env.at(segs), `status code "${code}" not handled: tslb answers ${[...HANDLED].join(', ')} itself`);
      return 0;
    }
    return n;
  }

  /** An errorfile's message: a raw HTTP/1 response ('' closes without one). */
  private errorfile(status: number, file: string, segs: Seg[]): ErrorPage | undefined {
    const found = this.env.read(file, this.env.at(segs));
    if (found === undefined) return undefined;
    // Its bytes as they are (latin1 keeps each byte one character).
    const text = readFileSync(found.path, 'latin1');
    if (text !== '' && !/^HTTP\/1\.[01] \d{3}/.test(text)) {
      this.env.diag.error(this.env.at(segs), `${file}: an errorfile is a raw HTTP response starting with "HTTP/1.x ${status}"`);
      return undefined;
    }
    return text;
  }

  private line(l: ErrorPageLine, out: Directive[]): void {
    const w = splitWords(l.text);
    const fail = (msg: string): void => this.env.diag.error(l.where, `${w[0]}: ${msg}`);
    switch (w[0]) {
      case 'errorfile': {
        if (w.length !== 3) return fail('expects <code> <file>');
        const status = this.status(w[1], l.segs);
        const page = status ? this.errorfile(status, w[2], l.segs) : undefined;
        if (status && page !== undefined) out.push({ status, page });
        return;
      }
      case 'errorloc':
      case 'errorloc302':
      case 'errorloc303': {
        if (w.length !== 3) return fail('expects <code> <url>');
        const status = this.status(w[1], l.segs);
        const head = w[0] === 'errorloc303' ? 'HTTP/1.1 303 See Other' : 'HTTP/1.1 302 Found';
        if (status) out.push({ status, page: `${head}\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: ${w[2]}\r\n\r\n` });
        return;
      }
      case 'errorfiles': {
        if (w.length < 2) return fail('expects <name> [<code> ...]');
        const statuses = w.slice(2).map((c) => this.status(c, l.segs));
        if (statuses.includes(0)) return;
        out.push({ section: w[1], statuses: statuses.length ? statuses : 'all', where: l.where });
        return;
      }
      case 'http-error':
        return this.httpError(w.slice(1), l, out);
    }
  }

  /** `http-error status N …` as HAProxy parses it (http_parse_http_reply). */
  private httpError(w: string[], l: ErrorPageLine, out: Directive[]): void {
    const fail = (msg: string): void => this.env.diag.error(l.where, `http-error: ${msg}`);
    const r: ErrorReplyInput = { status: 0 };
    const headers: Record<string, string> = {};
    for (let i = 0; i < w.length; i++) {
      const k = w[i];
      if (k === 'default-errorfiles') {
        r.default_errorfiles = true;
        continue;
      }
      const v = w[++i];
      if (v === undefined) return fail(`"${k}" expects a value`);
      if (k === 'status') r.status = Number(v);
      else if (k === 'content-type') r.content_type = v;
      else if (k === 'string' || k === 'file' || k === 'errorfile' || k === 'errorfiles') r[k] = v;
      else if (k === 'lf-string') r.lf_string = v;
      else if (k === 'lf-file') r.lf_file = v;
      else if (k === 'hdr') {
        const value = w[++i];
        if (value === undefined) return fail('hdr expects a name and a value');
        headers[v] = value;
      } else return fail(`unknown keyword "${k}" (expected status, content-type, default-errorfiles, errorfile, errorfiles, file, lf-file, string, lf-string, hdr)`);
    }
    if (!r.status) return fail('expects at least status <code>');
    if (Object.keys(headers).length) r.headers = headers;
    this.reply(r, l.segs, l.where, out);
  }

  private yamlReply(r: ErrorReplyInput, segs: Seg[], out: Directive[]): void {
    const where = this.env.at(segs);
    if (r.status === undefined) {
      // `{ errorfiles: NAME }` alone imports the whole section (HAProxy's `errorfiles NAME`).
      if (r.errorfiles === undefined) return void this.env.diag.error(where, 'http_error: status is required (or errorfiles alone, to import a whole http-errors section)');
      out.push({ section: r.errorfiles, statuses: 'all', where });
      return;
    }
    this.reply(r, segs, where, out);
  }

  /** One http-error: a status and where its page comes from. */
  private reply(r: ErrorReplyInput, segs: Seg[], where: Where, out: Directive[]): void {
    const status = this.status(r.status!, segs);
    if (!status) return;
    const sources = (['default_errorfiles', 'errorfile', 'errorfiles', 'file', 'lf_file', 'string', 'lf_string'] as const).filter((k) => r[k] !== undefined && r[k] !== false);
    if (sources.length > 1) return void this.env.diag.error(where, `http-error: takes one of default-errorfiles, errorfile, errorfiles, file, lf-file, string, lf-string (got ${sources.join(', ')})`);
    const source = sources[0];
    if (source === 'default_errorfiles') return void out.push({ status, page: null });
    if (source === 'errorfiles') return void out.push({ section: r.errorfiles!, statuses: [status], where });
    if (source === 'errorfile') {
      const page = this.errorfile(status, r.errorfile!, segs);
      if (page !== undefined) out.push({ status, page });
      return;
    }
    if (source !== undefined && r.content_type === undefined) return void this.env.diag.error(where, 'http-error: a body needs its content-type');
    const answer: AnswerSpec = { headers: Object.entries(r.headers ?? {}).map(([name, value]) => ({ name, value })) };
    if (r.content_type !== undefined && source !== undefined) answer.contentType = r.content_type;
    if (r.string !== undefined) answer.string = r.string;
    if (r.lf_string !== undefined) answer.lfString = r.lf_string;
    if (r.file !== undefined) answer.file = r.file;
    if (r.lf_file !== undefined) answer.lfFile = r.lf_file;
    if (this.readBodyFiles(answer, () => where)) out.push({ status, page: { status, answer } });
  }
}
