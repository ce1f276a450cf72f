/**
 * TLS termination on a bind: one secure context per certificate, built once per
 * bind, chosen by SNI (exact name, then `*.parent` wildcard, then the first
 * certificate). Every context carries the same ticket keys, shared by all workers,
 * so a session ticket issued by one worker resumes on any other.
 *
 * Client-initiated renegotiation (TLS ≤ 1.2) is refused with a no_renegotiation alert,
 * as HAProxy's bind contexts do: each one would cost a private-key operation, and
 * Node's own limit (tls.CLIENT_RENEG_LIMIT) reports only through a tls.Server, which
 * these sockets, wrapped one by one, do not have.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { constants as cryptoConstants, randomFillSync } from 'node:crypto';
import type { TlsBindOptions, TlsCertificate } from '../config/model';
import { verifyContextOptions, verifySocketOptions } from './client-cert';

/** Secure contexts by lower-case name; wildcard entries are keyed by their `.parent` suffix. */
interface ContextTable {
  exact: Map<string, tls.SecureContext>;
  wildcard: Map<string, tls.SecureContext>;
  fallback: tls.SecureContext;
}

function buildContexts(opts: TlsBindOptions, ticketKeys: Buffer): ContextTable {
  if (opts.certificates.length === 0) throw new Error('a TLS bind needs at least one certificate');
  const exact = new Map<string, tls.SecureContext>();
  const wildcard = new Map<string, tls.SecureContext>();
  let fallback: tls.SecureContext | undefined;
  for (const c of opts.certificates) {
    const ctx = tls.createSecureContext({
      cert: c.cert,
      key: c.key,
      minVersion: opts.minVersion,
      maxVersion: opts.maxVersion,
      ciphers: cipherString(opts),
      ticketKeys,
      secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
      ...verifyContextOptions(opts),
    });
    renewTickets(ctx, ticketKeys);
    fallback ??= ctx;
    // The first certificate naming a host wins, as with HAProxy's crt order.
    for (const raw of c.names) {
      const name = raw.toLowerCase();
      if (name.startsWith('*.')) {
        if (!wildcard.has(name.slice(1))) wildcard.set(name.slice(1), ctx);
      } else if (!exact.has(name)) exact.set(name, ctx);
    }
  }
  return { exact, wildcard, fallback: fallback! };
}

/** Node's own ticket key hook on a context (used by its tests); absent on a Node without it. */
interface TicketKeyHook {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => [number, Buffer, Buffer, Buffer?, Buffer?];
}

/**
 * Session tickets that renew: with `ticketKeys` alone, Node accepts a ticket without
 * issuing a new one, so a TLS 1.3 client whose tickets are single-use (browsers, wrk)
 * gets a full handshake every other connection. Answering "valid, renew" (2) to a
 * decryption makes OpenSSL send a fresh ticket after each resumption, as HAProxy does.
 * Same key layout as `ticketKeys` (name, HMAC secret, AES key; 16 bytes each), so the
 * workers still share tickets. Where the hook is missing the context keeps `ticketKeys`.
 */
function renewTickets(ctx: tls.SecureContext, ticketKeys: Buffer): void {
  const hook = (ctx as unknown as { context?: TicketKeyHook }).context;
  if (!hook || typeof hook.enableTicketKeyCallback !== 'function') return;
  const name = ticketKeys.subarray(0, 16);
  const hmac = ticketKeys.subarray(16, 32);
  const aes = ticketKeys.subarray(32, 48);
  // Node copies the IV out before the callback returns, so one buffer serves every ticket.
  const iv = Buffer.alloc(16);
  hook.onticketkeycallback = (ticketName, _iv, encrypt) => {
    if (encrypt) return [1, hmac, aes, name, randomFillSync(iv)];
    return [ticketName.equals(name) ? 2 : 0, hmac, aes];
  };
  hook.enableTicketKeyCallback();
}

/**
 * Node takes TLS 1.3 suites (`TLS_*`) and the TLS ≤ 1.2 list in one `ciphers`
 * string; the part the bind leaves unset keeps Node's default.
 */
function cipherString(opts: TlsBindOptions): string | undefined {
  if (opts.ciphers === undefined && opts.ciphersuites === undefined) return undefined;
  const defaults = tls.DEFAULT_CIPHERS.split(':');
  const tls13 = opts.ciphersuites ?? defaults.filter((c) => c.startsWith('TLS_')).join(':');
  const tls12 = opts.ciphers ?? defaults.filter((c) => !c.startsWith('TLS_')).join(':');
  return tls13 + ':' + tls12;
}

function selectContext(table: ContextTable, servername: string): tls.SecureContext {
  const name = servername.toLowerCase();
  const hit = table.exact.get(name);
  if (hit) return hit;
  const dot = name.indexOf('.');
  if (dot > 0) {
    const wild = table.wildcard.get(name.slice(dot));
    if (wild) return wild;
  }
  return table.fallback;
}

/**
 * Server side of one bind: wraps accepted (possibly PROXY-consumed) sockets in TLS.
 * The caller handles 'error' and waits for 'secure'. A certificate file replaced at
 * run time (src/primary/certificates.ts) swaps the bind's contexts: new handshakes
 * use it, established connections keep the context they started with.
 */
export class TlsTerminator {
  private table: ContextTable;
  /** The bind's certificate list the contexts were built from (src/tls/pem.ts replaceCertificate gives the bind a new list). */
  private builtFrom: TlsCertificate[];
  private readonly options: tls.TLSSocketOptions;

  constructor(
    private readonly opts: TlsBindOptions,
    private readonly ticketKeys: Buffer,
  ) {
    this.table = buildContexts(opts, ticketKeys);
    this.builtFrom = opts.certificates;
    this.options = {
      isServer: true,
      secureContext: this.table.fallback,
      SNICallback: (servername, cb) => cb(null, selectContext(this.table, servername)),
      ...verifySocketOptions(opts),
    };
    if (opts.alpn.length) this.options.ALPNProtocols = opts.alpn;
  }

  wrap(socket: net.Socket): tls.TLSSocket {
    return new tls.TLSSocket(socket, this.options);
  }

  /**
   * Rebuilds the contexts when the bind's certificates changed since they were built.
   * Throws, keeping the current contexts, when OpenSSL refuses the new ones.
   */
  refresh(): void {
    if (this.opts.certificates === this.builtFrom) return;
    const table = buildContexts(this.opts, this.ticketKeys);
    this.builtFrom = this.opts.certificates;
    this.table = table;
    this.options.secureContext = table.fallback;
  }
}
