/**
 * Certificate bundles as HAProxy's `crt` takes them: one PEM text with the
 * certificate, its chain and its private key. Shared by the config loader, the
 * primary's hot certificate reload (file watch, runtime API) and `tslb cert info`,
 * so every path refuses a bad bundle with the same words.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Model, TlsCertificate } from '../config/model';

const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_PEM = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/;

/** The PEM blocks of a bundle: certificates in file order (leaf first), and the private key if any. */
export function splitBundle(text: string): { certs: string[]; key: string | undefined } {
  return { certs: text.match(CERTIFICATE_PEM) ?? [], key: PRIVATE_KEY_PEM.exec(text)?.[0] };
}

/** A bundle that passed every check: what a TLS bind serves. */
export interface CheckedBundle {
  /** PEM of the leaf and its chain. */
  cert: string;
  key: string;
  /** Host names (SAN DNS entries, else the CN), lower case, for SNI selection. */
  names: string[];
  leaf: X509Certificate;
}

/**
 * Checks a bundle as a TLS bind would use it: a certificate, a private key that
 * matches it, and a chain OpenSSL accepts. `fallbackKey` is used when the text
 * holds no key (the runtime API may replace a certificate alone, as HAProxy's).
 */
export function checkBundle(text: string, fallbackKey?: string): CheckedBundle | { error: string } {
  const { certs, key: ownKey } = splitBundle(text);
  const key = ownKey ?? fallbackKey;
  if (certs.length === 0 || !key) {
    return { error: `must hold a certificate and its private key (PEM)${certs.length === 0 ? ', no certificate found' : ', no private key found'}` };
  }
  try {
    const leaf = new X509Certificate(certs[0]);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return { error: 'the private key does not match the certificate' };
    const cert = certs.join('\n') + '\n';
    // What a worker will do with it: fails on chain certificates or keys OpenSSL refuses.
    createSecureContext({ cert, key });
    return { cert, key: key + '\n', names: certificateNames(leaf), leaf };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Checks CA certificates (and CRLs) as OpenSSL will load them to verify peers; says which file is wrong. */
export function checkTrust(ca: string, crl?: string): { file: 'ca' | 'crl'; message: string } | undefined {
  const certs = splitBundle(ca).certs;
  if (certs.length === 0) return { file: 'ca', message: 'no CA certificate (PEM) found' };
  try {
    for (const c of certs) new X509Certificate(c);
    createSecureContext({ ca });
  } catch (e) {
    return { file: 'ca', message: (e as Error).message };
  }
  if (crl === undefined) return undefined;
  if (!crl.includes('-----BEGIN X509 CRL-----')) return { file: 'crl', message: 'no CRL (PEM) found' };
  try {
    createSecureContext({ ca, crl });
  } catch (e) {
    return { file: 'crl', message: (e as Error).message };
  }
  return undefined;
}

export function certificateNames(x509: X509Certificate): string[] {
  const names = new Set<string>();
  for (const part of (x509.subjectAltName ?? '').split(', ')) if (part.startsWith('DNS:')) names.add(part.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  if (cn && names.size === 0) names.add(cn.toLowerCase());
  return [...names];
}

/** Whole days until `notAfter` (negative once expired). */
export function daysLeft(x509: X509Certificate, now = Date.now()): number {
  return Math.floor((Date.parse(x509.validTo) - now) / 86_400_000);
}

/** A warning for a certificate that expired or expires within `warnDays` (0: only expired ones), else undefined. */
export function expiryWarning(x509: X509Certificate, warnDays: number, now = Date.now()): string | undefined {
  const left = Date.parse(x509.validTo) - now;
  if (left < 0) return `certificate expired on ${x509.validTo}`;
  if (left < warnDays * 86_400_000) return `certificate expires in ${Math.floor(left / 86_400_000)} day(s), on ${x509.validTo}`;
  return undefined;
}

/** A distinguished name as HAProxy writes it (`/C=FR/O=Example/CN=www.example.com`), from Node's one-per-line form. */
export function onelineDn(multiline: string): string {
  return multiline
    .split('\n')
    .filter(Boolean)
    .map((rdn) => '/' + rdn)
    .join('');
}

/** HAProxy's key description (`show ssl cert`): RSA2048, EC256, ED25519… */
export function keyAlgorithm(x509: X509Certificate): string {
  const key = x509.publicKey;
  const type = (key.asymmetricKeyType ?? 'unknown').toUpperCase();
  const details = key.asymmetricKeyDetails;
  if (details?.modulusLength) return `${type}${details.modulusLength}`;
  if (type === 'EC' && details?.namedCurve) return `EC${CURVE_BITS[details.namedCurve] ?? details.namedCurve}`;
  return type;
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, 'P-256': 256, secp384r1: 384, 'P-384': 384, secp521r1: 521, 'P-521': 521 };

/** What `show ssl cert <file>` and `tslb cert info` print about a certificate, in HAProxy's notation. */
export interface CertificateFacts {
  /** Upper-case hex. */
  serial: string;
  /** OpenSSL's date form, `Nov 23 00:42:44 2036 GMT`. */
  notBefore: string;
  notAfter: string;
  subjectAltName: string;
  algorithm: string;
  /** Upper-case hex without colons. */
  sha1: string;
  subject: string;
  issuer: string;
}

export function certificateFacts(x509: X509Certificate): CertificateFacts {
  return {
    serial: x509.serialNumber.toUpperCase(),
    notBefore: x509.validFrom,
    notAfter: x509.validTo,
    subjectAltName: x509.subjectAltName ?? '',
    algorithm: keyAlgorithm(x509),
    sha1: x509.fingerprint.replace(/:/g, ''),
    subject: onelineDn(x509.subject),
    issuer: onelineDn(x509.issuer),
  };
}

/**
 * New contents of a certificate file (matched by `source`) go into every bind of the
 * model that serves it; a worker's terminators pick them up on refresh(). Returns how many binds serve it.
 */
export function replaceCertificate(model: Model, update: TlsCertificate): number {
  let binds = 0;
  for (const fe of model.frontends) {
    for (const bind of fe.binds) {
      if (!bind.tls?.certificates.some((c) => c.source === update.source)) continue;
      bind.tls.certificates = bind.tls.certificates.map((c) => (c.source === update.source ? update : c));
      binds++;
    }
  }
  return binds;
}
