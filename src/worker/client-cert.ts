/**
 * Client certificates on a TLS bind (`verify optional|required`, `ca_file`, `crl_file`),
 * as HAProxy's: the client is asked for a certificate, one it presents must verify
 * against the CAs (and the CRLs), and `required` refuses a client that presents none.
 *
 * Node leaves verification to JavaScript (its OpenSSL callback accepts every chain and
 * tls.Server checks the result after the handshake), and these sockets, wrapped one by
 * one, have no tls.Server: the bind reads OpenSSL's result itself once the handshake is
 * done and closes a connection whose certificate failed. `required` without a
 * certificate fails inside the handshake (OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
 * HAProxy's ca-ignore-err/crt-ignore-err are not supported, so a connection that
 * reaches the rules has a valid certificate or none: ssl_c_verify is always 0.
 */
import { createHash } from 'node:crypto';
import type * as tls from 'node:tls';
import type { TlsBindOptions } from '../config/model';
import type { ClientCertificate } from '../rules/context';

/** What the bind's secure contexts add when it asks clients for certificates. */
export function verifyContextOptions(opts: TlsBindOptions): tls.SecureContextOptions {
  if (opts.verify === 'none') return {};
  return {
    ca: opts.ca,
    crl: opts.crl,
    // OpenSSL resumes a session only where its context id matches, and refuses to resume without one
    // when it verifies peers; tickets are shared by every bind, so the id names the CAs that verified it.
    sessionIdContext: createHash('sha256').update(`${opts.verify}\0${opts.ca ?? ''}\0${opts.crl ?? ''}`).digest('hex').slice(0, 32),
  };
}

/** TLSSocket options of a bind that asks clients for certificates. */
export function verifySocketOptions(opts: TlsBindOptions): tls.TLSSocketOptions {
  if (opts.verify === 'none') return {};
  return { requestCert: true, rejectUnauthorized: opts.verify === 'required' };
}

/** Node's TLS handle: its verification result, which tls.Server would check (an internal with no public form). */
interface VerifyingHandle {
  verifyError(): (Error & { code?: string }) | null;
}

/**
 * After the handshake: the certificate the client presented, undefined when none,
 * or null when it failed verification (the caller closes the connection, as
 * HAProxy aborts the handshake).
 */
export function clientCertificate(socket: tls.TLSSocket): ClientCertificate | undefined | null {
  const x509 = socket.getPeerX509Certificate();
  if (!x509) return undefined;
  const error = (socket as unknown as { ssl: VerifyingHandle | null }).ssl?.verifyError();
  if (error) return null;
  return {
    subject: x509.subject,
    issuer: x509.issuer,
    sha1: Buffer.from(x509.fingerprint.replace(/:/g, ''), 'hex').toString('latin1'),
    serial: Buffer.from(x509.serialNumber.length % 2 ? '0' + x509.serialNumber : x509.serialNumber, 'hex').toString('latin1'),
  };
}
