/**
 * Protection settings of frontends and backends → Model: stick tables (YAML
 * `stick_table` or a `stick-table` line), `tcp-request` rules (YAML `tcp_request`
 * or lines) and `rate-limit sessions`, with the checks HAProxy makes: a tracked or
 * fetched table exists, stick counters are sc0..sc2, a rule reads only what its
 * stage has. The builder (./build.ts) passes the lines it found in `options` and
 * parses conditions with the frontend's named ACLs.
 */
import type { Condition, Mode, StickTableDef, TcpRequestRule } from './model';
import type { FrontendInput } from './schema-frontend';
import type { NativeConfig } from './schema';
import type { StickTableInput, TcpRequestInput } from './schema-protection';
import type { Diagnostics, Seg, Where } from './source';
import type { Stage } from '../rules/context';
import { gpt0ValueErrors, parseRateLimit, parseStickTable, parseTcpRequest, type TcpRequestLine } from './stick-syntax';
import { stickRedisOf } from './stick-redis';
import { fetches, leadingFetch, readsPayload } from '../rules/fetches';
import { stickFetchTable } from '../stick/fetches';
import { didYouMean } from './suggest';

/** HAProxy lines of this area in an options list. */
export const PROTECTION_LINE = /^\s*(stick-table|tcp-request|rate-limit)\s/;

export interface ProtectionLine {
  text: string;
  where: Where;
}

/**
 * The tables a config declares (frontends' and backends' names), known before any
 * proxy is built. A table is named after its proxy: a frontend and a backend of the
 * same name cannot both declare one.
 */
export function declaredTables(cfg: NativeConfig, at: (segs: Seg[]) => Where, diag: Diagnostics): Set<string> {
  // `protection: public` declares the frontend's table too (presetLines).
  const declares = (p: { stick_table?: unknown; options?: string[]; protection?: unknown }) =>
    p.stick_table !== undefined || p.protection !== undefined || (p.options ?? []).some((o) => /^\s*stick-table\s/.test(o));
  const names = new Set((cfg.backends ?? []).filter(declares).map((b) => b.name));
  (cfg.frontends ?? []).forEach((f, i) => {
    if (!declares(f)) return;
    if (names.has(f.name)) diag.error(at(['frontends', i, 'name']), `frontend "${f.name}" and backend "${f.name}" both declare a stick-table: tables are named after their proxy, rename one`);
    names.add(f.name);
  });
  return names;
}

/** A proxy's stick table: the YAML key wins over a `stick-table` line. */
export function stickTableOf(name: string, input: string | StickTableInput | undefined, inputWhere: Where, lines: ProtectionLine[], diag: Diagnostics): StickTableDef | undefined {
  let text: string | undefined;
  let where = inputWhere;
  if (input !== undefined) text = typeof input === 'string' ? input : tableLine(input);
  else {
    const line = lines.find((l) => /^\s*stick-table\s/.test(l.text));
    if (!line) return undefined;
    text = line.text.replace(/^\s*stick-table\s+/, '');
    where = line.where;
  }
  const t = parseStickTable(text);
  if (t.error !== undefined) {
    diag.error(where, t.error);
    return undefined;
  }
  if (typeof input === 'object' && input.redis) {
    const redis = stickRedisOf(input.redis, t.value, { ...inputWhere, segs: [...inputWhere.segs, 'redis'] }, diag);
    if (redis) return { name, ...t.value, redis };
  }
  return { name, ...t.value };
}

/** The object form as the line it stands for. */
function tableLine(t: StickTableInput): string {
  let line = `type ${t.type ?? 'ip'}`;
  if (t.len !== undefined) line += ` len ${t.len}`;
  line += ` size ${t.size}`;
  if (t.expire !== undefined) line += ` expire ${t.expire}`;
  if (t.store?.length) line += ` store ${t.store.join(',')}`;
  if (t.peers !== undefined) line += ` peers ${t.peers}`;
  return line;
}

/** Where conditions of a proxy may find tables: every declared one, and its own (the default of src_* and track-sc). */
export interface TableScope {
  tables: ReadonlySet<string>;
  /** The proxy's own table; undefined for a backend (its rules default to the frontend's table at run time). */
  own: string | undefined;
  /** Whether fetches without a table name can be checked (frontends). */
  checkDefault: boolean;
}

/** The first stick-table reference in `cond` that cannot work, as a message. */
export function stickReferenceError(cond: Condition, scope: TableScope): string | undefined {
  switch (cond.kind) {
    case 'not':
      return stickReferenceError(cond.expr, scope);
    case 'and':
    case 'or':
      for (const t of cond.terms) {
        const err = stickReferenceError(t, scope);
        if (err) return err;
      }
      return undefined;
    case 'match': {
      const ref = stickFetchTable(cond.fetch, cond.args);
      if (!ref) return undefined;
      if (ref.form === 'sc' && !/^[0-2]$/.test(ref.counter)) return `${cond.fetch}: stick counter "${ref.counter}" must be 0, 1 or 2 (sc0..sc2)`;
      if (ref.table !== undefined) return scope.tables.has(ref.table) ? undefined : `${cond.fetch}: no stick-table "${ref.table}"${didYouMean(ref.table, scope.tables)}`;
      if (ref.form !== 'sc' && scope.checkDefault && scope.own === undefined) return `${cond.fetch} reads this frontend's stick-table, and it has none (add stick_table, or name a table: ${cond.fetch}(<table>))`;
      return undefined;
    }
    default:
      return undefined;
  }
}

export interface FrontendProtection {
  tcpRequest: TcpRequestRule[];
  rateLimitSessions?: number;
  /** From a `tcp-request inspect-delay` line. */
  inspectDelay?: number;
}

export interface FrontendProtectionInput {
  tcpRequest: TcpRequestInput[] | undefined;
  rateLimitSessions: number | undefined;
  mode: Mode;
  lines: ProtectionLine[];
  base: Seg[];
  scope: TableScope;
  at(segs: Seg[]): Where;
  diag: Diagnostics;
  /** Parses an if/unless condition at the connection stage with the frontend's named ACLs, reporting at `where`. */
  condition(text: string, where: Where): Condition | undefined;
  sourceRef: Diagnostics['sourceRef'];
}

const STAGES = ['connection', 'session', 'content'] as const;

/** A frontend's tcp-request rules (YAML ones, then lines, in order) and session rate limit. */
export function frontendProtection(p: FrontendProtectionInput): FrontendProtection {
  const out: FrontendProtection = { tcpRequest: [] };
  const rule = (line: TcpRequestLine, where: Where, condWhere: Where) => {
    if (line.kind === 'inspect-delay') {
      out.inspectDelay = line.ms;
      return;
    }
    const r = checkedRule(p, line, where, condWhere);
    if (r) out.tcpRequest.push(r);
  };
  (p.tcpRequest ?? []).forEach((r, i) => {
    const segs = [...p.base, 'tcp_request', i];
    const stages = STAGES.filter((s) => r[s] !== undefined);
    if (stages.length !== 1) {
      p.diag.error(p.at(segs), stages.length ? `a rule takes one of connection, session, content, found ${stages.join(', ')}` : 'a rule needs connection, session or content with its action');
      return;
    }
    if (r.if !== undefined && r.unless !== undefined) {
      p.diag.error(p.at(segs), 'a rule takes "if" or "unless", not both');
      return;
    }
    const key = r.if !== undefined ? 'if' : 'unless';
    const cond = r.if ?? r.unless;
    const parsed = parseTcpRequest(`${stages[0]} ${r[stages[0]]}${cond !== undefined ? ` ${key} ${cond}` : ''}`);
    if (parsed.error !== undefined) p.diag.error(p.at([...segs, stages[0]]), parsed.error);
    else rule(parsed.value, p.at([...segs, stages[0]]), p.at([...segs, key]));
  });
  for (const l of p.lines) {
    const kw = PROTECTION_LINE.exec(l.text)![1];
    const rest = l.text.replace(PROTECTION_LINE, '');
    if (kw === 'tcp-request') {
      const parsed = parseTcpRequest(rest);
      if (parsed.error !== undefined) p.diag.error(l.where, parsed.error);
      else rule(parsed.value, l.where, l.where);
    } else if (kw === 'rate-limit') {
      const parsed = parseRateLimit(rest);
      if (parsed.error !== undefined) p.diag.error(l.where, parsed.error);
      else out.rateLimitSessions ??= parsed.value;
    }
  }
  if (p.rateLimitSessions !== undefined) out.rateLimitSessions = p.rateLimitSessions;
  return out;
}

/**
 * Why a track-sc action (tcp-request or http-request) cannot work at `stage`: an
 * unknown fetch, one not valid there, wrong arguments, no table to track in.
 */
export function trackError(act: { counter: number; fetch: string; args: string[]; table: string }, stage: Stage, scope: TableScope): string | undefined {
  const def = fetches.get(act.fetch);
  const name = `track-sc${act.counter}`;
  if (!def) return `${name}: unknown fetch "${act.fetch}"${didYouMean(act.fetch, fetches.keys())}`;
  if (!def.stages.includes(stage)) return `${name}: ${act.fetch} is not available in ${stage === 'connection' ? 'tcp-request' : 'http-request'} rules (valid in: ${def.stages.join(', ')})`;
  if (act.args.length < def.minArgs || act.args.length > def.maxArgs) return `${name}: ${act.fetch} takes ${def.minArgs}..${def.maxArgs} arguments`;
  const table = act.table || scope.own;
  if (table === undefined) return `${name}: this ${scope.checkDefault ? 'frontend' : 'proxy'} has no stick-table (add stick_table, or "table <name>")`;
  if (!scope.tables.has(table)) return `${name}: no stick-table "${table}"${didYouMean(table, scope.tables)}`;
  return undefined;
}

/** A parsed rule with its condition, checked against its stage and the tables. */
function checkedRule(p: FrontendProtectionInput, line: Extract<TcpRequestLine, { kind: 'rule' }>, where: Where, condWhere: Where): TcpRequestRule | undefined {
  // Only a tcp frontend's content rules run after the ClientHello was read.
  const payloadOk = line.stage === 'content' && p.mode === 'tcp';
  const payloadError = (what: string) =>
    `${what} reads the client's first bytes: only tcp-request content rules of a tcp frontend can (here: tcp-request ${line.stage}${p.mode === 'http' ? ' in an http frontend' : ''})`;
  let ok = true;
  let condition: Condition | undefined;
  if (line.cond) {
    condition = p.condition(line.cond.text, condWhere);
    if (!condition) ok = false;
    else if (!payloadOk && readsPayload(condition)) {
      p.diag.error(condWhere, payloadError('this condition'));
      ok = false;
    } else {
      const err = stickReferenceError(condition, p.scope);
      if (err) {
        p.diag.error(condWhere, err);
        ok = false;
      }
    }
  }
  const act = line.act;
  if (act.action === 'track-sc') {
    const err = trackError(act, 'connection', p.scope) ?? (fetches.get(act.fetch)!.needsPayload && !payloadOk ? payloadError(act.fetch) : undefined);
    if (err) {
      p.diag.error(where, err);
      ok = false;
    } else act.table ||= p.scope.own!;
  } else if (act.action === 'sc-set-gpt0') {
    const errors = gpt0ValueErrors(act.value, 'connection');
    const fetch = leadingFetch(act.value);
    if (!errors.length && fetches.get(fetch)?.needsPayload && !payloadOk) errors.push(payloadError(fetch));
    for (const e of errors) p.diag.error(where, `sc-set-gpt0: ${e}`);
    if (errors.length) ok = false;
  }
  if (!ok) return undefined;
  const text = `tcp-request ${line.stage} ${line.actionText}${line.cond ? ` ${line.cond.key} ${line.cond.text}` : ''}`;
  const cond = condition && line.cond?.key === 'unless' ? ({ kind: 'not', expr: condition } as Condition) : condition;
  return { stage: line.stage, act, condition: cond, text, source: p.sourceRef(where) };
}

/**
 * `protection: public`, the preset for a public site, as the HAProxy lines it stands
 * for (added after the frontend's own options) and the settings it defaults (the
 * frontend's own max_body_size and timeouts.http_request win).
 */
export const PUBLIC_PRESET = { requestsPer10s: 200, connectionsPerAddress: 50, maxBodySize: '10m', httpRequestTimeout: '5s' };

export function presetLines(p: NonNullable<FrontendInput['protection']>): string[] {
  const rate = (typeof p === 'string' ? undefined : p.requests_per_10s) ?? PUBLIC_PRESET.requestsPer10s;
  const conns = (typeof p === 'string' ? undefined : p.connections_per_address) ?? PUBLIC_PRESET.connectionsPerAddress;
  return [
    'stick-table type ipv6 size 100k expire 30s store conn_cur,http_req_rate(10s)',
    'tcp-request connection track-sc0 src',
    `tcp-request connection reject if { sc_conn_cur(0) gt ${conns} }`,
    'http-request normalize-uri path-merge-slashes',
    'http-request normalize-uri path-strip-dotdot',
    'http-request normalize-uri percent-decode-unreserved',
    `http-request deny deny_status 429 if { sc_http_req_rate(0) gt ${rate} }`,
  ];
}

/**
 * `access: { allow, deny }` as the HAProxy lines it stands for: tcp-request connection
 * rules on the peer's address (before a PROXY header), a deny first. With
 * source_from_header (`forwarded`) the address is known once the request head is read:
 * they are http-request deny rules (403) on the source it gives.
 */
export function accessLines(a: NonNullable<FrontendInput['access']>, forwarded = false): string[] {
  const lines: string[] = [];
  const refuse = forwarded ? 'http-request deny' : 'tcp-request connection reject';
  if (a.deny) lines.push(`${refuse} if { src ${srcPatterns(a.deny)} }`);
  if (a.allow) lines.push(`${refuse} if !{ src ${srcPatterns(a.allow)} }`);
  return lines;
}

/**
 * A list's entries as `src` ACL words: files (`-f FILE`, or a path: `/…`, `./…`,
 * `../…`) as `-f` flags, which the ACL syntax wants before the inline networks.
 * One compiled lookup covers them all (src/rules/pattern-index.ts), a file's runtime
 * API edits (`add acl FILE …`) included, and a reload rereads the files.
 */
function srcPatterns(list: string[]): string {
  const files: string[] = [];
  const nets: string[] = [];
  for (const e of list) {
    const file = /^-f\s+(\S+)$/.exec(e)?.[1] ?? (/^\.{0,2}\//.test(e) ? e : undefined);
    if (file !== undefined) files.push(`-f ${file}`);
    else nets.push(e);
  }
  return [...files, ...nets].join(' ');
}
