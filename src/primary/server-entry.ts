/**
 * One server's state as the primary keeps it (src/primary/health.ts): check health,
 * administrative state, the run-time weight, maxconn and address, DNS resolution
 * maintenance, and what was last sent to the workers.
 */
import type { Backend, Server } from '../config/model';
import { isSrvLabel } from '../config/resolvers';
import type { CheckStatus } from '../checks/types';
import type { ServerStateUpdate } from '../ipc/messages';

export type Admin = 'ready' | 'drain' | 'maint';

/** What workers apply: the IPC update, plus a maxconn learned from an agent. */
export type ServerUpdate = ServerStateUpdate & { maxconn: number };

export class ServerEntry {
  readonly checked: boolean;
  readonly max: number;
  health: number;
  agentDown = false;
  admin: Admin;
  /** Set at run time (runtime API or agent), carried across reloads. */
  adminSet = false;
  weight: number;
  weightSet = false;
  maxconn: number;
  maxconnSet = false;
  /** Where the server is; the runtime API may move it (`set server B/S addr`). */
  address: string;
  port: number;
  addressSet = false;
  /** DNS gives no address (HAProxy's resolution maintenance, apart from `admin`, which the runtime API sets). */
  rmaint: boolean;
  /** Host name the address comes from (an SRV slot's is its record's target). */
  host: string;
  up: boolean;
  checkStatus: CheckStatus | '';
  checkCode?: number;
  checkDuration?: number;
  checkDesc = '';
  agentStatus: CheckStatus | '' = '';
  agentDesc = '';
  chkfail = 0;
  chkdown = 0;
  hanafail = 0;
  lastchg: number;
  downtime = 0;
  timer?: NodeJS.Timeout;
  /** When `timer` fires (ms timestamp). */
  nextCheck = 0;
  /** Observed errors asked for fastinter: the next checks use it until one passes at full health. */
  fastinterForced = false;
  agentTimer?: NodeJS.Timeout;
  /** The last state sent to workers. */
  sent: string;

  constructor(
    readonly backend: Backend,
    readonly server: Server,
    now: number,
  ) {
    const c = server.check;
    this.checked = c.enabled;
    this.max = c.rise + c.fall - 1;
    // Checked servers start fully UP and need `fall` failures to go DOWN (the decision, HAProxy's init-state fully-up).
    this.health = this.max;
    this.checkStatus = this.checked ? 'INI' : '';
    this.admin = server.disabled ? 'maint' : 'ready';
    this.weight = server.weight;
    this.maxconn = server.maxconn;
    this.address = server.address;
    this.port = server.port;
    // init-addr left no address (src/primary/init-addr.ts): in maintenance until DNS gives one.
    this.rmaint = server.dns !== undefined && server.address === '';
    this.host = server.dns && !isSrvLabel(server.dns.fqdn) ? server.dns.fqdn : '';
    this.up = true;
    this.lastchg = now;
    this.sent = '';
  }

  /** Operational state from the check and the agent. */
  operational(): boolean {
    return (!this.checked || this.health >= this.server.check.rise) && !this.agentDown;
  }

  /** The administrative state workers and stats see: resolution maintenance is maintenance. */
  effectiveAdmin(): Admin {
    return this.rmaint ? 'maint' : this.admin;
  }

  /** Takes new traffic (counts as active/backup in HAProxy's messages). */
  usable(): boolean {
    return this.up && this.effectiveAdmin() === 'ready' && this.weight > 0;
  }

  update(): ServerUpdate {
    const u: ServerUpdate = { backend: this.backend.name, server: this.server.name, up: this.up, admin: this.effectiveAdmin(), weight: this.weight, maxconn: this.maxconn };
    if (this.addressSet) {
      u.address = this.address;
      u.port = this.port;
    }
    return u;
  }
}
