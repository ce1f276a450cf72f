/**
 * The contract between the health monitor (src/primary/health.ts) and the check
 * kinds: one module per kind, each a `CheckKind`, registered in registry.ts.
 */
import type { SecureContextOptions } from 'node:tls';
import type { Backend, HealthCheck, Server } from '../config/model';

/** HAProxy's check statuses (`show stat` check_status column). */
export type CheckStatus =
  | 'UNK'
  | 'INI'
  | 'SOCKERR'
  | 'L4OK'
  | 'L4TOUT'
  | 'L4CON'
  | 'L6OK'
  | 'L6TOUT'
  | 'L6RSP'
  | 'L7OK'
  | 'L7OKC'
  | 'L7TOUT'
  | 'L7RSP'
  | 'L7STS'
  | 'PROCERR'
  | 'PROCTOUT'
  | 'PROCOK'
  /** Errors observed on live traffic (passive health, HAProxy's health analysis). */
  | 'HANA';

/** Where and how one check run connects. */
export interface CheckTarget {
  host: string;
  port: number;
  /** Run the check over TLS (`check-ssl`, or a server with `ssl` and no check port). */
  tls: boolean;
  sni?: string;
  /** Verify the server certificate (server `verify required`). */
  verify: boolean;
  /** CA, client certificate and versions from the server's keywords (src/tls/client.ts). */
  context: SecureContextOptions;
  /** What HTTP checks speak besides HTTP/1.x (ServerCheck.proto), and the server's ALPN list for `alpn`. */
  httpProto?: 'h2' | 'alpn';
  alpn?: string[];
  /** Connect timeout, ms. */
  connectTimeout: number;
  /** Time allowed after the connection is up, ms. */
  readTimeout: number;
}

export interface CheckContext {
  target: CheckTarget;
  spec: HealthCheck;
  backend: Backend;
  server: Server;
  /** Aborted when the monitor stops: the run must release its socket/child at once. */
  signal: AbortSignal;
}

export interface CheckResult {
  status: CheckStatus;
  /** Protocol code: HTTP status, MySQL error, SMTP reply code, process exit status. */
  code?: number;
  /** HAProxy's "info" text. */
  desc: string;
  /** What an agent-check reply asked for. */
  agent?: AgentReply;
}

/** A parsed agent-check reply ("75%,maxconn:30,drain", "down#disk full"). */
export interface AgentReply {
  /** Percent of the configured weight. */
  weightPercent?: number;
  maxconn?: number;
  admin?: 'ready' | 'drain' | 'maint';
  state?: 'up' | 'down';
}

export interface CheckKind {
  readonly name: string;
  run(ctx: CheckContext): Promise<CheckResult>;
}

const descriptions: Record<CheckStatus, string> = {
  UNK: 'Unknown',
  INI: 'Initializing',
  SOCKERR: 'Socket error',
  L4OK: 'Layer4 check passed',
  L4TOUT: 'Layer4 timeout',
  L4CON: 'Layer4 connection problem',
  L6OK: 'Layer6 check passed',
  L6TOUT: 'Layer6 timeout',
  L6RSP: 'Layer6 invalid response',
  L7OK: 'Layer7 check passed',
  L7OKC: 'Layer7 check conditionally passed',
  L7TOUT: 'Layer7 timeout',
  L7RSP: 'Layer7 invalid response',
  L7STS: 'Layer7 wrong status',
  PROCERR: 'External check error',
  PROCTOUT: 'External check timeout',
  PROCOK: 'External check passed',
  HANA: 'Health analyze',
};

/** The "reason" HAProxy prints for a status. */
export function statusDescription(status: CheckStatus): string {
  return descriptions[status];
}

export function statusPassed(status: CheckStatus): boolean {
  return status === 'L4OK' || status === 'L6OK' || status === 'L7OK' || status === 'L7OKC' || status === 'PROCOK';
}

/** Statuses that carry layer 5-7 data, for which HAProxy prints ", code: N". */
export function statusHasCode(status: CheckStatus): boolean {
  return (
    status === 'L7OK' ||
    status === 'L7OKC' ||
    status === 'L7STS' ||
    status === 'PROCERR' ||
    status === 'PROCTOUT' ||
    status === 'PROCOK'
  );
}

/** A check ended early with this result (thrown inside a kind, caught by its runner). */
export class CheckFailure extends Error {
  constructor(public result: CheckResult) {
    super(result.desc || result.status);
  }
}
