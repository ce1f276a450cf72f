/**
 * Sharing per-server load between workers, for the balancers that compare load
 * (leastconn, random): each worker reports its own `active` counts to the primary
 * when they change (at most every LOAD_INTERVAL), and receives the sum of the other
 * workers' counts as `peerActive`. A worker's own count is always exact; the others'
 * are at most one interval plus an IPC hop old.
 */
import type { WorkerToPrimary } from '../ipc/messages';
import type { Runtime, ServerRuntime } from './runtime';

export const LOAD_INTERVAL = 100;
const LOAD_AWARE = new Set(['leastconn', 'random']);

export function startLoadReports(runtime: Runtime, generation: number, send: (m: WorkerToPrimary) => void): () => void {
  const servers: [string, ServerRuntime][] = [];
  for (const b of runtime.backends.values()) {
    if (!LOAD_AWARE.has(b.config.balance.algorithm)) continue;
    for (const s of b.servers) servers.push([`${b.name}/${s.name}`, s]);
  }
  if (servers.length === 0) return () => undefined;
  const last = new Int32Array(servers.length);
  const timer = setInterval(() => {
    let changed = false;
    for (let i = 0; i < servers.length; i++) {
      if (servers[i][1].active !== last[i]) {
        changed = true;
        last[i] = servers[i][1].active;
      }
    }
    if (!changed) return;
    const active: Record<string, number> = {};
    for (let i = 0; i < servers.length; i++) active[servers[i][0]] = last[i];
    send({ type: 'load', generation, active });
  }, LOAD_INTERVAL);
  timer.unref();
  return () => clearInterval(timer);
}

export function applyPeerLoad(runtime: Runtime, active: Record<string, number>): void {
  for (const key in active) {
    const slash = key.indexOf('/');
    const server = runtime.backends.get(key.slice(0, slash))?.byName.get(key.slice(slash + 1));
    if (server) server.peerActive = active[key];
  }
}
