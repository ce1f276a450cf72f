/**
 * Passive health in the worker, HAProxy's `observe`, `on-marked-down` and
 * `on-marked-up` server keywords.
 *
 * - `observe layer4|layer7`: the data path reports what each exchange with a
 *   server showed (HAProxy's analyze statuses); consecutive errors are counted
 *   here, per worker, and only when they reach `error-limit` is the primary told
 *   (one IPC message per `error-limit` errors, none per request). The primary
 *   applies `on-error` to the server's check state (src/primary/health.ts).
 * - `on-marked-down shutdown-sessions` / `on-marked-up shutdown-backup-sessions`:
 *   sessions register on the servers whose state changes may cut them; when the
 *   primary's update marks such a server DOWN (or an active server UP), they are
 *   cut, with HAProxy's termination states (D… / U…).
 *
 * Servers without any of these keywords carry no state here (`passive` is null),
 * so the data path pays one null check per hook.
 */
import type { Backend, PassiveCheck, Server } from '../config/model';
import type { WorkerToPrimary } from '../ipc/messages';
import { closeIdleTo } from '../http/pool';
import type { ServerRuntime } from './runtime';

// HAProxy's analyze statuses (HANA_STATUS_*) that tslb's data path reports.
/** A connection to the server was established. */
export const OBS_L4_OK = 0;
/** A connection attempt failed or timed out. */
export const OBS_L4_ERR = 1;
/** A response whose status is not a server error (5xx other than 501/505). */
export const OBS_HTTP_OK = 2;
/** A 5xx response other than 501/505 (those answer the client's request). */
export const OBS_HTTP_STS = 3;
/** An invalid response head. */
export const OBS_HTTP_HDRRSP = 4;
/** An invalid response body. */
export const OBS_HTTP_RSP = 5;
/** No response within `timeout server`. */
export const OBS_READ_TIMEOUT = 6;
/** The server closed before its response head. */
export const OBS_BROKEN_PIPE = 7;

/** What HAProxy's message says the last error was ("… last one was: <this>"). */
const DESCRIPTIONS = [
  'L4 successful connection',
  'L4 unsuccessful connection',
  'Correct http response',
  'Wrong http response',
  'Invalid http response (headers)',
  'Invalid http response',
  'Read timeout (http)',
  'Close from server (http)',
];

const IGNORE = 0;
const ERROR = 1;
const SUCCESS = 2;
/** Per status, what each observed layer makes of it (HAProxy's analyze_statuses lr[]). */
const LAYER4 = [SUCCESS, ERROR, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE];
const LAYER7 = [IGNORE, ERROR, SUCCESS, ERROR, ERROR, ERROR, ERROR, ERROR];

/** A session that may be cut when its server's state changes. */
export interface ServerSession {
  /** Close both sides now; `cause` is the termination state's first letter: D (server DOWN) or U (an active server UP). */
  shutdown(cause: 'D' | 'U'): void;
}

/** One server's passive-health state in this worker. */
export class PassiveHealth {
  /** Consecutive errors observed since the last success or report. */
  errors = 0;
  /** What each status counts as; null when the server is not observed. */
  readonly verdicts: readonly number[] | null;
  readonly limit: number;
  /** Sessions on the server, kept only when a state change may cut them. */
  readonly sessions: Set<ServerSession> | null;

  constructor(observe: PassiveCheck | undefined, keepSessions: boolean) {
    this.verdicts = observe ? (observe.layer === 'layer7' ? LAYER7 : LAYER4) : null;
    this.limit = observe?.errorLimit ?? 0;
    this.sessions = keepSessions ? new Set() : null;
  }
}

/** The passive-health state `server` needs, or null when it has none of the keywords. */
export function passiveHealthFor(server: Server, backend: Backend): PassiveHealth | null {
  const c = server.check;
  const keepSessions =
    c.onMarkedDown === 'shutdown-sessions' ||
    (server.backup && backend.servers.some((s) => !s.backup && s.check.onMarkedUp === 'shutdown-backup-sessions'));
  if (!c.observe && !keepSessions) return null;
  return new PassiveHealth(c.observe, keepSessions);
}

/** What one exchange with `server` showed (an OBS_* status). */
export function observe(server: ServerRuntime, status: number): void {
  const p = server.passive;
  if (p === null || p.verdicts === null) return;
  const verdict = p.verdicts[status];
  if (verdict === SUCCESS) p.errors = 0;
  else if (verdict === ERROR && ++p.errors >= p.limit) {
    send({ type: 'observed-errors', backend: server.backend.name, server: server.name, errors: p.errors, last: DESCRIPTIONS[status] });
    p.errors = 0;
  }
}

/** A final (or 101) response status from `server`. */
export function observeStatus(server: ServerRuntime, status: number): void {
  if (server.passive !== null) observe(server, status < 500 || status === 501 || status === 505 ? OBS_HTTP_OK : OBS_HTTP_STS);
}

/**
 * The response from `server` failed: an invalid head or body, or a close. A close
 * before the head is a broken pipe; one in the middle of the body is no verdict
 * on the server (HAProxy counts it as a server abort only).
 */
export function observeResponseFailure(server: ServerRuntime, started: boolean, closed: boolean): void {
  if (server.passive === null) return;
  if (!started) observe(server, closed ? OBS_BROKEN_PIPE : OBS_HTTP_HDRRSP);
  else if (!closed) observe(server, OBS_HTTP_RSP);
}

/** `session` now uses `server`. */
export function holdSession(server: ServerRuntime, session: ServerSession): void {
  server.passive?.sessions?.add(session);
}

/** `session` is done with `server`. */
export function dropSession(server: ServerRuntime, session: ServerSession): void {
  server.passive?.sessions?.delete(session);
}

/**
 * After the primary's update changed `server`'s state: cut its sessions when it
 * stopped serving (DOWN or maintenance) with `on-marked-down shutdown-sessions`;
 * cut the backup servers' sessions when this active server came back with
 * `on-marked-up shutdown-backup-sessions`.
 */
export function serverStateChanged(server: ServerRuntime, wasServing: boolean): void {
  const serving = server.up && server.admin !== 'maint';
  if (serving === wasServing) return;
  const c = server.config.check;
  if (!serving) {
    if (c.onMarkedDown === 'shutdown-sessions') shutdownSessions(server, 'D');
  } else if (c.onMarkedUp === 'shutdown-backup-sessions' && !server.config.backup) {
    for (const s of server.backend.servers) if (s.config.backup) shutdownSessions(s, 'U');
  }
}

function shutdownSessions(server: ServerRuntime, cause: 'D' | 'U'): void {
  const sessions = server.passive?.sessions;
  // shutdown() drops each session from the set: iterate over a copy.
  if (sessions?.size) for (const s of [...sessions]) s.shutdown(cause);
  closeIdleTo(server);
}

function send(msg: WorkerToPrimary): void {
  if (process.connected) process.send!(msg);
}
