/**
 * One check's connection: TCP (then TLS when asked), with HAProxy's split of
 * failures by layer — L4 while connecting, L6 during the TLS handshake, L7 (or
 * the caller's choice) once connected — and a bounded receive buffer.
 */
import net from 'node:net';
import tls from 'node:tls';
import { MAX_CHECK_RESPONSE as MAX_RESPONSE } from '../config/limits';
import { CheckFailure, type CheckContext, type CheckResult, type CheckStatus, type CheckTarget } from './types';

const EMPTY = Buffer.alloc(0);

/** strerror(3) texts, which HAProxy prints as the "info" of connection errors. */
const errnoText: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ECONNABORTED: 'Software caused connection abort',
  EHOSTUNREACH: 'No route to host',
  EHOSTDOWN: 'Host is down',
  ENETUNREACH: 'Network is unreachable',
  ENETDOWN: 'Network is down',
  ETIMEDOUT: 'Connection timed out',
  EPIPE: 'Broken pipe',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  ENOENT: 'No such file or directory',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

export function strerror(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && errnoText[code]) || err.message;
}

type Phase = 'idle' | 'connect' | 'tls' | 'data';

export class CheckSession {
  private socket?: net.Socket;
  private buffer: Buffer = EMPTY;
  private phase: Phase = 'idle';
  private failure?: CheckResult;
  private wake?: () => void;
  private timer?: NodeJS.Timeout;
  /** The peer closed, or the buffer is full: no more data will come. */
  ended = false;
  /** Status reported when the connected phase times out (L7TOUT, or L6TOUT for ssl-hello). */
  readTimeoutStatus: CheckStatus = 'L7TOUT';
  /** Appended to timeout/error infos (tcp-check names its step there). */
  where = '';
  /**
   * HTTP/2 for an HTTP check: `always` (h2c prior knowledge; over TLS, h2 offered alone by
   * ALPN), `alpn` (over TLS, `alpnOffer` offered). When the connection speaks h2,
   * `speaksH2` is set and its bytes are left to the h2 client (`connection`).
   */
  h2: 'always' | 'alpn' | undefined;
  alpnOffer: string[] | undefined;
  speaksH2 = false;

  private readonly onAbort = (): void => this.fail({ status: 'SOCKERR', desc: 'check aborted' });

  constructor(
    private readonly target: CheckTarget,
    private readonly signal: AbortSignal,
  ) {
    if (signal.aborted) this.failure = { status: 'SOCKERR', desc: 'check aborted' };
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get data(): Buffer {
    return this.buffer;
  }

  /** The connected socket, for a protocol client that reads it itself (`speaksH2`). */
  get connection(): net.Socket | undefined {
    return this.socket;
  }

  /** Whether the current connection runs TLS. */
  tls = false;

  /** Connect (again), to the target or to an overridden port / TLS setting. */
  async connect(port = this.target.port, useTls = this.target.tls): Promise<void> {
    this.dropSocket();
    this.buffer = EMPTY;
    this.ended = false;
    this.tls = useTls;
    this.phase = 'connect';
    this.arm(this.target.connectTimeout, 'L4TOUT');
    const raw = net.connect({ host: this.target.host, port });
    this.socket = raw;
    raw.setNoDelay(true);
    raw.on('error', (err) => this.onError(err));
    raw.once('connect', () => {
      if (this.socket !== raw) return;
      this.arm(this.target.readTimeout, useTls ? 'L6TOUT' : this.readTimeoutStatus);
      if (!useTls) {
        this.phase = 'data';
        this.speaksH2 = this.h2 === 'always';
        if (!this.speaksH2) this.listen(raw);
        this.wake?.();
        return;
      }
      this.phase = 'tls';
      const alpn = this.h2 === 'always' ? ['h2'] : this.h2 === 'alpn' ? this.alpnOffer : undefined;
      const secure = tls.connect({
        socket: raw,
        servername: this.target.sni && !net.isIP(this.target.sni) ? this.target.sni : undefined,
        rejectUnauthorized: this.target.verify,
        ...this.target.context,
        ...(alpn ? { ALPNProtocols: alpn } : {}),
      });
      this.socket = secure;
      secure.on('error', (err) => this.onError(err));
      secure.once('secureConnect', () => {
        if (this.socket !== secure) return;
        this.phase = 'data';
        this.timerStatus = this.readTimeoutStatus;
        this.speaksH2 = secure.alpnProtocol === 'h2';
        if (!this.speaksH2) this.listen(secure);
        this.wake?.();
      });
    });
    await this.wait(() => this.phase === 'data');
  }

  write(data: Buffer | string): void {
    this.socket?.write(data);
  }

  /** Wait until `enough` holds for the received bytes, or the peer ends. */
  async read(enough: (data: Buffer) => boolean): Promise<void> {
    await this.wait(() => this.ended || enough(this.buffer));
  }

  /** `work`'s outcome, unless the session fails first (its timeout, an abort, a socket error). */
  async settle<T>(work: Promise<T>): Promise<T> {
    let outcome: { value: T } | { error: unknown } | undefined;
    work.then(
      (value) => {
        outcome = { value };
        this.wake?.();
      },
      (error: unknown) => {
        outcome = { error };
        this.wake?.();
      },
    );
    await this.wait(() => outcome !== undefined);
    if ('error' in outcome!) throw outcome.error;
    return outcome!.value;
  }

  /** Drop the first `n` received bytes (a parsed message). */
  consume(n: number): void {
    this.buffer = this.buffer.subarray(n);
  }

  /** Forget what was received so far (a new request's reply starts here). */
  clear(): void {
    this.buffer = EMPTY;
  }

  close(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.dropSocket();
    this.wake = undefined;
  }

  private timerStatus: CheckStatus = 'L4TOUT';

  private arm(ms: number, status: CheckStatus): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerStatus = status;
    this.timer = setTimeout(() => this.fail({ status: this.timerStatus, desc: this.where }), ms);
  }

  private listen(sock: net.Socket): void {
    sock.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      if (this.buffer.length >= MAX_RESPONSE) this.ended = true;
      this.wake?.();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  private onError(err: Error): void {
    if (this.phase === 'connect') this.fail({ status: 'L4CON', desc: strerror(err) + this.where });
    else if (this.phase === 'tls') this.fail({ status: 'L6RSP', desc: err.message + this.where });
    else this.fail({ status: 'SOCKERR', desc: strerror(err) + this.where });
  }

  private fail(result: CheckResult): void {
    if (this.failure) return;
    this.failure = result;
    this.dropSocket();
    this.wake?.();
  }

  private dropSocket(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.socket) {
      this.socket.removeAllListeners('data');
      this.socket.on('error', () => {});
      this.socket.destroy();
      this.socket = undefined;
    }
  }

  private wait(ready: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.failure) {
          this.wake = undefined;
          reject(new CheckFailure({ ...this.failure }));
        } else if (ready()) {
          this.wake = undefined;
          resolve();
        }
      };
      this.wake = check;
      check();
    });
  }
}

/** Run `body` on a fresh session; failures thrown inside become the result. */
export async function withSession(
  ctx: CheckContext,
  body: (session: CheckSession) => Promise<CheckResult>,
  configure?: (session: CheckSession) => void,
): Promise<CheckResult> {
  const session = new CheckSession(ctx.target, ctx.signal);
  configure?.(session);
  try {
    return await body(session);
  } catch (err) {
    if (err instanceof CheckFailure) return err.result;
    return { status: 'SOCKERR', desc: (err as Error).message };
  } finally {
    session.close();
  }
}

/** The first line of a reply, without its CRLF, for infos. */
export function firstLine(data: Buffer): string {
  const text = data.toString('latin1');
  const end = text.search(/\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}
