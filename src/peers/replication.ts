/**
 * The primary's peers: one PeerSection (./section.ts) per enabled `peers` section,
 * fed by the stick tables' listener hook (src/stick/primary.ts) with what this node's
 * workers count and what an operator sets. A reload keeps a section whose settings
 * did not change (its connections stay up) and re-reads which tables it shares.
 */
import type { Model } from '../config/model';
import type { Logger } from '../log/logger';
import { stickTableDefs, tableId } from '../stick/layout';
import type { PrimaryStickTables, StickListener } from '../stick/primary';
import type { StickEntry, StickStore } from '../stick/store';
import { PeerSection } from './section';

export class PeersReplication implements StickListener {
  private sections = new Map<string, PeerSection>();
  /** The section replicating each table id. */
  private byTable = new Map<string, PeerSection>();

  constructor(
    private readonly tables: PrimaryStickTables,
    private readonly log: Logger,
  ) {}

  /** The sections, in config order. */
  list(): PeerSection[] {
    return [...this.sections.values()];
  }

  /** Runs the sections of `model` (call after the tables took the model); rejects when a peer address cannot be bound. */
  async update(model: Pick<Model, 'peers' | 'frontends' | 'backends'>): Promise<void> {
    const next = new Map<string, PeerSection>();
    const starting: PeerSection[] = [];
    for (const def of model.peers ?? []) {
      if (def.disabled) continue;
      const old = this.sections.get(def.name);
      if (old && JSON.stringify({ ...old.def, source: undefined }) === JSON.stringify({ ...def, source: undefined })) {
        next.set(def.name, old);
        continue;
      }
      const section = new PeerSection(def, this.tables, this.log);
      next.set(def.name, section);
      starting.push(section);
    }
    const stopping = [...this.sections].filter(([name, s]) => next.get(name) !== s).map(([, s]) => s.stop());
    this.sections = next;
    this.byTable = new Map();
    const shared = new Map<PeerSection, Map<string, StickStore>>([...next.values()].map((s) => [s, new Map()]));
    for (const def of stickTableDefs(model)) {
      const section = def.peers !== undefined ? next.get(def.peers) : undefined;
      const id = tableId(def);
      const store = this.tables.table(id);
      if (!section || !store) continue;
      this.byTable.set(id, section);
      shared.get(section)!.set(id, store);
    }
    for (const [section, map] of shared) section.share(map);
    this.tables.listener = this.byTable.size ? this : undefined;
    // A changed section may listen where its old self did.
    await Promise.all(stopping);
    await Promise.all(starting.map((s) => s.start()));
  }

  stop(): void {
    for (const s of this.sections.values()) void s.stop();
    this.sections.clear();
    this.tables.listener = undefined;
  }

  added(id: string, store: StickStore, e: StickEntry, delta: number[], server: string | null): void {
    this.byTable.get(id)?.added(id, e.key, delta, server, store.layout.gauges);
  }

  set(store: StickStore, entries: StickEntry[]): void {
    const id = tableId(store.def);
    this.byTable.get(id)?.set(id, entries);
  }

  /** Peers of the running sections (`show info` ActivePeers) and those with an established connection (ConnectedPeers). */
  counts(): { active: number; connected: number } {
    let active = 0;
    let connected = 0;
    for (const s of this.sections.values()) {
      for (const r of s.remotes) {
        active++;
        if (r.active) connected++;
      }
    }
    return { active, connected };
  }
}
