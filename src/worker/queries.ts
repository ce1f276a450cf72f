/**
 * The worker's answers to the runtime API (asked by the primary's Supervisor.query,
 * gathered and printed by src/primary/runtime-api.ts): its live sessions, its last
 * invalid messages, its HTTP caches (`show cache`), and the run-time changes it applies (`set maxconn
 * frontend|global`, `add|set|del|clear acl|map`). Stick tables are the primary's
 * (src/stick/primary.ts).
 */
import type * as net from 'node:net';
import type { WorkerQuery } from '../ipc/messages';
import type { ConnectionInfo } from './connection';
import { errorCaptures } from './error-capture';
import { liveHttpSessions } from '../http1/session';
import { liveH2Streams } from '../http2/session';
import { setConnectionLimit } from './conn-limit';
import { setCompressionRate } from '../http/compression-limits';
import { editPatterns } from '../rules/patterns';
import { cacheFacts } from '../http/cache/store';

/** A live client session as the data path describes it. */
export interface LiveSession {
  /** The client connection (its identity names the session). */
  conn: object;
  info: ConnectionInfo;
  frontend: string;
  backend?: string;
  server?: string;
}

/** One `show sess` line's facts. */
export interface SessionFacts {
  /** Unique across workers: the worker's pid, then a sequence number (hex). */
  id: string;
  proto: 'tcpv4' | 'tcpv6';
  src: string;
  srcPort: number;
  frontend: string;
  backend?: string;
  server?: string;
  /** ms since accept. */
  age: number;
}

/**
 * tcp.ts attaches its session to the client socket as `tcpSession`; these are the
 * fields `show sess` reads from it.
 */
interface TcpSessionFields {
  fe: { name: string };
  be: { name: string };
  info: ConnectionInfo;
  srv?: { name: string };
}

const sessionIds = new WeakMap<object, string>();
let nextSessionId = 1;

function sessionId(conn: object): string {
  let id = sessionIds.get(conn);
  if (!id) sessionIds.set(conn, (id = `${process.pid.toString(16)}${(nextSessionId++).toString(16).padStart(8, '0')}`));
  return id;
}

function sessionFacts(s: LiveSession, now: number): SessionFacts {
  return {
    id: sessionId(s.conn),
    proto: s.info.dst.includes(':') ? 'tcpv6' : 'tcpv4',
    src: s.info.src,
    srcPort: s.info.srcPort,
    frontend: s.frontend,
    backend: s.backend,
    server: s.server,
    age: now - s.info.acceptedAt,
  };
}

function sessions(live: ReadonlySet<net.Socket>): SessionFacts[] {
  const now = Date.now();
  const out = [...liveHttpSessions(), ...liveH2Streams()].map((s) => sessionFacts(s, now));
  for (const sock of live) {
    const t = (sock as net.Socket & { tcpSession?: TcpSessionFields }).tcpSession;
    if (t) out.push(sessionFacts({ conn: sock, info: t.info, frontend: t.fe.name, backend: t.be.name, server: t.srv?.name }, now));
  }
  return out;
}

/** The answer to one query; `live` is every client socket of the worker. */
export function answerQuery(q: WorkerQuery, live: ReadonlySet<net.Socket>): unknown {
  switch (q.what) {
    case 'sessions':
      return sessions(live);
    case 'errors':
      return errorCaptures();
    case 'caches':
      return cacheFacts();
    case 'set-maxconn':
      // args: frontend <name> <n> | global <n>
      if (q.args[0] === 'global') setConnectionLimit(undefined, Number(q.args[1]));
      else setConnectionLimit(q.args[1], Number(q.args[2]));
      return true;
    case 'set-comp-rate':
      // args: <kB/s for the node>
      setCompressionRate(Number(q.args[0]));
      return true;
    case 'pattern-edit':
      // args: <file> add|set|del|clear [<key> [<value>]] (src/rules/patterns.ts editWords)
      return editPatterns(q.args);
  }
}
