/**
 * One remote peer of a section, as this node sees it: the connection this node dials
 * (its updates go out on it, the peer's resync answer comes back on it) and the one
 * the peer dialled (the peer's updates come in on it), their states and counters
 * (`show peers`). Dialling retries with a growing delay.
 */
import { WebSocket } from 'ws';
import type { RefusedStatus } from './wire';

/** HAProxy's peer status codes (peers.c statuscode_str), plus AUTH. */
export type PeerStatus = 'NONE' | 'CONN' | 'HSHK' | 'ESTA' | 'TOUT' | RefusedStatus;

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/** A socket with the heartbeat's mark. */
export interface PeerSocket extends WebSocket {
  alive?: boolean;
}

export class RemotePeer {
  /** Either connection is up: the peer is live. */
  get active(): boolean {
    return this.status === 'ESTA' || this.in !== undefined;
  }

  /** The connection this node dialled, once open (authenticated when `status` is ESTA). */
  out: PeerSocket | undefined;
  /** The connection the peer dialled, once it proved the secret. */
  in: PeerSocket | undefined;
  /** The dialled connection's state, or how it last ended. */
  status: PeerStatus = 'NONE';
  /** How the last connection the peer dialled ended when it was refused (NONE: never). */
  inStatus: PeerStatus = 'NONE';
  lastHandshake = 0;
  reconnectAt = 0;
  private delay = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  /** The peer's resync answer was applied since the last connection. */
  learned = false;
  readonly counters = { newConn: 0, protoErr: 0, authErr: 0, txHbt: 0, rxHbt: 0, noHbt: 0, txUpd: 0, rxUpd: 0 };

  constructor(
    readonly name: string,
    readonly address: string,
    readonly port: number,
  ) {}

  /** The last connection error logged (logged again only when it changes). */
  lastError = '';

  url(tls: boolean): string {
    return `${tls ? 'wss' : 'ws'}://${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.port}/`;
  }

  /** Dial again after the current delay, which then doubles (up to RECONNECT_MAX_MS). */
  retry(dial: () => void): void {
    clearTimeout(this.timer);
    const wait = this.delay;
    this.delay = Math.min(RECONNECT_MAX_MS, this.delay * 2);
    this.reconnectAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.reconnectAt = 0;
      dial();
    }, wait);
    this.timer.unref();
  }

  /** Established: the next failure retries quickly again. */
  established(): void {
    this.delay = RECONNECT_MIN_MS;
    this.lastHandshake = Date.now();
    this.learned = false;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.out?.terminate();
    this.in?.terminate();
    this.out = this.in = undefined;
  }
}
