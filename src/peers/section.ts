/**
 * One `peers` section running in the primary: it listens on this node's peer
 * address, dials every other member (./link.ts), proves and checks the shared secret
 * (./wire.ts), and keeps the section's tables (`stick-table … peers <name>`) alike on
 * every member (./merge.ts):
 * - the increments workers bring to a shared table are summed per entry and pushed
 *   to every established peer at most every FLUSH_INTERVAL_MS;
 * - a connection that comes up runs a full resync both ways (the dialer asks for the
 *   acceptor's entries and teaches its own), so a node that restarts, or a link that
 *   breaks for a while, ends up with every entry;
 * - a link whose peer stops answering pings (HEARTBEAT_MS) or falls too far behind
 *   (MAX_BUFFERED bytes unsent) is dropped and dialled again, the resync making up
 *   for what was lost.
 * Tables are matched by name and shape (tableId), so two members must declare a
 * shared table alike; entries of a table the other side lacks are ignored.
 */
import { createServer, type Server as HttpsServer } from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';
import type { PeersSection } from '../config/model';
import type { Logger } from '../log/logger';
import type { PrimaryStickTables } from '../stick/primary';
import type { StickEntry, StickStore } from '../stick/store';
import { RemotePeer, type PeerSocket } from './link';
import { addDeltas, takeEntries } from './merge';
import { nonce, parseMessage, PROTOCOL, proof, sameProof, toWire, type PeerMessage, type RefusedStatus, type WireDelta, type WireEntry } from './wire';

/** Longest wait between an increment and its push to the peers. */
const FLUSH_INTERVAL_MS = 50;
export const HEARTBEAT_MS = 2000;
/** A peer that has not proved the secret within this is dropped. */
const HANDSHAKE_TIMEOUT_MS = 3000;
/** Unsent bytes on a link past which it is dropped and resynced instead. */
const MAX_BUFFERED = 32 * 1024 * 1024;
/** Largest message: CHUNK entries with 1 KiB keys stay well under it. */
const MAX_PAYLOAD = 8 * 1024 * 1024;
/** The statuses a peer may refuse this node with. */
const REFUSALS: readonly string[] = ['AUTH', 'NAME', 'PROT', 'VERS'] satisfies RefusedStatus[];
/** Entries per message (updates and resync): each stays far below MAX_PAYLOAD. */
const CHUNK = 1000;

interface Pending {
  server: string | null;
  delta: number[];
}

export class PeerSection {
  readonly remotes: RemotePeer[];
  /** The section's tables, by id. */
  private shared = new Map<string, StickStore>();
  private server: WebSocketServer | undefined;
  /** The TLS listener under `server` when the section uses TLS. */
  private https: HttpsServer | undefined;
  /** Increments and operator sets not yet pushed, by table id then key. */
  private readonly pendingAdds = new Map<string, Map<string, Pending>>();
  private readonly pendingSets = new Map<string, Map<string, StickEntry>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly startedAt = Date.now();

  constructor(
    readonly def: PeersSection,
    private readonly tables: PrimaryStickTables,
    private readonly log: Logger,
  ) {
    this.remotes = def.remotes.map((r) => new RemotePeer(r.name, r.address, r.port));
  }

  /** The tables replicated with this section (ids in the serving generation). */
  share(tables: Map<string, StickStore>): void {
    this.shared = tables;
  }

  sharedTables(): StickStore[] {
    return [...this.shared.values()];
  }

  /** Listens on this node's peer address and dials the other members; rejects when the address cannot be bound. */
  async start(): Promise<void> {
    const { address, port } = this.def.listen;
    const tls = this.def.tls;
    const https = tls ? createServer({ cert: tls.cert, key: tls.key }) : undefined;
    const server = new WebSocketServer(https ? { server: https, maxPayload: MAX_PAYLOAD, perMessageDeflate: false } : { host: address, port, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
    this.server = server;
    this.https = https;
    await new Promise<void>((resolve, reject) => {
      const listener = https ?? server;
      listener.once('listening', resolve);
      listener.once('error', reject);
      https?.listen(port, address);
    });
    server.on('error', (err) => this.log.error({ event: 'peers-error', section: this.def.name, err: err.message }, `peers ${this.def.name}: ${err.message}`));
    server.on('connection', (ws: PeerSocket, req) => this.accept(ws, req.socket.remoteAddress ?? ''));
    for (const r of this.remotes) this.dial(r);
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.log.info({ event: 'peers-listening', section: this.def.name, local: this.def.local, address, port, tls: !!tls }, `peers ${this.def.name}: ${this.def.local} listening on ${address}:${port}${tls ? ' (TLS)' : ''}`);
  }

  /** Closes every link and the listener; resolves once the address is free again (a reload may bind it anew). */
  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    for (const r of this.remotes) r.stop();
    for (const ws of this.server?.clients ?? []) ws.terminate();
    const listener = this.https ?? this.server;
    this.server?.close();
    return new Promise((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  }

  // ------------------------------------------------------------------ what this node pushes

  /** A worker's increments to a shared table, summed until the next push. */
  added(id: string, key: string, delta: number[], server: string | null, gauges: number[]): void {
    let m = this.pendingAdds.get(id);
    if (!m) this.pendingAdds.set(id, (m = new Map()));
    const p = m.get(key);
    if (!p) {
      const copy = delta.slice();
      for (const g of gauges) copy[g] = 0;
      m.set(key, { server, delta: copy });
    } else {
      for (let i = 0; i < delta.length; i++) p.delta[i] += delta[i];
      for (const g of gauges) p.delta[g] = 0;
      if (server !== null) p.server = server;
    }
    this.schedule();
  }

  /** Values an operator set: pushed as they are at the next push. */
  set(id: string, entries: StickEntry[]): void {
    let m = this.pendingSets.get(id);
    if (!m) this.pendingSets.set(id, (m = new Map()));
    for (const e of entries) m.set(e.key, e);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
  }

  private flushNow(): void {
    clearTimeout(this.flushTimer);
    this.flush();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const now = Date.now();
    const texts: string[] = [];
    let updates = 0;
    for (const [id, m] of this.pendingAdds) {
      updates += m.size;
      inChunks([...m].map(([key, p]): WireDelta => [key, p.server, p.delta]), (list) => texts.push(JSON.stringify({ t: 'upd', tables: { [id]: list } } satisfies PeerMessage)));
    }
    for (const [id, m] of this.pendingSets) {
      const store = this.shared.get(id);
      if (store) inChunks([...m.values()].map((e) => toWire(e, store.layout, now)), (list) => texts.push(JSON.stringify({ t: 'set', tables: { [id]: list } } satisfies PeerMessage)));
    }
    this.pendingAdds.clear();
    this.pendingSets.clear();
    if (!texts.length) return;
    // Peers not established now miss these: the resync when they come up brings them.
    for (const r of this.remotes) {
      if (r.status !== 'ESTA' || !r.out) continue;
      if (r.out.bufferedAmount > MAX_BUFFERED) {
        this.log.warn({ event: 'peers-behind', section: this.def.name, peer: r.name }, `peers ${this.def.name}: ${r.name} is too far behind, reconnecting to resync`);
        r.out.terminate();
        continue;
      }
      for (const text of texts) r.out.send(text);
      r.counters.txUpd += updates;
    }
  }

  // ------------------------------------------------------------------ dialling

  private dial(r: RemotePeer): void {
    if (this.stopped) return;
    const tls = this.def.tls;
    const ws: PeerSocket = new WebSocket(r.url(!!tls), {
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
      maxPayload: MAX_PAYLOAD,
      // The chain is checked, not the name: peers are dialled by address, as HAProxy's without verifyhost.
      // (ws types this tls.connect option as returning a boolean; Node wants an Error or undefined.)
      ...(tls ? { ca: tls.ca, rejectUnauthorized: tls.verify, checkServerIdentity: (() => undefined) as unknown as () => boolean } : {}),
    });
    r.out = ws;
    r.status = 'CONN';
    const myNonce = nonce();
    let peerNonce = '';
    const timer = setTimeout(() => {
      if (r.status !== 'ESTA') (r.status = 'TOUT'), ws.terminate();
    }, HANDSHAKE_TIMEOUT_MS);
    ws.on('open', () => (r.status = 'HSHK'));
    ws.on('message', (data) => {
      const msg = parseMessage(data);
      if (!msg) return this.protocolError(r, ws, 'not a peers message');
      if (r.status === 'HSHK') {
        if (msg.t === 'refused') {
          r.status = REFUSALS.includes(msg.status) ? msg.status : 'PROT';
          if (msg.status === 'AUTH') r.counters.authErr++;
          this.log.warn({ event: 'peers-refused', section: this.def.name, peer: r.name, status: msg.status }, `peers ${this.def.name}: ${r.name} refused this node (${msg.status}): ${msg.reason}`);
          return ws.close();
        }
        if (msg.t === 'challenge' && !peerNonce) {
          if (msg.v !== PROTOCOL) return this.refuseOut(r, ws, 'VERS', `speaks ${msg.v}`);
          if (msg.section !== this.def.name || msg.name !== r.name) return this.refuseOut(r, ws, 'NAME', `answers as ${msg.section}/${msg.name}`);
          peerNonce = msg.nonce;
          const mac = proof(this.def.secret, 'dialer', this.def.name, this.def.local, r.name, myNonce, peerNonce);
          return ws.send(JSON.stringify({ t: 'hello', v: PROTOCOL, section: this.def.name, from: this.def.local, to: r.name, nonce: myNonce, mac } satisfies PeerMessage));
        }
        if (msg.t === 'welcome' && peerNonce) {
          const expected = proof(this.def.secret, 'acceptor', this.def.name, this.def.local, r.name, myNonce, peerNonce);
          if (!sameProof(String(msg.mac), expected)) {
            r.counters.authErr++;
            return this.refuseOut(r, ws, 'AUTH', 'did not prove the shared secret');
          }
          clearTimeout(timer);
          // What is pending goes out first (not to this peer): the resync below already holds it.
          this.flushNow();
          r.status = 'ESTA';
          r.lastError = '';
          r.established();
          r.counters.newConn++;
          ws.alive = true;
          this.log.info({ event: 'peers-up', section: this.def.name, peer: r.name }, `peers ${this.def.name}: connected to ${r.name}`);
          ws.send(JSON.stringify({ t: 'resync' } satisfies PeerMessage));
          this.teach(ws);
          return;
        }
        return this.protocolError(r, ws, `unexpected ${msg.t} during the handshake`);
      }
      if (r.status === 'ESTA') {
        if (msg.t === 'sync-end') r.learned = true;
        else if (msg.t === 'sync') this.receive(r, ws, msg);
        else this.protocolError(r, ws, `unexpected ${msg.t} on this node's connection`);
      }
    });
    ws.on('pong', () => ((ws.alive = true), r.counters.rxHbt++));
    ws.on('error', (err) => {
      // 'close' follows and retries; say why once, not at every retry.
      if (err.message === r.lastError || this.stopped) return;
      r.lastError = err.message;
      this.log.warn({ event: 'peers-connect-error', section: this.def.name, peer: r.name, err: err.message }, `peers ${this.def.name}: ${r.name}: ${err.message}`);
    });
    ws.on('close', () => {
      clearTimeout(timer);
      if (r.out !== ws) return;
      r.out = undefined;
      if (r.status === 'ESTA') this.log.warn({ event: 'peers-down', section: this.def.name, peer: r.name }, `peers ${this.def.name}: lost ${r.name}, reconnecting`);
      if (r.status === 'ESTA' || r.status === 'CONN' || r.status === 'HSHK') r.status = 'NONE';
      if (!this.stopped) r.retry(() => this.dial(r));
    });
  }

  private refuseOut(r: RemotePeer, ws: PeerSocket, status: RemotePeer['status'], reason: string): void {
    r.status = status;
    this.log.warn({ event: 'peers-refused', section: this.def.name, peer: r.name, status }, `peers ${this.def.name}: ${r.name} ${reason} (${status}); not connected`);
    ws.close();
  }

  private protocolError(r: RemotePeer, ws: PeerSocket, reason: string): void {
    r.counters.protoErr++;
    if (ws === r.out) r.status = 'PROT';
    this.log.warn({ event: 'peers-protocol-error', section: this.def.name, peer: r.name }, `peers ${this.def.name}: ${r.name}: ${reason}; dropping the connection`);
    ws.terminate();
  }

  // ------------------------------------------------------------------ accepting

  private accept(ws: PeerSocket, from: string): void {
    const myNonce = nonce();
    let peer: RemotePeer | undefined;
    const timer = setTimeout(() => ws.terminate(), HANDSHAKE_TIMEOUT_MS);
    ws.send(JSON.stringify({ t: 'challenge', v: PROTOCOL, section: this.def.name, name: this.def.local, nonce: myNonce } satisfies PeerMessage));
    const refuse = (status: 'AUTH' | 'NAME' | 'PROT' | 'VERS', reason: string) => {
      this.log.warn({ event: 'peers-refused', section: this.def.name, from, status }, `peers ${this.def.name}: refused a connection from ${from}: ${reason}`);
      ws.send(JSON.stringify({ t: 'refused', status, reason } satisfies PeerMessage));
      ws.close();
    };
    ws.on('message', (data) => {
      const msg = parseMessage(data);
      if (!peer) {
        if (!msg || msg.t !== 'hello') return refuse('PROT', 'expected hello');
        if (msg.v !== PROTOCOL) return refuse('VERS', `speaks ${String(msg.v)}, not ${PROTOCOL}`);
        const r = this.remotes.find((p) => p.name === msg.from);
        if (msg.section !== this.def.name || msg.to !== this.def.local || !r) return refuse('NAME', `${String(msg.from)} is not a peer of ${this.def.local} in ${this.def.name}`);
        const expected = proof(this.def.secret, 'dialer', this.def.name, r.name, this.def.local, String(msg.nonce), myNonce);
        if (!sameProof(String(msg.mac), expected)) {
          r.inStatus = 'AUTH';
          r.counters.authErr++;
          return refuse('AUTH', `${r.name} did not prove the shared secret`);
        }
        clearTimeout(timer);
        peer = r;
        r.in?.terminate();
        r.in = ws;
        r.inStatus = 'ESTA';
        ws.alive = true;
        ws.send(JSON.stringify({ t: 'welcome', mac: proof(this.def.secret, 'acceptor', this.def.name, r.name, this.def.local, String(msg.nonce), myNonce) } satisfies PeerMessage));
        return;
      }
      if (!msg) return this.protocolError(peer, ws, 'not a peers message');
      if (msg.t === 'resync') {
        // Pending increments leave on this node's own link before the snapshot that holds them.
        this.flushNow();
        this.teach(ws);
      }
      else if (msg.t === 'sync' || msg.t === 'upd' || msg.t === 'set') this.receive(peer, ws, msg);
      else if (msg.t !== 'sync-end') this.protocolError(peer, ws, `unexpected ${msg.t} on ${peer.name}'s connection`);
    });
    ws.on('pong', () => {
      ws.alive = true;
      if (peer) peer.counters.rxHbt++;
    });
    ws.on('error', () => {
      // 'close' follows.
    });
    ws.on('close', () => {
      clearTimeout(timer);
      if (peer && peer.in === ws) {
        peer.in = undefined;
        peer.inStatus = 'NONE';
      }
    });
  }

  // ------------------------------------------------------------------ both directions

  /** Every live entry of the shared tables, in chunks, then `sync-end`. */
  private teach(ws: PeerSocket): void {
    const now = Date.now();
    for (const [id, store] of this.shared) {
      const live: WireEntry[] = [];
      for (const e of store.entries()) if (e.expires === 0 || e.expires > now) live.push(toWire(e, store.layout, now));
      inChunks(live, (list) => ws.send(JSON.stringify({ t: 'sync', tables: { [id]: list } } satisfies PeerMessage)));
    }
    ws.send(JSON.stringify({ t: 'sync-end' } satisfies PeerMessage));
  }

  /** A peer's entries into the shared tables; this node's workers learn them at once. */
  private receive(r: RemotePeer, ws: PeerSocket, msg: Extract<PeerMessage, { t: 'sync' | 'upd' | 'set' }>): void {
    const now = Date.now();
    if (!msg.tables || typeof msg.tables !== 'object') return this.protocolError(r, ws, `${msg.t} without tables`);
    for (const id in msg.tables) {
      const store = this.shared.get(id) && this.tables.table(id);
      if (!store) continue;
      const list = msg.tables[id] as unknown[];
      if (!Array.isArray(list)) return this.protocolError(r, ws, `${msg.t}: bad table ${id}`);
      const changed = msg.t === 'upd' ? addDeltas(store, list as WireDelta[], now) : takeEntries(store, list as WireEntry[], msg.t === 'set' ? 'set' : 'max', now);
      if (!changed) return this.protocolError(r, ws, `${msg.t}: malformed entries of ${id}`);
      if (msg.t === 'upd') r.counters.rxUpd += changed.length;
      this.tables.changed(store, changed);
    }
  }

  /** Pings every authenticated connection; one that did not answer the last ping is dropped. */
  private beat(): void {
    for (const r of this.remotes) {
      for (const ws of [r.status === 'ESTA' ? r.out : undefined, r.in]) {
        if (!ws) continue;
        if (!ws.alive) {
          r.counters.noHbt++;
          ws.terminate();
          continue;
        }
        ws.alive = false;
        ws.ping();
        r.counters.txHbt++;
      }
    }
  }
}

/** `list` in slices of at most CHUNK items. */
function inChunks<T>(list: T[], each: (slice: T[]) => void): void {
  for (let i = 0; i < list.length; i += CHUNK) each(list.slice(i, i + CHUNK));
}
