/**
 * How connections reach workers. SO_REUSEPORT (one listening socket per worker,
 * kernel-balanced) where the running Node supports it (22.12+ / 23.1+); else the
 * cluster's own distribution: round robin through the primary (`rr`) or one shared
 * accept socket (`shared`, faster accepts, less even).
 */
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import type { Global } from '../config/model';
import type { ListenMode } from '../ipc/messages';
import type { Logger } from '../log/logger';

/**
 * Node 20 silently ignores `reusePort`, so support is probed: two sockets on one
 * port both bind only when SO_REUSEPORT is really set.
 */
export async function reusePortSupported(): Promise<boolean> {
  const opts = { host: '127.0.0.1', reusePort: true, exclusive: true } as net.ListenOptions;
  const first = net.createServer();
  const second = net.createServer();
  try {
    await new Promise<void>((res, rej) => first.once('error', rej).listen({ ...opts, port: 0 }, res));
    const port = (first.address() as net.AddressInfo).port;
    await new Promise<void>((res, rej) => second.once('error', rej).listen({ ...opts, port }, res));
    return true;
  } catch {
    return false;
  } finally {
    first.close();
    second.close();
  }
}

/** Decides how workers get connections; must run before the first fork (cluster.setupPrimary). */
export async function resolveListenMode(global: Pick<Global, 'acceptMode' | 'workers'>, log: Logger): Promise<ListenMode> {
  const mode = global.acceptMode;
  if (mode === 'auto' || mode === 'reuseport') {
    if (await reusePortSupported()) {
      enableRequestMigration(log);
      return 'reuseport';
    }
    if (mode === 'reuseport') throw new Error(`accept_mode reuseport needs Node >= 22.12 (running ${process.version})`);
  }
  // One worker has nobody to share with: let it accept itself instead of through the primary.
  const shared = mode === 'shared' || (mode === 'auto' && global.workers === 1);
  cluster.schedulingPolicy = shared ? cluster.SCHED_NONE : cluster.SCHED_RR;
  return 'cluster';
}

/**
 * Closing one SO_REUSEPORT listener resets the connections still in its accept
 * queue unless the kernel migrates them (Linux 5.14+): needed for reloads that
 * lose nothing. Only root can set it; otherwise the reload window is documented.
 */
function enableRequestMigration(log: Logger): void {
  try {
    writeFileSync('/proc/sys/net/ipv4/tcp_migrate_req', '1');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot enable net.ipv4.tcp_migrate_req; a reload may reset connections queued on old listeners');
  }
}
