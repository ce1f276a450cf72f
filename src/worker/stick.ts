/**
 * `stick on <fetch>`: the first server a key's request goes to is stored in the
 * backend's stick table, and later requests with the same key go there while it can
 * serve them (up, not in maintenance). The table is the node's (src/stick/): the
 * primary holds it and every worker sees an entry a few ms after another stored it.
 * An entry expires `expire` after its last use; beyond `size` entries the least
 * recently used one goes.
 */
import type { StickRule } from '../config/model';
import type { SampleContext } from '../rules/context';
import { fetches, type FetchDefinition } from '../rules/fetches';
import type { WorkerTable } from '../stick/worker';
import type { BackendRuntime, ServerRuntime } from './runtime';

export class StickTable {
  private readonly fetch: FetchDefinition;

  constructor(
    readonly rule: StickRule,
    readonly table: WorkerTable,
    private readonly backend: BackendRuntime,
  ) {
    this.fetch = fetches.get(rule.fetch)!;
  }

  get size(): number {
    return this.table.size;
  }

  /** The request's key, or undefined when the fetch finds nothing (or nothing that fits the table's type). */
  key(ctx: SampleContext): string | undefined {
    return this.table.key(this.fetch.fetch(ctx, this.rule.args));
  }

  /** The stored server for `key`, refreshing its expiry; undefined when absent or expired. */
  lookup(key: string): ServerRuntime | undefined {
    const e = this.table.lookup(key);
    if (!e || !e.server) return undefined;
    this.table.touch(e, Date.now());
    return this.backend.byName.get(e.server);
  }

  /** Store `key` → `server`; not for `non-stick` servers. */
  store(key: string, server: ServerRuntime): void {
    if (server.config.nonStick) return;
    const e = this.table.obtain(key);
    if (e && e.server !== server.name) this.table.setServer(e, server.name);
  }
}
