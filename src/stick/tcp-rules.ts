/**
 * `tcp-request connection|session|content` rules at run time, compiled once per
 * frontend. A rule set runs in order: `accept` ends it and lets the connection on,
 * `reject` closes the connection, `silent-drop` resets it without a FIN (HAProxy also
 * keeps the RST from reaching the client, which Node cannot), `track-scN` starts
 * tracking a key in a table, `sc-inc-gpc0(N)` counts in the tracked entry,
 * `sc-set-gpt0(N) <int|expr>` sets its gpt0. The
 * listeners (src/worker/listeners.ts) and the tcp path (src/worker/tcp.ts) call `admit`
 * at each stage.
 */
import type * as net from 'node:net';
import type { TcpRequestRule } from '../config/model';
import { compileCondition, type CompiledCondition } from '../rules/compile';
import type { SampleContext } from '../rules/context';
import { fetches, type FetchDefinition } from '../rules/fetches';
import { parseSampleExpr, type SampleExpr } from '../rules/sample-expr';
import { stickTable, Trackers, type WorkerTable } from './worker';

const ACCEPT = 0;
const REJECT = 1;
const DROP = 2;
const TRACK = 3;
const INC_GPC0 = 4;
const SET_GPT0 = 5;

interface CompiledRule {
  test: CompiledCondition | undefined;
  kind: number;
  counter: number;
  table: WorkerTable | undefined;
  fetch: FetchDefinition['fetch'] | undefined;
  args: string[];
  gpt0: Gpt0Value | undefined;
}

export interface TcpRuleSets {
  connection: CompiledRule[] | undefined;
  session: CompiledRule[] | undefined;
  content: CompiledRule[] | undefined;
}

/** What a connection's trackers hang on (ConnectionInfo). */
export interface TrackerHolder {
  trackers?: Trackers;
}

/** A frontend's rules by stage, or undefined when it has none. */
export function compileTcpRules(rules: TcpRequestRule[] | undefined): TcpRuleSets | undefined {
  if (!rules?.length) return undefined;
  const stage = (s: TcpRequestRule['stage']) => {
    const list = rules.filter((r) => r.stage === s).map(compileRule);
    return list.length ? list : undefined;
  };
  return { connection: stage('connection'), session: stage('session'), content: stage('content') };
}

function compileRule(r: TcpRequestRule): CompiledRule {
  const out: CompiledRule = { test: r.condition ? compileCondition(r.condition, 'connection') : undefined, kind: ACCEPT, counter: 0, table: undefined, fetch: undefined, args: [], gpt0: undefined };
  const act = r.act;
  switch (act.action) {
    case 'accept':
      break;
    case 'reject':
      out.kind = REJECT;
      break;
    case 'silent-drop':
      out.kind = DROP;
      break;
    case 'track-sc':
      out.kind = TRACK;
      out.counter = act.counter;
      out.table = stickTable(act.table);
      out.fetch = fetches.get(act.fetch)!.fetch;
      out.args = act.args;
      break;
    case 'sc-inc-gpc0':
      out.kind = INC_GPC0;
      out.counter = act.counter;
      break;
    case 'sc-set-gpt0':
      out.kind = SET_GPT0;
      out.counter = act.counter;
      out.gpt0 = compileGpt0Value(act.value);
      break;
  }
  return out;
}

/**
 * Runs a stage's rules on the connection: true when it goes on; false when a rule
 * closed it (reject) or reset it (silent-drop).
 */
export function admit(rules: CompiledRule[], ctx: SampleContext, holder: TrackerHolder, socket: net.Socket): boolean {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.test !== undefined && !r.test(ctx)) continue;
    switch (r.kind) {
      case ACCEPT:
        return true;
      case REJECT:
        socket.destroy();
        return false;
      case DROP:
        socket.resetAndDestroy();
        return false;
      case TRACK: {
        const key = r.table!.key(r.fetch!(ctx, r.args));
        if (key !== undefined) trackersOf(holder, socket).track(r.counter, r.table!, key);
        break;
      }
      case INC_GPC0:
        holder.trackers?.incGpc0(r.counter);
        break;
      case SET_GPT0:
        if (holder.trackers !== undefined) setGpt0(holder.trackers, r.counter, r.gpt0!, ctx);
        break;
    }
  }
  return true;
}

/** sc-set-gpt0's value: a fixed integer, or a sample expression read per use. */
export interface Gpt0Value {
  fixed: number;
  expr: SampleExpr | undefined;
}

export function compileGpt0Value(value: string): Gpt0Value {
  const fixed = /^\d+$/.test(value) ? Number(value) : -1;
  // The loader reported any mistake in the expression already.
  return { fixed, expr: fixed < 0 ? parseSampleExpr(value, [])! : undefined };
}

/** gpt0 of counter `n` becomes the value; an expression's counts when it is a non-negative integer below 2^32. */
export function setGpt0(trackers: Trackers, n: number, value: Gpt0Value, ctx: SampleContext): void {
  let v = value.fixed;
  if (value.expr !== undefined) {
    const s = value.expr.evaluate(ctx);
    const num = Number(Array.isArray(s) ? s[s.length - 1] : s);
    if (Number.isInteger(num) && num >= 0 && num <= 0xffffffff) v = num;
  }
  if (v >= 0) trackers.setGpt0(n, v);
}

interface TrackingSocket extends net.Socket {
  trackers?: Trackers;
}

/**
 * The connection's trackers, made on its first track and released when `socket`
 * (the client's TCP socket) closes. For the L7 pipeline's `http-request track-sc`
 * too (holder: the connection's ConnectionInfo).
 */
export function trackersOf(holder: TrackerHolder, socket: net.Socket): Trackers {
  let t = holder.trackers;
  if (!t) {
    t = holder.trackers = new Trackers();
    (socket as TrackingSocket).trackers = t;
    // 'close' comes once; a shared listener, no closure per connection.
    socket.on('close', releaseTrackers);
  }
  return t;
}

function releaseTrackers(this: TrackingSocket): void {
  this.trackers!.release();
}
