/**
 * What ACL fetches, converters, balancers and log formats read of an exchange: the
 * SampleContext (src/rules/context.ts) over its request (and response) head and its
 * connection. Strings are made only when a fetch asks.
 */
import { httpAuth } from '../auth/userlists';
import type { BalanceKey } from '../balance/balancer';
import type { ClientCertificate, SampleContext, Stage } from '../rules/context';
import type { RequestBodyBuffer } from './request-body';
import type { Trackers } from '../stick/worker';
import type { ConnectionInfo } from '../worker/connection';
import { type AddedNames, addedValues, lastAdded, nameBits } from './added-lines';
import type { HeadTable } from './head';

/** The header lines rules added to each message so far (the exchange's): fetches see them as headers. */
export interface AddedLines {
  readonly reqExtras: string;
  readonly resExtras: string;
  readonly reqAddedNames: AddedNames;
  readonly resAddedNames: AddedNames;
}

/**
 * Split a header value on commas, trimming blanks, as HAProxy's hdr() does (its
 * http_find_header): empty values count, so an empty header is found (`-m found`).
 */
function splitValues(v: string, out: string[]): void {
  for (const part of v.split(',')) out.push(part.trim());
}

/** The sample context of one exchange (./exchange.ts), bound to its connection when taken. */
export class HttpSampleContext implements SampleContext {
  stage: Stage = 'request';
  logging = false;
  src = '';
  srcPort = 0;
  dst = '';
  dstPort = 0;
  ssl = false;
  sni: string | undefined = undefined;
  clientCert: ClientCertificate | undefined = undefined;
  frontend = '';
  /** `txn.`/`req.`/`res.` variables of this exchange (made by the first set-var, emptied by each exchange). */
  vars: Map<string, string | number | boolean> | undefined = undefined;
  private info: ConnectionInfo | undefined = undefined;
  /** The request came on an HTTP/2 stream (its head was turned into HTTP/1.1 for the server). */
  http2 = false;
  /** The body buffered for this request's rules (set by the exchange when a wait starts). */
  body: RequestBodyBuffer | undefined = undefined;

  constructor(
    private readonly req: HeadTable,
    private readonly res: HeadTable,
    private readonly added: AddedLines,
  ) {}

  bind(info: ConnectionInfo, frontend: string): void {
    this.src = info.src;
    this.srcPort = info.srcPort;
    this.dst = info.dst;
    this.dstPort = info.dstPort;
    this.ssl = info.ssl;
    this.sni = info.sni;
    this.clientCert = info.clientCert;
    this.frontend = frontend;
    this.info = info;
    this.http2 = false;
  }

  /** The exchange went back to the pool: let go of its connection. */
  unbind(): void {
    this.stage = 'request';
    this.info = undefined;
  }

  /** The connection's stick counters: its tcp-request rules' and those http-request track-sc started. */
  get trackers(): Trackers | undefined {
    return this.info?.trackers;
  }

  variable(name: string): string | number | boolean | undefined {
    return (name.startsWith('sess.') ? this.info?.sessVars : this.vars)?.get(name);
  }

  httpAuth(list: string): boolean {
    return httpAuth(list, this.header('authorization'));
  }

  setVariable(name: string, value: string | number | boolean | undefined): void {
    const sess = name.startsWith('sess.');
    let vars = sess ? this.info?.sessVars : this.vars;
    if (value === undefined) {
      vars?.delete(name);
      return;
    }
    if (!vars) {
      vars = new Map();
      if (sess) this.info!.sessVars = vars;
      else this.vars = vars;
    }
    vars.set(name, value);
  }

  receivedRequestLine(): string | undefined {
    return this.req.receivedLine;
  }

  method(): string {
    return this.req.buf.toString('latin1', this.req.start, this.req.methodEnd);
  }

  url(): string {
    return this.req.buf.toString('latin1', this.req.targetStart, this.req.targetEnd);
  }

  /** Origin-form part of the target (absolute-form loses scheme and authority). */
  private originStart(): number {
    const b = this.req.buf;
    let s = this.req.targetStart;
    const e = this.req.targetEnd;
    if (b[s] !== 47 /* / */) {
      const scheme = b.indexOf('://', s, 'latin1');
      if (scheme < 0 || scheme >= e) return s;
      s = scheme + 3;
      while (s < e && b[s] !== 47 && b[s] !== 63) s++;
    }
    return s;
  }

  /** path and query as they go in a redirect (`/` for an absolute-form target without path). */
  pathAndQuery(): string {
    const s = this.originStart();
    const q = this.req.buf.toString('latin1', s, this.req.targetEnd);
    return q.startsWith('/') ? q : '/' + q;
  }

  path(): string {
    const b = this.req.buf;
    const s = this.originStart();
    let e = s;
    while (e < this.req.targetEnd && b[e] !== 63 /* ? */) e++;
    return b.toString('latin1', s, e);
  }

  query(): string {
    const b = this.req.buf;
    const q = b.indexOf(63, this.req.targetStart);
    return q < 0 || q >= this.req.targetEnd ? '' : b.toString('latin1', q + 1, this.req.targetEnd);
  }

  version(): string {
    if (this.http2) return '2.0';
    return this.req.versionMinor ? '1.1' : '1.0';
  }

  header(name: string): string | undefined {
    return lastValue(this.req, name.toLowerCase(), this.added.reqExtras, this.added.reqAddedNames);
  }

  headerValues(name: string): string[] {
    return allValues(this.req, name.toLowerCase(), this.added.reqExtras, this.added.reqAddedNames);
  }

  status(): number {
    return this.stage === 'response' ? this.res.status : 0;
  }

  responseHeader(name: string): string | undefined {
    return this.stage === 'response' ? lastValue(this.res, name.toLowerCase(), this.added.resExtras, this.added.resAddedNames) : undefined;
  }

  responseHeaderValues(name: string): string[] {
    return this.stage === 'response' ? allValues(this.res, name.toLowerCase(), this.added.resExtras, this.added.resAddedNames) : [];
  }
}

/**
 * The last value of a header as rules left it: the last line rules added with that
 * name, else the last of the head's own that no rule removed.
 */
function lastValue(p: HeadTable, name: string, added: string, names: AddedNames): string | undefined {
  if (added !== '' && names.mayHave(added, nameBits(name))) {
    const v = lastAdded(added, name);
    if (v !== undefined) return v;
  }
  let found = -1;
  for (let i = p.findKept(name); i >= 0; i = p.findKept(name, i + 1)) found = i;
  return found >= 0 ? p.value(found) : undefined;
}

/** Every value of a header as rules left it: the head's own kept lines, then the added ones. */
function allValues(p: HeadTable, name: string, added: string, names: AddedNames): string[] {
  const out: string[] = [];
  for (let i = p.findKept(name); i >= 0; i = p.findKept(name, i + 1)) splitValues(p.value(i), out);
  if (added === '' || !names.mayHave(added, nameBits(name))) return out;
  const lines: string[] = [];
  addedValues(added, name, lines);
  for (let i = 0; i < lines.length; i++) splitValues(lines[i], out);
  return out;
}

/** The balancer's view of the current request; fields computed on access. */
export class HttpBalanceKey implements BalanceKey {
  constructor(private readonly ctx: HttpSampleContext) {}
  get src(): string {
    return this.ctx.src;
  }
  get path(): string {
    return this.ctx.path();
  }
  get uri(): string {
    return this.ctx.url();
  }
  /** The header's first value; undefined when absent or empty (HAProxy's `balance hdr` then round-robins). */
  header(name: string): string | undefined {
    const v = this.ctx.headerValues(name);
    return v.length && v[0] !== '' ? v[0] : undefined;
  }
}
