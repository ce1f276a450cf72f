/**
 * Stick tables (`stick on <fetch>` + `stick-table type ip|string size N expire T`):
 * the first server a key's request goes to is stored, and later requests with the
 * same key go there while it can serve them (up, not in maintenance). An entry
 * expires `expire` after its last use; beyond `size` entries the least recently
 * used one goes. Each worker keeps its own table; entries it learns are sent to
 * the other workers through the primary (like HAProxy peers), so a client landing
 * on another worker sticks to the same server. A worker's expiry is refreshed by
 * its own matches only.
 */
import type { StickRule } from '../config/model';
import type { SampleContext } from '../rules/context';
import { fetches, type FetchDefinition } from '../rules/fetches';
import { shareStick } from './cluster-state';
import type { BackendRuntime, ServerRuntime } from './runtime';

interface StickEntry {
  server: ServerRuntime;
  expires: number;
}

export class StickTable {
  private readonly entries = new Map<string, StickEntry>();
  private readonly fetch: FetchDefinition;

  constructor(
    readonly rule: StickRule,
    private readonly backend: BackendRuntime,
  ) {
    this.fetch = fetches.get(rule.fetch)!;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The request's key, or undefined when the fetch finds nothing. */
  key(ctx: SampleContext): string | undefined {
    let v = this.fetch.fetch(ctx, this.rule.args);
    if (Array.isArray(v)) v = v[0];
    if (v === undefined || v === '') return undefined;
    const k = String(v);
    return this.rule.tableType === 'string' && k.length > this.rule.keyLen ? k.slice(0, this.rule.keyLen) : k;
  }

  /** The stored server for `key`, refreshing its expiry; undefined when absent or expired. */
  lookup(key: string): ServerRuntime | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = Date.now();
    if (this.rule.expire && e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert: Map order is the eviction order (least recently used first).
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.rule.expire) e.expires = now + this.rule.expire;
    return e.server;
  }

  /** Store `key` → `server` (a new or changed entry is shared with the other workers); not for `non-stick` servers. */
  store(key: string, server: ServerRuntime): void {
    if (server.config.nonStick) return;
    const prev = this.entries.get(key);
    if (prev && prev.server === server) return;
    this.put(key, server);
    shareStick(this.backend.name, key, server.name);
  }

  /** An entry another worker learned. */
  learned(key: string, serverName: string): void {
    const server = this.backend.byName.get(serverName);
    if (server) this.put(key, server);
  }

  /** Live entries for the runtime API's `show table`: ms until expiry (-1 = never). */
  dump(key?: string): { key: string; expiresIn: number; server: ServerRuntime }[] {
    const now = Date.now();
    const out: { key: string; expiresIn: number; server: ServerRuntime }[] = [];
    for (const [k, e] of this.entries) {
      if (key !== undefined && k !== key) continue;
      if (this.rule.expire && e.expires <= now) continue;
      out.push({ key: k, expiresIn: this.rule.expire ? e.expires - now : -1, server: e.server });
    }
    return out;
  }

  /** `clear table`: drop `key`, or every entry; returns how many went. */
  clear(key?: string): number {
    if (key !== undefined) return this.entries.delete(key) ? 1 : 0;
    const n = this.entries.size;
    this.entries.clear();
    return n;
  }

  private put(key: string, server: ServerRuntime): void {
    this.entries.delete(key);
    this.entries.set(key, { server, expires: this.rule.expire ? Date.now() + this.rule.expire : 0 });
    while (this.entries.size > this.rule.size) this.entries.delete(this.entries.keys().next().value!);
  }
}
