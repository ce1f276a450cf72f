/**
 * Run-time DNS resolution of servers, in the primary, with HAProxy's semantics
 * (configuration.txt 5.3, src/resolvers.c):
 *
 * - every `timeout resolve` each name is asked of all the section's nameservers at once
 *   (one Node resolver each, so the answer names its nameserver); the first valid answer
 *   wins, and when all fail the last error counts. A failed A (AAAA) query is asked again
 *   as AAAA (A), and the whole is tried `resolve_retries` times, `timeout retry` apart;
 * - a server keeps its address while the answer holds it, else takes the first address
 *   that no other server of its backend resolving the same name has (`resolve-opts
 *   allow-dup-ip` lifts that); none left: maintenance ("No IP for server");
 * - a failing name (NXDOMAIN, timeout, refused, other) leaves its servers alone for
 *   `hold <status>` after the last valid answer, then puts them in maintenance without an
 *   address; they come back with the next valid answer;
 * - SRV labels (`server-template` on `_http._tcp.svc`) give each record a slot: a slot
 *   keeps its record, a new record takes the first free slot with its port and weight
 *   (weight / 256, rounded up), and the record's target is then resolved as a host name;
 *   a record gone for `hold obsolete` empties its slot (maintenance, no address, port 0).
 *
 * Changes reach the workers through the health monitor (`resolution`), the path
 * `set server addr` takes, without a reload.
 */
import { promises as dns, type SrvRecord } from 'node:dns';
import type { Logger } from 'pino';
import type { Backend, Model, Resolvers, Server, ServerDns } from '../config/model';
import { isSrvLabel } from '../config/resolvers';
import type { LastAddress } from './init-addr';

/** What DNS changes in the servers' state (HealthMonitor). */
export interface ResolutionSink {
  /** The address ('' for none) and port workers have for the server. */
  addressOf(backend: string, server: string): { address: string; port: number } | undefined;
  resolution(backend: string, server: string, next: { address: string; port: number; host: string; cause?: string }): void;
  setWeight(backend: string, server: string, weight: number): string;
}

type Status = 'nx' | 'timeout' | 'refused' | 'other';
type Answer<T> = { ok: true; records: T[]; by: string } | { ok: false; status: Status };
type HostQuery = 'resolve4' | 'resolve6';

/** HAProxy's maintenance causes (srv_adm_st_chg_cause). */
const CAUSES: Record<Status, string> = { nx: 'DNS NX status', timeout: 'DNS timeout status', refused: 'DNS refused status', other: 'unspecified DNS error' };
const NO_IP = 'No IP for server ';
const SRV_GONE = 'entry removed from SRV record';

function statusOf(err: unknown): Status {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOTFOUND':
      return 'nx';
    case 'EREFUSED':
      return 'refused';
    // No answer at all, or the nameserver's port is closed.
    case 'ETIMEOUT':
    case 'ECONNREFUSED':
      return 'timeout';
    default:
      return 'other';
  }
}

/** A server DNS keeps an address for. */
interface Slot {
  backend: Backend;
  server: Server;
  dns: ServerDns;
  /** The name resolved for its address: its fqdn, or its SRV record's target ('' while it has none). */
  host: string;
  /** Its SRV record, and the answer (number and time) that last had it. */
  record?: { target: string; port: number; seenIn: number; seenAt: number };
  /** The host resolution it is attached to. */
  resolution?: Resolution;
}

/** One name asked periodically: a host name (for its slots) or an SRV label (for the slots of its templates). */
class Resolution {
  readonly slots = new Set<Slot>();
  lastValid = Date.now();
  running = false;
  answers = 0;

  constructor(
    readonly name: string,
    readonly srv: boolean,
    readonly prefer: 'ipv4' | 'ipv6',
  ) {}

  /** Its key in the section: one resolution per name and query. */
  static key(name: string, srv: boolean, prefer: 'ipv4' | 'ipv6'): string {
    return `${srv ? 'SRV' : prefer} ${name}`;
  }
}

class Section {
  readonly nameservers: { name: string; resolver: dns.Resolver }[];
  readonly resolutions = new Map<string, Resolution>();
  timer?: NodeJS.Timeout;

  constructor(readonly config: Resolvers) {
    this.nameservers = config.nameservers.map((ns) => {
      // One query per attempt: the retries are HAProxy's (resolve_retries, timeout retry).
      const resolver = new dns.Resolver({ timeout: config.timeoutRetry, tries: 1 });
      resolver.setServers([ns.address.includes(':') ? `[${ns.address}]:${ns.port}` : `${ns.address}:${ns.port}`]);
      return { name: ns.name, resolver };
    });
  }
}

export class DnsDiscovery {
  private readonly sections = new Map<string, Section>();
  private readonly slots = new Map<string, Slot>();
  /** The name of every server with one, resolved at run time or not (for `last`). */
  private readonly names = new Map<string, string>();
  private readonly waits = new Set<NodeJS.Timeout>();
  private started = false;
  private stopped = false;

  constructor(
    model: Model,
    private readonly sink: ResolutionSink,
    private readonly log: Logger,
  ) {
    for (const r of model.resolvers ?? []) this.sections.set(r.name, new Section(r));
    for (const b of model.backends) {
      for (const s of b.servers) {
        if (s.dns) this.names.set(`${b.name}/${s.name}`, s.dns.fqdn);
        const section = s.dns?.resolvers !== undefined ? this.sections.get(s.dns.resolvers) : undefined;
        if (!section || section.nameservers.length === 0) continue;
        const slot: Slot = { backend: b, server: s, dns: s.dns!, host: '' };
        this.slots.set(`${b.name}/${s.name}`, slot);
        if (isSrvLabel(slot.dns.fqdn)) this.resolutionFor(section, slot.dns.fqdn, true, slot.dns.prefer).slots.add(slot);
        else this.attach(section, slot, slot.dns.fqdn);
      }
    }
  }

  /** The address a server has in this generation, for the next one's `init-addr last` (same name resolved). */
  readonly last: LastAddress = (backend, server, fqdn) =>
    this.names.get(`${backend}/${server}`) === fqdn ? this.sink.addressOf(backend, server) : undefined;

  /** Keep the SRV records slots held in the previous generation (same server, same label). */
  adopt(previous: DnsDiscovery): void {
    for (const [key, slot] of this.slots) {
      const old = previous.slots.get(key);
      if (!old?.record || old.dns.fqdn !== slot.dns.fqdn || !isSrvLabel(slot.dns.fqdn)) continue;
      slot.record = { ...old.record, seenIn: 0 };
      this.attach(this.sections.get(slot.dns.resolvers!)!, slot, old.host);
    }
  }

  start(): void {
    this.started = true;
    for (const section of this.sections.values()) {
      if (section.resolutions.size === 0) continue;
      for (const res of section.resolutions.values()) void this.run(section, res);
      section.timer = setInterval(() => {
        for (const res of section.resolutions.values()) if (!res.running) void this.run(section, res);
      }, section.config.timeoutResolve);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const section of this.sections.values()) {
      clearInterval(section.timer);
      for (const ns of section.nameservers) ns.resolver.cancel();
    }
    for (const t of this.waits) clearTimeout(t);
  }

  // ------------------------------------------------------------ resolutions

  private resolutionFor(section: Section, name: string, srv: boolean, prefer: 'ipv4' | 'ipv6'): Resolution {
    const key = Resolution.key(name, srv, prefer);
    let res = section.resolutions.get(key);
    if (!res) section.resolutions.set(key, (res = new Resolution(name, srv, prefer)));
    return res;
  }

  /** Resolve `host` for the slot's address (a new name is asked at once). */
  private attach(section: Section, slot: Slot, host: string): void {
    this.detach(section, slot);
    slot.host = host;
    const res = this.resolutionFor(section, host, false, slot.dns.prefer);
    const fresh = res.slots.size === 0 && !res.running;
    res.slots.add(slot);
    slot.resolution = res;
    if (fresh && this.started) void this.run(section, res);
  }

  private detach(section: Section, slot: Slot): void {
    const res = slot.resolution;
    if (!res) return;
    res.slots.delete(slot);
    slot.resolution = undefined;
    if (res.slots.size === 0) section.resolutions.delete(Resolution.key(res.name, false, res.prefer));
  }

  private async run(section: Section, res: Resolution): Promise<void> {
    res.running = true;
    try {
      if (res.srv) {
        const answer = await this.retried(section, () => this.ask(section, res.name, (r, n) => r.resolveSrv(n)));
        if (this.stopped) return;
        if (answer.ok) this.applySrv(section, res, answer.records);
        else this.failed(section, res, answer.status);
      } else {
        const [first, second]: HostQuery[] = res.prefer === 'ipv6' ? ['resolve6', 'resolve4'] : ['resolve4', 'resolve6'];
        const answer = await this.retried(section, async () => {
          const a = await this.ask(section, res.name, (r, n) => r[first](n));
          // HAProxy asks the other family when every nameserver answered with an error.
          return a.ok || a.status === 'timeout' ? a : this.ask(section, res.name, (r, n) => r[second](n));
        });
        if (this.stopped) return;
        if (answer.ok) this.applyHost(res, answer.records, answer.by);
        else this.failed(section, res, answer.status);
      }
    } finally {
      res.running = false;
    }
  }

  /** `resolve_retries` attempts, `timeout retry` apart, until one is valid. */
  private async retried<T>(section: Section, attempt: () => Promise<Answer<T>>): Promise<Answer<T>> {
    const { resolveRetries, timeoutRetry } = section.config;
    for (let tries = 1; ; tries++) {
      const started = Date.now();
      const answer = await attempt();
      if (answer.ok || tries >= resolveRetries || this.stopped) return answer;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waits.delete(t);
          resolve();
        }, Math.max(0, started + timeoutRetry - Date.now()));
        this.waits.add(t);
      });
    }
  }

  /** Every nameserver at once: the first valid answer, else the last error. */
  private ask<T>(section: Section, name: string, query: (resolver: dns.Resolver, name: string) => Promise<T[]>): Promise<Answer<T>> {
    // A trailing dot: the name as written, never with the system's search domains.
    const absolute = name.endsWith('.') ? name : `${name}.`;
    return new Promise((resolve) => {
      let pending = section.nameservers.length;
      let done = false;
      for (const ns of section.nameservers) {
        query(ns.resolver, absolute).then(
          (records) => {
            if (done) return;
            done = true;
            resolve({ ok: true, records, by: `${section.config.name}/${ns.name}` });
          },
          (err: unknown) => {
            if (--pending === 0 && !done) resolve({ ok: false, status: statusOf(err) });
          },
        );
      }
    });
  }

  // ------------------------------------------------------------ answers

  /** Addresses for the slots resolving this host name, backend by backend, in server order. */
  private applyHost(res: Resolution, addresses: string[], by: string): void {
    res.lastValid = Date.now();
    for (const slot of res.slots) {
      const { backend, server } = slot;
      const current = this.sink.addressOf(backend.name, server.name)!;
      if (current.address !== '' && addresses.includes(current.address)) continue;
      // Taken: another server of the backend resolving the same name is there (same port too).
      const taken = (address: string) =>
        [...res.slots].some((o) => {
          if (o === slot || o.backend !== backend) return false;
          const a = this.sink.addressOf(backend.name, o.server.name)!;
          return a.address === address && a.port === current.port;
        });
      const address = addresses.find((a) => !taken(a)) ?? (slot.dns.allowDupIp ? addresses[0] : undefined);
      if (address === undefined) {
        this.sink.resolution(backend.name, server.name, { address: '', port: current.port, host: slot.host, cause: NO_IP });
        continue;
      }
      this.log.info(`${backend.name}/${server.name} changed its IP from ${current.address || '(none)'} to ${address} by ${by}.`);
      this.sink.resolution(backend.name, server.name, { address, port: current.port, host: slot.host });
    }
  }

  /** SRV records for the template slots of this label: ports and weights, then their targets' addresses. */
  private applySrv(section: Section, res: Resolution, records: SrvRecord[]): void {
    const now = Date.now();
    res.lastValid = now;
    const answer = ++res.answers;
    for (const rec of records) {
      const target = rec.name.replace(/\.$/, '').toLowerCase();
      // Per backend, the slot holding this record, else the first free one.
      for (const backend of new Set([...res.slots].map((s) => s.backend))) {
        const slots = [...res.slots].filter((s) => s.backend === backend);
        const slot =
          slots.find((s) => s.record && s.record.target === target && s.record.port === rec.port && s.record.seenIn !== answer) ??
          slots.find((s) => !s.record);
        if (!slot) continue;
        slot.record = { target, port: rec.port, seenIn: answer, seenAt: now };
        const name = `${backend.name}/${slot.server.name}`;
        const current = this.sink.addressOf(backend.name, slot.server.name)!;
        if (slot.host !== target) {
          this.log.info(`${name} changed its FQDN from ${slot.host || '(null)'} to ${target} by 'SRV record'`);
          this.attach(section, slot, target);
        }
        if (current.port !== rec.port) this.sink.resolution(backend.name, slot.server.name, { address: current.address, port: rec.port, host: target });
        if (!slot.dns.ignoreWeight) this.sink.setWeight(backend.name, slot.server.name, Math.ceil(rec.weight / 256));
      }
    }
    for (const slot of res.slots) {
      if (slot.record && slot.record.seenIn !== answer && now - slot.record.seenAt >= section.config.hold.obsolete) this.empty(section, slot);
    }
  }

  /** A slot whose record is gone: no address, no port, in maintenance. */
  private empty(section: Section, slot: Slot): void {
    this.detach(section, slot);
    slot.record = undefined;
    slot.host = '';
    this.sink.resolution(slot.backend.name, slot.server.name, { address: '', port: 0, host: '', cause: SRV_GONE });
  }

  /** A failed resolution: its servers (slots) leave once `hold <status>` has passed since the last valid answer. */
  private failed(section: Section, res: Resolution, status: Status): void {
    if (Date.now() - res.lastValid < section.config.hold[status]) return;
    for (const slot of [...res.slots]) {
      if (res.srv) {
        if (slot.record) this.empty(section, slot);
        continue;
      }
      const current = this.sink.addressOf(slot.backend.name, slot.server.name)!;
      this.sink.resolution(slot.backend.name, slot.server.name, { address: '', port: current.port, host: slot.host, cause: CAUSES[status] });
    }
  }
}
