/**
 * The peers protocol's messages (JSON text frames over a WebSocket) and the two
 * pieces of it that need care: the HMAC challenge-response that proves the shared
 * secret without sending it, and entries as values on the wire (a rate's tick sent
 * as its age, so the receiver rebuilds it on its own clock, as HAProxy's peers do).
 *
 * A connection: the acceptor sends `challenge`; the dialer answers `hello` with its
 * MAC over both nonces and both names; the acceptor checks it and answers `welcome`
 * with its own MAC (so the dialer knows the acceptor holds the secret too), or
 * `refused` and closes. Then the dialer asks `resync` and teaches its own entries
 * (`sync` chunks, `sync-end`); the acceptor answers `resync` with its entries. After
 * that the dialer pushes its node's updates (`upd`: increments, `set`: values set by
 * an operator). Each node dials every other, so each direction of updates has its
 * own connection and no update is sent twice.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DATA_TYPES, type Layout } from '../stick/layout';
import type { StickEntry } from '../stick/store';

export const PROTOCOL = 'tslb-peers/1';

/** Increments of one entry: key, the `stick on` server stored (null: none), the delta (src/stick/layout.ts). */
export type WireDelta = [key: string, server: string | null, delta: number[]];
/** An entry as values: key, ms until it expires (0: never), server, values with each rate's tick as an age. */
export type WireEntry = [key: string, expiresIn: number, server: string, values: number[]];

export type PeerMessage =
  | { t: 'challenge'; v: string; section: string; name: string; nonce: string }
  | { t: 'hello'; v: string; section: string; from: string; to: string; nonce: string; mac: string }
  | { t: 'welcome'; mac: string }
  | { t: 'refused'; status: RefusedStatus; reason: string }
  | { t: 'resync' }
  | { t: 'sync'; tables: Record<string, WireEntry[]> }
  | { t: 'sync-end' }
  | { t: 'upd'; tables: Record<string, WireDelta[]> }
  | { t: 'set'; tables: Record<string, WireEntry[]> };

/** HAProxy's peer status codes where one fits (PROT, VERS, NAME); AUTH is tslb's: the secret did not match. */
export type RefusedStatus = 'AUTH' | 'NAME' | 'PROT' | 'VERS';

export function nonce(): string {
  return randomBytes(24).toString('base64');
}

/** The MAC a side proves the secret with: over the role, the section, both names and both nonces. */
export function proof(secret: string | undefined, role: 'dialer' | 'acceptor', section: string, dialer: string, acceptor: string, dialerNonce: string, acceptorNonce: string): string {
  if (secret === undefined) return '';
  return createHmac('sha256', secret).update(`${PROTOCOL}\n${role}\n${section}\n${dialer}\n${acceptor}\n${dialerNonce}\n${acceptorNonce}`).digest('base64');
}

export function sameProof(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** An entry's values for the wire (its own array is left alone). */
export function toWire(e: StickEntry, layout: Layout, now: number): WireEntry {
  const v = e.values.slice();
  for (const type of layout.stored) if (DATA_TYPES[type].kind === 'rate') v[layout.slot[type]] = now - v[layout.slot[type]];
  return [e.key, e.expires ? Math.max(1, e.expires - now) : 0, e.server, v];
}

/** Values from the wire, each rate's tick back on this node's clock (in place). */
export function fromWire(values: number[], layout: Layout, now: number): number[] {
  for (const type of layout.stored) if (DATA_TYPES[type].kind === 'rate') values[layout.slot[type]] = now - values[layout.slot[type]];
  return values;
}

/** A received message, or undefined when it is not one (the link then fails with PROT). */
export function parseMessage(data: unknown): PeerMessage | undefined {
  try {
    const m = JSON.parse(String(data)) as PeerMessage;
    return m && typeof m === 'object' && typeof m.t === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
