/**
 * http-request / http-response rules compiled once per frontend/backend runtime
 * (conditions through compileCondition), and the SampleContext over a parsed
 * request (and response) head: strings are made only when a rule asks.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { ForwardFor, HttpAction, HttpRule } from '../../config/model';
import type { BalanceKey } from '../../balance/balancer';
import { compileCondition, type CompiledCondition } from '../../rules/compile';
import { compileValueTemplate } from '../../rules/sample-expr';
import type { ClientCertificate, SampleContext, Stage } from '../../rules/context';
import type { HeadParser } from '../../http1/parser';
import type { ConnectionInfo } from '../connection';

export interface CompiledRule {
  act: HttpAction;
  test: CompiledCondition | undefined;
  /** Lower-case header name for header actions. */
  name: string;
  /** Header value for set-header/add-header: the text, or a function rendering its `%[…]` samples. */
  value: string | ((ctx: SampleContext) => string);
}

export interface CompiledRules {
  request: CompiledRule[];
  response: CompiledRule[];
}

export function compileHttpRules(rules: HttpRule[]): CompiledRules {
  const out: CompiledRules = { request: [], response: [] };
  for (const r of rules) {
    const stage: Stage = r.when;
    out[r.when].push({
      act: r.act,
      test: r.condition ? compileCondition(r.condition, stage) : undefined,
      name: 'name' in r.act ? r.act.name.toLowerCase() : '',
      // The loader reported any mistake in the value already.
      value: 'value' in r.act ? compileValueTemplate(r.act.value, stage, []) : '',
    });
  }
  return out;
}

const exceptLists = new WeakMap<ForwardFor, BlockList>();

/** `option forwardfor except`: true when this source gets no header. */
export function forwardForExcepted(ff: ForwardFor, src: string): boolean {
  if (!ff.except.length) return false;
  let list = exceptLists.get(ff);
  if (!list) {
    list = new BlockList();
    for (const e of ff.except) {
      const slash = e.indexOf('/');
      const addr = slash >= 0 ? e.slice(0, slash) : e;
      const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
      if (slash >= 0) list.addSubnet(addr, Number(e.slice(slash + 1)), family);
      else list.addAddress(addr, family);
    }
    exceptLists.set(ff, list);
  }
  return list.check(src, isIPv6(src) ? 'ipv6' : 'ipv4');
}

/** Split a header value on commas, trimming blanks, as HAProxy's hdr() does. */
function splitValues(v: string, out: string[]): void {
  for (const part of v.split(',')) {
    const t = part.trim();
    if (t) out.push(t);
  }
}

/** The sample context of one exchange (./exchange.ts), bound to its connection when taken. */
export class HttpSampleContext implements SampleContext {
  stage: Stage = 'request';
  src = '';
  srcPort = 0;
  dst = '';
  dstPort = 0;
  ssl = false;
  sni: string | undefined = undefined;
  clientCert: ClientCertificate | undefined = undefined;
  frontend = '';

  constructor(
    private readonly req: HeadParser,
    private readonly res: HeadParser,
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
    return this.req.versionMinor ? '1.1' : '1.0';
  }

  header(name: string): string | undefined {
    return lastValue(this.req, name.toLowerCase());
  }

  headerValues(name: string): string[] {
    return allValues(this.req, name.toLowerCase());
  }

  status(): number {
    return this.stage === 'response' ? this.res.status : 0;
  }

  responseHeader(name: string): string | undefined {
    return this.stage === 'response' ? lastValue(this.res, name.toLowerCase()) : undefined;
  }

  responseHeaderValues(name: string): string[] {
    return this.stage === 'response' ? allValues(this.res, name.toLowerCase()) : [];
  }
}

function lastValue(p: HeadParser, name: string): string | undefined {
  let found = -1;
  for (let i = p.find(name); i >= 0; i = p.find(name, i + 1)) found = i;
  return found >= 0 ? p.value(found) : undefined;
}

function allValues(p: HeadParser, name: string): string[] {
  const out: string[] = [];
  for (let i = p.find(name); i >= 0; i = p.find(name, i + 1)) splitValues(p.value(i), out);
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
  header(name: string): string | undefined {
    const v = this.ctx.headerValues(name);
    return v.length ? v[0] : undefined;
  }
}
