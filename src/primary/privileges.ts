/**
 * Dropping root after binding (HAProxy's `user`/`group`, the seed's run_user/run_group).
 * Names are resolved with getent so a missing user is reported before anything starts.
 */
import { execFileSync } from 'node:child_process';

export interface Identity {
  uid?: number;
  gid?: number;
}

/** A user's or group's numeric id, undefined when it does not exist. */
export function lookup(db: 'passwd' | 'group', name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    const line = execFileSync('getent', [db, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const id = Number(line.split(':')[2]);
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Resolve user/group names; throws with a clear message when one does not exist. */
export function resolveIdentity(user?: string, group?: string): Identity {
  const id: Identity = {};
  if (user) {
    id.uid = lookup('passwd', user);
    if (id.uid === undefined) throw new Error(`user "${user}" does not exist (global.user / run_user)`);
  }
  if (group) {
    id.gid = lookup('group', group);
    if (id.gid === undefined) throw new Error(`group "${group}" does not exist (global.group / run_group)`);
  }
  return id;
}

/** Switch to the configured group and user when running as root; a no-op otherwise. */
export function dropPrivileges(user?: string, group?: string): void {
  if (process.getuid?.() !== 0) return;
  const id = resolveIdentity(user, group);
  if (id.gid !== undefined) {
    process.setgroups?.([id.gid]);
    process.setgid!(id.gid);
  }
  if (id.uid !== undefined) process.setuid!(id.uid);
}
