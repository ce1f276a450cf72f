/**
 * Health checks, run by the primary for every server with `check` (and every
 * `agent-check`), with HAProxy's semantics: a health counter from 0 to
 * rise+fall-1, a server starting UP at `rise` (so one failure before the first
 * success marks it DOWN, HAProxy's default `init-state up`), DOWN after `fall`
 * consecutive failures, UP again after `rise` successes; `inter` when stable,
 * `fastinter` while in transition, `downinter` when down; the first checks
 * spread over one interval. State changes reach the workers at once through
 * `onChange`, are logged in HAProxy's words and may be mailed.
 *
 * Passive health (`observe`): a worker that saw `error-limit` consecutive errors
 * on a server's live traffic reports them (`observed`), and `on-error` acts on
 * the check state as HAProxy's health analysis does (check status HANA).
 */
import type { Logger } from 'pino';
import type { Backend, Model } from '../config/model';
import type { ServerStateUpdate } from '../ipc/messages';
import { checkKinds } from '../checks/registry';
import { serverContextOptions } from '../tls/client';
import {
  statusDescription,
  statusHasCode,
  statusPassed,
  type CheckContext,
  type CheckKind,
  type CheckResult,
  type CheckStatus,
  type CheckTarget,
} from '../checks/types';
import { AlertMailer, mailerSettings, type Severity } from './mailer';
import { ServerEntry, type Admin } from './server-entry';

export interface ServerHealth {
  backend: string;
  server: string;
  up: boolean;
  admin: Admin;
  weight: number;
  /** 'UP' | 'DOWN' | 'UP 1/3' | 'DOWN 1/2' | 'MAINT' | 'DRAIN' | 'DOWN (agent)' | 'no check' */
  status: string;
  /** L4OK L4CON L4TOUT L7OK L7STS L7TOUT L7RSP SOCKERR INI HANA …; '' when not checked. */
  checkStatus: string;
  checkCode?: number;
  checkDuration?: number;
  checkDesc: string;
  chkfail: number;
  chkdown: number;
  /** Times observed live-traffic errors reached `error-limit` (HAProxy's hanafail). */
  hanafail: number;
  /** ms timestamp of the last operational/administrative change. */
  lastchg: number;
  /** Total ms spent DOWN. */
  downtime: number;
  rise: number;
  fall: number;
  health: number;
  /** Effective maxconn (an agent may change it); 0 = unlimited. */
  maxconn: number;
  /** Effective address and port (the runtime API may change them). */
  address: string;
  port: number;
  /** Agent check status and info ('' without agent-check). */
  agentStatus: string;
  agentDesc: string;
  /** In maintenance because DNS gives it no address (HAProxy's RMAINT). */
  rmaint: boolean;
  /** The host name its address comes from ('' for none, or an SRV slot without a record). */
  fqdn: string;
}

/** Per-interval jitter, as a fraction, so checks started together drift apart. */
const JITTER = 0.05;

/** HAProxy's chunk_asciiencode: non-printables, '<', '>' and '"' as <XX>. */
function asciiEncode(text: string): string {
  let out = '';
  for (const ch of Buffer.from(text, 'utf8')) {
    out += ch < 32 || ch > 126 || ch === 0x3c || ch === 0x3e || ch === 0x22 ? `<${ch.toString(16).toUpperCase().padStart(2, '0')}>` : String.fromCharCode(ch);
  }
  return out;
}

/** ", reason: …, code: …, info: "…", check duration: Nms" (srv_append_status). */
function describeResult(status: CheckStatus, code: number | undefined, desc: string, duration: number | undefined): string {
  let s = `, reason: ${statusDescription(status)}`;
  if (statusHasCode(status)) s += `, code: ${code ?? 0}`;
  if (desc) s += `, info: "${asciiEncode(desc)}"`;
  if (duration !== undefined && duration >= 0) s += `, check duration: ${duration}ms`;
  return s;
}

export class HealthMonitor {
  private readonly entries: ServerEntry[] = [];
  private readonly byName = new Map<string, Map<string, ServerEntry>>();
  private readonly abort = new AbortController();
  private readonly mailer?: AlertMailer;
  private readonly logChecks = new Set<string>();
  private running = false;
  private sessions: (backend: string, server: string) => number = () => 0;

  constructor(
    readonly model: Model,
    private readonly log: Logger,
    private readonly onChange: (updates: ServerStateUpdate[]) => void,
  ) {
    const now = Date.now();
    // `option log-health-checks` on the backend, on a frontend that routes to it
    // (the seed puts it in a frontend's log settings).
    for (const f of model.frontends) {
      if (!f.log.logHealthChecks && !f.options.includes('log-health-checks')) continue;
      if (f.defaultBackend) this.logChecks.add(f.defaultBackend);
      for (const r of f.useBackend) this.logChecks.add(r.backend);
      for (const h of f.hostBackends) this.logChecks.add(h.backend);
    }
    for (const b of model.backends) {
      const names = new Map<string, ServerEntry>();
      this.byName.set(b.name, names);
      if (b.options.includes('log-health-checks')) this.logChecks.add(b.name);
      for (const s of b.servers) {
        const e = new ServerEntry(b, s, now);
        e.sent = JSON.stringify(e.update());
        this.entries.push(e);
        names.set(s.name, e);
      }
    }
    const settings = mailerSettings(model);
    if (settings) this.mailer = new AlertMailer(settings, log);
  }

  /** Where "N sessions active" in state-change messages comes from (the primary's counters). */
  setSessionSource(fn: (backend: string, server: string) => number): void {
    this.sessions = fn;
  }

  start(): void {
    if (this.running || this.abort.signal.aborted) return;
    this.running = true;
    for (const e of this.entries) {
      // Spread the first checks over one interval so they do not all fire at once.
      if (e.checked) this.schedule(e, Math.random() * e.server.check.inter);
      const agent = e.server.check.agent;
      if (agent) e.agentTimer = setTimeout(() => this.runAgent(e), Math.random() * agent.inter);
    }
  }

  stop(): void {
    this.running = false;
    for (const e of this.entries) {
      clearTimeout(e.timer);
      clearTimeout(e.agentTimer);
    }
    this.abort.abort();
    this.mailer?.close();
  }

  snapshot(): ServerStateUpdate[] {
    return this.entries.map((e) => e.update());
  }

  health(): ServerHealth[] {
    const now = Date.now();
    return this.entries.map((e) => ({
      backend: e.backend.name,
      server: e.server.name,
      up: e.up,
      admin: e.effectiveAdmin(),
      weight: e.weight,
      status: this.statusText(e),
      checkStatus: e.checkStatus,
      checkCode: e.checkCode,
      checkDuration: e.checkDuration,
      checkDesc: e.checkDesc,
      chkfail: e.chkfail,
      chkdown: e.chkdown,
      hanafail: e.hanafail,
      lastchg: e.lastchg,
      downtime: e.downtime + (e.up ? 0 : now - e.lastchg),
      rise: e.server.check.rise,
      fall: e.server.check.fall,
      health: e.health,
      maxconn: e.maxconn,
      address: e.address,
      port: e.port,
      agentStatus: e.agentStatus,
      agentDesc: e.agentDesc,
      rmaint: e.rmaint,
      fqdn: e.host,
    }));
  }

  setAdmin(backend: string, server: string, admin: Admin): 'ok' | 'No such backend.' | 'No such server.' {
    const found = this.find(backend, server);
    if (typeof found === 'string') return found;
    found.adminSet = true;
    this.changeAdmin(found, admin);
    return 'ok';
  }

  setWeight(backend: string, server: string, weight: number): 'ok' | 'No such backend.' | 'No such server.' {
    const found = this.find(backend, server);
    if (typeof found === 'string') return found;
    found.weight = weight;
    found.weightSet = true;
    this.publish(found);
    return 'ok';
  }

  setMaxconn(backend: string, server: string, maxconn: number): 'ok' | 'No such backend.' | 'No such server.' {
    const found = this.find(backend, server);
    if (typeof found === 'string') return found;
    found.maxconn = maxconn;
    found.maxconnSet = true;
    this.publish(found);
    return 'ok';
  }

  /** Move a server (`set server B/S addr IP [port P]`): traffic and checks follow. */
  setAddress(backend: string, server: string, address: string, port?: number): 'ok' | 'No such backend.' | 'No such server.' {
    const found = this.find(backend, server);
    if (typeof found === 'string') return found;
    found.address = address;
    if (port !== undefined) found.port = port;
    found.addressSet = true;
    this.publish(found);
    return 'ok';
  }

  /** The address ('' for none) and port workers have for a server. */
  addressOf(backend: string, server: string): { address: string; port: number } | undefined {
    const e = this.find(backend, server);
    return typeof e === 'string' ? undefined : { address: e.address, port: e.port };
  }

  /**
   * DNS (src/primary/resolvers.ts) gave the server an address and port ('' keeps it
   * without one: an SRV record may give the port first), or with `cause` took it away:
   * HAProxy's resolution maintenance, logged in its words.
   */
  resolution(backend: string, server: string, next: { address: string; port: number; host: string; cause?: string }): void {
    const e = this.find(backend, server);
    if (typeof e === 'string') return;
    Object.assign(e, { address: next.address, port: next.port, host: next.host, addressSet: true });
    const name = this.serverName(e);
    if (next.cause !== undefined && !e.rmaint) {
      const wasUsable = e.usable();
      e.rmaint = true;
      e.lastchg = Date.now();
      clearTimeout(e.timer);
      e.timer = undefined;
      if (e.admin !== 'maint') this.emit('alert', `${name} is going DOWN for maintenance (${next.cause})${this.tail(e, 'down')}`);
      if (wasUsable) this.checkEmpty(e.backend);
    } else if (next.cause === undefined && e.rmaint && next.address !== '') {
      e.rmaint = false;
      e.lastchg = Date.now();
      this.emit('notice', `Server ${backend}/${server} administratively READY thanks to valid DNS answer.`);
      if (e.admin === 'maint') this.emit('notice', `${name} ('${next.host}') resolves again but remains in maintenance.`);
      else {
        this.resume(e);
        this.emit('notice', `${name} ('${next.host}') is ${e.up ? 'UP' : 'DOWN'}/${e.admin === 'ready' ? 'READY' : 'DRAIN'} (resolves again).`);
      }
    }
    this.publish(e);
  }

  /**
   * A worker saw `errors` consecutive errors (its `error-limit`) on the server's
   * live traffic, the last one `last`. As HAProxy's health analysis: the next
   * check comes at fastinter, and `on-error` fail-check counts one failed check,
   * sudden-death leaves one check before DOWN (or fails the last one), mark-down
   * marks the server DOWN now. Checks bring it back as usual.
   */
  observed(backend: string, server: string, errors: number, last: string): void {
    const e = this.find(backend, server);
    if (typeof e === 'string') return;
    const observe = e.server.check.observe;
    if (!observe || !e.checked || !this.running || e.effectiveAdmin() === 'maint') return;
    const c = e.server.check;
    e.hanafail++;
    e.fastinterForced = true;
    const desc = `Detected ${errors} consecutive errors, last one was: ${last}`;
    if (observe.onError !== 'fastinter') {
      // The failed check below then leaves one more before DOWN (sudden-death) or is the fatal one (mark-down).
      if (observe.onError === 'sudden-death' && e.health > c.rise) e.health = c.rise + 1;
      else if (observe.onError === 'mark-down') e.health = c.rise;
      this.record(e, 'HANA', false, undefined, desc, undefined);
    }
    // Bring the next check forward to fastinter (a check in flight reschedules itself).
    if (e.timer && e.nextCheck - Date.now() > c.fastinter) {
      clearTimeout(e.timer);
      this.schedule(e, c.fastinter);
    }
  }

  /**
   * Carry state from the previous generation's monitor, by backend/server name:
   * check health and counters always, admin state / weight / maxconn when they
   * were set at run time. Call before snapshot() and start().
   */
  adopt(previous: HealthMonitor): void {
    for (const e of this.entries) {
      const old = previous.byName.get(e.backend.name)?.get(e.server.name);
      if (!old) continue;
      if (e.checked && old.checked) {
        e.health = Math.min(old.health >= old.server.check.rise ? e.max : old.health, e.max);
        e.checkStatus = old.checkStatus;
        e.checkCode = old.checkCode;
        e.checkDuration = old.checkDuration;
        e.checkDesc = old.checkDesc;
      }
      if (e.server.check.agent && old.server.check.agent) {
        e.agentDown = old.agentDown;
        e.agentStatus = old.agentStatus;
        e.agentDesc = old.agentDesc;
      }
      e.chkfail = old.chkfail;
      e.chkdown = old.chkdown;
      e.hanafail = old.hanafail;
      e.downtime = old.downtime;
      e.lastchg = old.lastchg;
      if (old.adminSet && !e.server.disabled) {
        e.admin = old.admin;
        e.adminSet = true;
      }
      if (old.weightSet) {
        e.weight = old.weight;
        e.weightSet = true;
      }
      if (old.maxconnSet) {
        e.maxconn = old.maxconn;
        e.maxconnSet = true;
      }
      // A DNS server's address comes from init-addr (`last` reads this monitor's).
      if (old.addressSet && !e.server.dns) {
        e.address = old.address;
        e.port = old.port;
        e.addressSet = true;
      }
      e.up = e.operational();
      if (!e.up && old.up) e.lastchg = Date.now();
      e.sent = JSON.stringify(e.update());
    }
  }

  // ------------------------------------------------------------ internals

  private find(backend: string, server: string): ServerEntry | 'No such backend.' | 'No such server.' {
    const names = this.byName.get(backend);
    if (!names) return 'No such backend.';
    return names.get(server) ?? 'No such server.';
  }

  private target(e: ServerEntry, port: number, host: string, tls: boolean, inter: number): CheckTarget {
    const t = e.backend.timeouts;
    return {
      host,
      port,
      tls,
      sni: e.server.check.sni ?? e.server.tls.sni,
      verify: e.server.tls.verify === 'required',
      context: serverContextOptions(e.server.tls),
      httpProto: e.server.check.proto,
      alpn: e.server.check.alpn ?? e.server.tls.alpn,
      // HAProxy: with `timeout check`, connect gets min(timeout connect, inter) and
      // the rest `timeout check`; without it, inter bounds the check.
      connectTimeout: t.check > 0 ? Math.min(t.connect > 0 ? t.connect : inter, inter) : inter,
      readTimeout: t.check > 0 ? t.check : inter,
    };
  }

  private async execute(kind: CheckKind, ctx: CheckContext): Promise<{ result: CheckResult; duration: number }> {
    const started = Date.now();
    let result: CheckResult;
    try {
      result = await kind.run(ctx);
    } catch (err) {
      result = { status: 'SOCKERR', desc: (err as Error).message };
    }
    return { result, duration: Date.now() - started };
  }

  private async runCheck(e: ServerEntry): Promise<void> {
    e.timer = undefined;
    if (!this.running || e.effectiveAdmin() === 'maint') return;
    const c = e.server.check;
    const kind = checkKinds.get(e.backend.healthCheck.kind) ?? checkKinds.get('tcp')!;
    const port = c.port ?? e.port;
    const ctx: CheckContext = {
      target: this.target(e, port, c.addr ?? e.address, c.ssl || (e.server.tls.enabled && c.port === undefined), c.inter),
      spec: e.backend.healthCheck,
      backend: e.backend,
      server: e.server,
      signal: this.abort.signal,
    };
    const { result, duration } = await this.execute(kind, ctx);
    // The server may have entered maintenance while the check ran.
    if (!this.running || e.effectiveAdmin() === 'maint') return;
    const passed = statusPassed(result.status);
    this.record(e, result.status, passed, result.code, result.desc, duration);
    if (passed && e.health === e.max) e.fastinterForced = false;
    // HAProxy's srv_getinter: inter when fully up, downinter when fully down, fastinter in between.
    const interval = e.health === e.max && !e.fastinterForced ? c.inter : e.health === 0 ? c.downinter || c.inter : c.fastinter || c.inter;
    this.schedule(e, interval * (1 + (Math.random() - 0.5) * JITTER));
  }

  private schedule(e: ServerEntry, ms: number): void {
    e.nextCheck = Date.now() + ms;
    e.timer = setTimeout(() => this.runCheck(e), ms);
  }

  /** One check result (or HANA, `duration` undefined): health counter, status, log line, state change. */
  private record(e: ServerEntry, status: CheckStatus, passed: boolean, code: number | undefined, desc: string, duration: number | undefined): void {
    const c = e.server.check;
    const previous = e.checkStatus;
    let report = false;
    if (!passed && e.health > 0) {
      e.chkfail++;
      e.health--;
      if (e.health < c.rise) e.health = 0;
      report = true;
    } else if (passed && e.health < e.max) {
      e.health++;
      if (e.health >= c.rise) e.health = e.max;
      report = true;
    }
    e.checkStatus = status;
    e.checkCode = code;
    e.checkDesc = desc;
    e.checkDuration = duration;
    const reason = describeResult(status, code, desc, duration);
    this.settle(e, reason);
    if (this.logChecks.has(e.backend.name) && (status !== previous || report)) {
      const state = e.up ? (e.weight ? 'UP' : 'DRAIN') : 'DOWN';
      const progress = e.up ? `${e.health - c.rise + 1}/${c.fall}` : `${e.health}/${c.rise}`;
      const who = `${e.server.backup ? 'backup ' : ''}server ${e.backend.name}/${e.server.name}`;
      this.log.info(`Health check for ${who} ${passed ? 'succeeded' : 'failed'}${reason}, status: ${progress} ${state}.`);
    }
  }

  private async runAgent(e: ServerEntry): Promise<void> {
    e.agentTimer = undefined;
    const agent = e.server.check.agent;
    if (!this.running || !agent) return;
    // Without an address (resolution maintenance) there is no agent to ask yet.
    if (e.rmaint) {
      e.agentTimer = setTimeout(() => this.runAgent(e), agent.inter);
      return;
    }
    const ctx: CheckContext = {
      target: this.target(e, agent.port, agent.addr ?? e.server.check.addr ?? e.address, false, agent.inter),
      spec: e.backend.healthCheck,
      backend: e.backend,
      server: e.server,
      signal: this.abort.signal,
    };
    const { result, duration } = await this.execute(checkKinds.get('agent')!, ctx);
    if (!this.running) return;
    e.agentStatus = result.status;
    e.agentDesc = result.desc;
    const reply = result.agent;
    // An unreachable agent changes nothing: it is a secondary check (HAProxy).
    if (reply) {
      if (reply.weightPercent !== undefined) {
        e.weight = Math.min(256, Math.round((e.server.weight * reply.weightPercent) / 100));
        e.weightSet = true;
      }
      if (reply.maxconn !== undefined) {
        e.maxconn = reply.maxconn;
        e.maxconnSet = true;
      }
      if (reply.state) e.agentDown = reply.state === 'down';
      if (reply.admin && reply.admin !== e.admin) {
        e.adminSet = true;
        this.changeAdmin(e, reply.admin);
      }
      this.settle(e, describeResult(result.status, result.code, result.desc, duration));
    }
    e.agentTimer = setTimeout(() => this.runAgent(e), agent.inter * (1 + (Math.random() - 0.5) * JITTER));
  }

  /** Apply the operational state implied by health/agent, log a change, tell workers. */
  private settle(e: ServerEntry, reason: string): void {
    const up = e.operational();
    if (up !== e.up && e.effectiveAdmin() !== 'maint') {
      const now = Date.now();
      if (!up) e.chkdown++;
      else e.downtime += now - e.lastchg;
      e.up = up;
      e.lastchg = now;
      this.logStateChange(e, reason);
    } else if (up !== e.up) {
      e.up = up;
    }
    this.publish(e);
  }

  private counts(b: Backend): { act: number; bck: number } {
    let act = 0;
    let bck = 0;
    for (const s of this.byName.get(b.name)!.values()) if (s.usable()) s.server.backup ? bck++ : act++;
    return { act, bck };
  }

  private serverName(e: ServerEntry): string {
    return `${e.server.backup ? 'Backup ' : ''}Server ${e.backend.name}/${e.server.name}`;
  }

  /** ". N active and M backup servers left|online.[ Running on backup.] …" */
  private tail(e: ServerEntry, going: 'down' | 'up'): string {
    const { act, bck } = this.counts(e.backend);
    const onBackup = bck && !act ? ' Running on backup.' : '';
    if (going === 'down') {
      const active = this.sessions(e.backend.name, e.server.name);
      return `. ${act} active and ${bck} backup servers left.${onBackup} ${active} sessions active, 0 requeued, 0 remaining in queue.`;
    }
    return `. ${act} active and ${bck} backup servers online.${onBackup} 0 sessions requeued, 0 total in queue.`;
  }

  private logStateChange(e: ServerEntry, reason: string): void {
    if (e.up) {
      this.emit('notice', `${this.serverName(e)} is UP${reason}${this.tail(e, 'up')}`);
    } else {
      this.emit('alert', `${this.serverName(e)} is DOWN${reason}${this.tail(e, 'down')}`);
      this.checkEmpty(e.backend);
    }
  }

  private checkEmpty(b: Backend): void {
    const { act, bck } = this.counts(b);
    if (act === 0 && bck === 0) this.emit('emerg', `backend ${b.name} has no server available!`);
  }

  private emit(severity: Severity, msg: string): void {
    if (severity === 'emerg') this.log.error(msg);
    else if (severity === 'alert') this.log.warn(msg);
    else this.log.info(msg);
    this.mailer?.alert(severity, msg);
  }

  private changeAdmin(e: ServerEntry, admin: Admin): void {
    const before = e.admin;
    if (before === admin) return;
    const wasUsable = e.usable();
    e.admin = admin;
    e.lastchg = Date.now();
    const name = this.serverName(e);
    if (admin === 'maint') {
      clearTimeout(e.timer);
      e.timer = undefined;
      // Already down for maintenance when DNS gives no address.
      if (e.rmaint) return this.publish(e);
      if (e.up) this.emit('notice', `${name} is going DOWN for maintenance${this.tail(e, 'down')}`);
      else this.emit('notice', `${name} was DOWN and now enters maintenance.`);
      if (wasUsable) this.checkEmpty(e.backend);
    } else if (before === 'maint' && e.rmaint) {
      this.emit('notice', `${name} is leaving forced maintenance but remains in maintenance.`);
    } else if (before === 'maint') {
      this.resume(e);
      this.emit('notice', `${name} is ${e.up ? 'UP' : 'DOWN'}/${admin === 'ready' ? 'READY' : 'DRAIN'} (leaving forced maintenance).`);
    } else if (admin === 'drain') {
      this.emit('notice', `${name} enters drain state${this.tail(e, 'down')}`);
      if (wasUsable) this.checkEmpty(e.backend);
    } else {
      this.emit('notice', `${name} is ${e.up ? 'UP' : 'DOWN'}/READY (leaving forced drain).`);
    }
    this.publish(e);
  }

  /** Leaving maintenance: UP at once, as at start, and checked again soon. */
  private resume(e: ServerEntry): void {
    if (!e.checked) return;
    e.health = e.server.check.rise;
    e.up = e.operational();
    if (this.running) this.schedule(e, Math.random() * Math.min(e.server.check.inter, 100));
  }

  /** Send the server's state to workers if it differs from what they have. */
  private publish(e: ServerEntry): void {
    const update = e.update();
    const key = JSON.stringify(update);
    if (key === e.sent) return;
    e.sent = key;
    this.onChange([update]);
  }

  private statusText(e: ServerEntry): string {
    if (e.rmaint) return 'MAINT (resolution)';
    if (e.admin === 'maint') return 'MAINT';
    if (e.agentDown && (!e.checked || e.health >= e.server.check.rise)) return 'DOWN (agent)';
    if (!e.checked && !e.server.check.agent) return e.admin === 'drain' ? 'DRAIN' : 'no check';
    const base = !e.up ? 'DOWN' : e.admin === 'drain' || e.weight === 0 ? 'DRAIN' : 'UP';
    const c = e.server.check;
    if (e.checked && e.up && e.health < e.max) return `${base} ${e.health - c.rise + 1}/${c.fall}`;
    if (e.checked && !e.up && e.health > 0) return `${base} ${e.health}/${c.rise}`;
    return base;
  }
}
