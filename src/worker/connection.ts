/**
 * What every data-path handler receives with an accepted socket: the connection's
 * addresses (after PROXY protocol), TLS facts, and the worker it runs in.
 */
import type { ConnectionFacts } from '../rules/context';
import type { Runtime } from './runtime';
import type { Trackers } from '../stick/worker';

export interface ConnectionInfo extends ConnectionFacts {
  /** `sess.` variables set by http-request set-var: they live as long as the connection. */
  sessVars?: Map<string, string | number | boolean>;
  /** Timestamp (ms, Date.now()) of accept, for logs and timers. */
  acceptedAt: number;
  /** The stick counters it tracks (src/stick/tcp-rules.ts trackersOf), once a track-sc rule tracked one. */
  trackers?: Trackers;
}

/** The worker-wide state a handler needs. One instance per worker process. */
export interface WorkerContext {
  /** The config generation this worker serves. */
  readonly runtime: Runtime;
  /**
   * Set once the worker is asked to drain (reload/stop). HTTP sessions then answer
   * their next response with `Connection: close` and close when idle after it;
   * idle keep-alive connections are not closed under a client.
   */
  draining: boolean;
  /** Register a live client connection; the worker exits when none remain while draining. */
  track(socket: import('node:net').Socket): void;
  /**
   * Coarse clock (ms) updated by one timer tick per worker, for timeouts that
   * must not cost a timer per socket.
   */
  now(): number;
}
