/**
 * Access-log destinations, named by `global.access_log`:
 *
 * - `stdout` (default): asynchronous writes to fd 1 (pino's SonicBoom); if stdout
 *   stops draining, lines beyond 16 MiB of backlog are dropped rather than
 *   blocking the event loop or growing without bound.
 * - a file path (`/var/log/tslb/access.log`, or `file:///…`): asynchronous appends,
 *   reopened by reopenAccessLogs() (SIGUSR1 → primary → `reopen-logs` to workers),
 *   so logrotate can rename the file and the next lines go to a new one.
 * - `udp://host:port` (RFC 3164) or `udp5424://host:port` (RFC 5424) syslog, with
 *   optional `?facility=local0&tag=tslb`. Port 514 when omitted.
 *
 * Unix datagram syslog (`/dev/log`) is not offered: Node's dgram module only speaks
 * UDP and a unix datagram client needs a native addon.
 */
import * as dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import pino from 'pino';

export interface AccessLogSink {
  /** Queue one line (without newline); never blocks. `error` raises the syslog severity to err. */
  write(line: string, error: boolean): void;
  /** Reopen a file destination by name (log rotation); others ignore it. */
  reopen(): void;
  /** Write out what is buffered, synchronously (process exit). */
  flushSync(): void;
}

export type AccessLogDestination =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'syslog'; rfc: 3164 | 5424; host: string; port: number; facility: number; tag: string };

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, auth2: 10, ftp: 11,
  ntp: 12, audit: 13, alert: 14, cron2: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21,
  local6: 22, local7: 23,
};

/** Parse `global.access_log`; throws with a message meant for the config check. */
export function parseAccessLogDestination(dest: string): AccessLogDestination {
  const d = dest.trim();
  if (d === '' || d === 'stdout') return { kind: 'stdout' };
  if (d.startsWith('file://')) return { kind: 'file', path: decodeURIComponent(d.slice(7)) };
  const scheme = /^([a-z0-9]+):\/\//i.exec(d)?.[1]?.toLowerCase();
  if (!scheme) return { kind: 'file', path: d };
  if (scheme === 'unix' || scheme === 'unixgram')
    throw new Error(`access_log ${d}: unix datagram syslog is not supported (Node has no unix datagram sockets); use udp://127.0.0.1:514`);
  if (scheme !== 'udp' && scheme !== 'udp5424' && scheme !== 'udp3164')
    throw new Error(`access_log ${d}: unknown scheme '${scheme}' (stdout, a file path, udp://host:port, udp5424://host:port)`);
  let url: URL;
  try {
    url = new URL(d.replace(/^[a-z0-9]+:/i, 'http:'));
  } catch {
    throw new Error(`access_log ${d}: not a valid host:port`);
  }
  const facilityName = url.searchParams.get('facility') ?? 'local0';
  const facility = FACILITIES[facilityName];
  if (facility === undefined) throw new Error(`access_log ${d}: unknown syslog facility '${facilityName}'`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new Error(`access_log ${d}: missing host`);
  return {
    kind: 'syslog',
    rfc: scheme === 'udp5424' ? 5424 : 3164,
    host,
    port: url.port ? Number(url.port) : 514,
    facility,
    tag: url.searchParams.get('tag') ?? 'tslb',
  };
}

/** A message for the config check, or undefined when the destination is usable. */
export function accessLogDestinationError(dest: string): string | undefined {
  try {
    parseAccessLogDestination(dest);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

type Boom = ReturnType<typeof pino.destination> & { reopen(file?: string): void; flushSync(): void };

const STDOUT_BACKLOG = 16 * 1024 * 1024;

class StreamSink implements AccessLogSink {
  constructor(
    private readonly boom: Boom,
    private readonly isFile: boolean,
  ) {
    // A write error (EPIPE, disk full) must not kill the worker; the next reopen may recover.
    boom.on('error', noop);
  }
  /** Lines of this event-loop turn, written together: one write per turn, not per request. */
  private pending = '';
  private scheduled = false;
  private readonly flushPending = (): void => {
    this.scheduled = false;
    const text = this.pending;
    this.pending = '';
    if (text) this.boom.write(text);
  };

  write(line: string): void {
    this.pending += line + '\n';
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushPending);
    }
  }
  reopen(): void {
    this.flushPending();
    if (this.isFile) this.boom.reopen();
  }
  flushSync(): void {
    this.flushPending();
    try {
      this.boom.flushSync();
    } catch {
      // not open yet, or the descriptor is gone: nothing can be saved
    }
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SEVERITY_INFO = 6;
const SEVERITY_ERR = 3;
/** Bigger datagrams are refused by the kernel. */
const MAX_DATAGRAM = 65000;

class SyslogSink implements AccessLogSink {
  private readonly socket: dgram.Socket;
  private readonly host = hostname();
  private sec = -1;
  private stamp = '';

  constructor(private readonly d: Extract<AccessLogDestination, { kind: 'syslog' }>) {
    this.socket = dgram.createSocket(isIPv6(d.host) ? 'udp6' : 'udp4');
    this.socket.on('error', noop);
    this.socket.unref();
  }

  /** RFC 3164 `Nov 26 00:52:48` (local) or RFC 5424 ISO time, cached per second. */
  private timestamp(ms: number): string {
    if (this.d.rfc === 5424) return new Date(ms).toISOString();
    const sec = Math.floor(ms / 1000);
    if (sec !== this.sec) {
      const t = new Date(sec * 1000);
      const day = t.getDate();
      this.sec = sec;
      this.stamp = `${MONTHS[t.getMonth()]} ${day < 10 ? ' ' + day : day} ${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`;
    }
    return this.stamp;
  }

  write(line: string, error: boolean): void {
    const d = this.d;
    const pri = d.facility * 8 + (error ? SEVERITY_ERR : SEVERITY_INFO);
    const ts = this.timestamp(Date.now());
    const msg =
      d.rfc === 5424
        ? `<${pri}>1 ${ts} ${this.host} ${d.tag} ${process.pid} - - ${line}`
        : `<${pri}>${ts} ${this.host} ${d.tag}[${process.pid}]: ${line}`;
    let buf = Buffer.from(msg);
    if (buf.length > MAX_DATAGRAM) buf = buf.subarray(0, MAX_DATAGRAM);
    this.socket.send(buf, d.port, d.host);
  }
  reopen(): void {}
  flushSync(): void {}
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function noop(): void {}

function createSink(dest: AccessLogDestination): AccessLogSink {
  switch (dest.kind) {
    case 'stdout':
      return new StreamSink(pino.destination({ dest: 1, sync: false, minLength: 0, maxLength: STDOUT_BACKLOG }) as Boom, false);
    case 'file':
      return new StreamSink(pino.destination({ dest: dest.path, sync: false, minLength: 0, mkdir: true, append: true }) as Boom, true);
    case 'syslog':
      return new SyslogSink(dest);
  }
}

/** One sink per destination string per process, shared by every frontend and generation. */
const sinks = new Map<string, AccessLogSink>();

export function accessLogSink(dest: string): AccessLogSink {
  let s = sinks.get(dest);
  if (!s) sinks.set(dest, (s = createSink(parseAccessLogDestination(dest))));
  return s;
}

/** Log rotation: reopen every file destination by name (SIGUSR1 → primary → `reopen-logs`). */
export function reopenAccessLogs(): void {
  for (const s of sinks.values()) s.reopen();
}

export function flushAccessLogs(): void {
  for (const s of sinks.values()) s.flushSync();
}
