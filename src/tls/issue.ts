/**
 * Making certificates (`tslb cert`): a self-signed certificate, or a signing
 * request for a CA. Keys come from node:crypto (native, off the event loop);
 * node-forge assembles and signs the X.509 structures, which it does for RSA only.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface Subject {
  /** Common name; also the first subject alternative name. */
  cn: string;
  /** More names: DNS names, wildcards or IP addresses. */
  sans: string[];
  /** RSA modulus length. */
  bits: number;
}

interface Keys {
  pem: string;
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

async function rsaKeys(bits: number): Promise<Keys> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    pem: privateKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
  };
}

/** The CN first, then the other names, each once; IP addresses as IP entries (clients check them there). */
function altNames(s: Subject): { type: number; value?: string; ip?: string }[] {
  return [...new Set([s.cn, ...s.sans])].map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }));
}

/** A self-signed server certificate valid for `days` from now: PEM of the certificate and of its key. */
export async function selfSigned(s: Subject, days: number): Promise<{ cert: string; key: string }> {
  const keys = await rsaKeys(s.bits);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  // 16 random bytes with the high bit clear: a positive serial of full length.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  // An hour back, for clients whose clock is a little behind.
  cert.validity.notBefore = new Date(now - 3600_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
  const subject = [{ name: 'commonName', value: s.cn }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: altNames(s) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: unixLines(forge.pki.certificateToPem(cert)), key: keys.pem };
}

/** A certificate signing request (PKCS#10) asking for the subject's names: PEM of the request and of its key. */
export async function signingRequest(s: Subject): Promise<{ csr: string; key: string }> {
  const keys = await rsaKeys(s.bits);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([{ name: 'commonName', value: s.cn }]);
  csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: altNames(s) }] }]);
  csr.sign(keys.privateKey, forge.md.sha256.create());
  return { csr: unixLines(forge.pki.certificationRequestToPem(csr)), key: keys.pem };
}

/** forge ends PEM lines with CRLF; node:crypto and openssl with LF: one bundle, one style. */
function unixLines(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}
