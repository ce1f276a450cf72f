/**
 * Test certificates: one self-signed CA per test process and server certificates it
 * signs for given names (DNS names, wildcards, or IP addresses), as PEM strings.
 * Keys come from node:crypto (native, fast); node-forge assembles and signs the
 * X.509 certificates. Everything is cached, so a test file pays for keys once.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface TestCa {
  cert: string;
  key: string;
}

export interface TestCert {
  /** PEM certificate (leaf only). */
  cert: string;
  /** PEM private key. */
  key: string;
  /** PEM of the CA that signed it: the trust anchor for clients. */
  ca: string;
  names: string[];
}

interface KeyPair {
  privatePem: string;
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
}

function rsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privatePem: privateKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
  };
}

function newCertificate(publicKey: forge.pki.PublicKey, commonName: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive serial: a leading 0x01 byte keeps the high bit clear.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  return cert;
}

interface CaState {
  pem: TestCa;
  cert: forge.pki.Certificate;
  keys: KeyPair;
}

let ca: CaState | undefined;
/** Leaf certificates share one key: generating RSA keys is the slow part. */
let leafKeys: KeyPair | undefined;
const issued = new Map<string, TestCert>();

function testCaState(): CaState {
  if (ca) return ca;
  const keys = rsaKeyPair();
  const cert = newCertificate(keys.publicKey, 'tslb test CA');
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  ca = { pem: { cert: forge.pki.certificateToPem(cert), key: keys.privatePem }, cert, keys };
  return ca;
}

/** The process-wide test CA (PEM). */
export function testCa(): TestCa {
  return testCaState().pem;
}

/** A server certificate for `names` (the first is the CN), signed by the test CA. */
export function issueCert(names: string[]): TestCert {
  const cacheKey = names.join(',');
  const cached = issued.get(cacheKey);
  if (cached) return cached;
  const authority = testCaState();
  leafKeys ??= rsaKeyPair();
  const cert = newCertificate(leafKeys.publicKey, names[0]);
  cert.setIssuer(authority.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authority.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(authority.keys.privateKey, forge.md.sha256.create());
  const result: TestCert = { cert: forge.pki.certificateToPem(cert), key: leafKeys.privatePem, ca: authority.pem.cert, names };
  issued.set(cacheKey, result);
  return result;
}
