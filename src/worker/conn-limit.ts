/**
 * Connection limits: a frontend's `maxconn` and the global `maxconn` (0 = none),
 * also as changed at run time (`set maxconn frontend|global`).
 *
 * At its limit HAProxy stops polling the listener: new connections wait in the
 * kernel's accept queue until one ends. Node cannot stop accept() on a listening
 * socket: `server.close()` would drop the (reuseport) socket and the connections
 * queued on it, and `server.maxConnections` closes the extra connections. So a
 * connection over the limit is accepted but held: paused (nothing read beyond one
 * socket buffer, nothing answered), FIFO, and handed to the data path when a
 * connection of its frontend (or of the process) ends. Its timeouts start then,
 * as HAProxy's start at accept. At most HOLD_LIMIT (the listen backlog) wait per
 * worker; beyond that a new connection is closed, as a full accept queue refuses.
 *
 * Every connection counts, including those accepted before a limit was set.
 * With several workers the limits hold for the whole cluster: the slots are
 * leased from the primary's SlotBroker (src/primary/slots.ts) under the keys
 * `#conn` (global) and `#conn <frontend>`, with the same want/grant/keep/return
 * messages as a server's maxconn. A held connection first gets a global slot,
 * then a frontend slot; that order means no two workers each hold what the
 * other waits for.
 */
import type * as net from 'node:net';
import type { PrimaryToWorker, WorkerToPrimary } from '../ipc/messages';

/** The listen backlog (src/worker/listeners.ts). */
export const HOLD_LIMIT = 1024;
const GLOBAL_KEY = '#conn';

interface Held {
  socket: net.Socket;
  fe: Gate;
  /** Continue the accept (PROXY header, TLS, handler). */
  start: () => void;
}

class Gate {
  /** Connections of this frontend (or of the process) being served. */
  active = 0;
  /** Several workers: slots leased from the primary. */
  slots = 0;
  /** Several workers: most slots to keep while other workers wait (-1 = no limit). */
  keep = -1;
  reportedWant = 0;
  readonly waiting: Held[] = [];

  constructor(
    readonly key: string,
    /** 0 = unlimited. */
    public limit: number,
  ) {}
}

interface GatedSocket extends net.Socket {
  connGate?: Gate;
}

let leased = false;
let listening = false;
let held = 0;
const globalGate = new Gate(GLOBAL_KEY, 0);
const frontendGates = new Map<string, Gate>();

/** Limits from the config of this worker's generation. */
export function configureConnectionLimits(frontends: { name: string; config: { maxconn: number } }[], globalMaxconn: number, workers: number): void {
  leased = workers > 1 && typeof process.send === 'function';
  globalGate.limit = globalMaxconn;
  for (const fe of frontends) frontendGates.set(fe.name, new Gate(`${GLOBAL_KEY} ${fe.name}`, fe.config.maxconn));
  if (leased && !listening) {
    listening = true;
    process.on('message', onMessage);
  }
}

/** `set maxconn frontend <fe> <n>` (frontend given) or `set maxconn global <n>`. */
export function setConnectionLimit(frontend: string | undefined, limit: number): void {
  const g = frontend === undefined ? globalGate : frontendGates.get(frontend);
  if (!g || !(limit >= 0)) return;
  g.limit = limit;
  if (leased) {
    if (limit === 0 && g.slots > 0) returnSlots(g, g.slots);
    // The primary learns the limit from these messages.
    g.reportedWant = -1;
    reportWant(g);
  }
  serve(g);
}

function room(g: Gate): boolean {
  return g.limit === 0 || g.active < (leased ? Math.min(g.slots, g.limit) : g.limit);
}

/** A connection accepted by `frontend`: true when it may go on now (it then counts until it closes). */
export function admitConnection(socket: net.Socket, frontend: string): boolean {
  const fe = frontendGates.get(frontend)!;
  if (globalGate.waiting.length || fe.waiting.length || !room(globalGate) || !room(fe)) return false;
  globalGate.active++;
  opened(socket as GatedSocket, fe);
  return true;
}

/** A connection `admitConnection` refused: held until its turn (`start` then runs), or closed when too many wait. */
export function holdConnection(socket: net.Socket, frontend: string, start: () => void): void {
  if (held >= HOLD_LIMIT) {
    socket.destroy();
    return;
  }
  held++;
  socket.pause();
  const h: Held = { socket, fe: frontendGates.get(frontend)!, start };
  if (globalGate.waiting.length === 0 && room(globalGate)) {
    globalGate.active++;
    waitFor(h.fe, h);
  } else waitFor(globalGate, h);
}

function waitFor(g: Gate, h: Held): void {
  g.waiting.push(h);
  reportWant(g);
}

function opened(socket: GatedSocket, fe: Gate): void {
  fe.active++;
  socket.connGate = fe;
  // 'close' comes once: `on`, not `once`, which wraps the listener in a bound function per socket.
  socket.on('close', onGatedClose);
}

function onGatedClose(this: GatedSocket): void {
  const fe = this.connGate!;
  fe.active--;
  globalGate.active--;
  released(fe);
  released(globalGate);
}

/** A slot of `g` is free: back to the primary when other workers wait for it, else to the next held connection. */
function released(g: Gate): void {
  if (leased && g.limit > 0 && g.keep >= 0 && g.slots > g.keep && g.slots > g.active) returnSlots(g, 1);
  serve(g);
}

/** Start held connections while `g` has room. */
function serve(g: Gate): void {
  while (g.waiting.length && room(g)) {
    const h = g.waiting.shift()!;
    if (g === globalGate) {
      globalGate.active++;
      if (h.fe.waiting.length === 0 && room(h.fe)) resume(h);
      else waitFor(h.fe, h);
    } else resume(h);
  }
  reportWant(g);
}

function resume(h: Held): void {
  held--;
  // It holds a global slot: a client gone while held gives it back at once.
  if (h.socket.destroyed) {
    globalGate.active--;
    return released(globalGate);
  }
  opened(h.socket, h.fe);
  h.start();
}

// ---------------------------------------------------------------- cluster leases
function send(m: WorkerToPrimary): void {
  if (process.connected) process.send!(m);
}

/** What this worker needs of `g`: its held connections, and slots for connections served before the limit was set. */
function reportWant(g: Gate): void {
  if (!leased || g.limit === 0) return;
  const want = g.waiting.length + Math.max(0, g.active - g.slots);
  if (want === g.reportedWant) return;
  g.reportedWant = want;
  send({ type: 'slot-want', server: g.key, want, limit: g.limit });
}

function returnSlots(g: Gate, count: number): void {
  g.slots -= count;
  send({ type: 'slot-return', server: g.key, count, limit: g.limit });
}

function gateOf(key: string): Gate | undefined {
  if (key === GLOBAL_KEY) return globalGate;
  return key.startsWith(`${GLOBAL_KEY} `) ? frontendGates.get(key.slice(GLOBAL_KEY.length + 1)) : undefined;
}

function onMessage(m: PrimaryToWorker): void {
  if (typeof m !== 'object' || m === null || (m.type !== 'slot-grant' && m.type !== 'slot-keep')) return;
  const g = gateOf(m.server);
  if (!g) return;
  g.keep = m.keep;
  if (m.type === 'slot-grant') {
    g.slots += m.count;
    g.reportedWant = Math.max(0, g.reportedWant - m.count);
    serve(g);
  }
  // Idle slots above the keep limit go back (a worker with held connections uses them instead).
  if (g.keep >= 0 && g.waiting.length === 0) {
    const idle = Math.min(g.slots - g.active, g.slots - g.keep);
    if (idle > 0) returnSlots(g, idle);
  }
}
