/**
 * Test certificates: one self-signed CA per test process, server certificates it
 * signs for given names (DNS names, wildcards, or IP addresses), client certificates,
 * and CRLs, as PEM strings. Keys come from node:crypto (native, fast); node-forge
 * assembles and signs the X.509 certificates, openssl the CRLs. Keys are cached, so
 * a test file pays for them once.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import forge from 'node-forge';
import { tempDir } from './tslb';

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

/**
 * A client certificate (extended key usage clientAuth) for a subject given as
 * attributes in order (`[['O', 'Example'], ['CN', 'alice']]`), signed by the test CA
 * or, with `selfSigned`, by its own key (which a bind's CA does not trust).
 */
export function issueClientCert(subject: [string, string][], opts: { selfSigned?: boolean } = {}): TestCert {
  const authority = testCaState();
  leafKeys ??= rsaKeyPair();
  const cn = subject.find(([k]) => k === 'CN')?.[1] ?? 'client';
  const cert = newCertificate(leafKeys.publicKey, cn);
  cert.setSubject(subject.map(([shortName, value]) => ({ shortName, value })));
  cert.setIssuer(opts.selfSigned ? cert.subject.attributes : authority.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(opts.selfSigned ? leafKeys.privateKey : authority.keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: leafKeys.privatePem, ca: authority.pem.cert, names: [cn] };
}

/** A CRL of the test CA (PEM) revoking `revoked`, made by `openssl ca -gencrl`. */
export function revocationList(revoked: TestCert[]): string {
  const dir = tempDir('tslb-crl-');
  const file = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  // openssl's CA database: one `R` (revoked) line per certificate.
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  const index = revoked
    .map((c) => {
      const x = new X509Certificate(c.cert);
      return ['R', stamp(new Date(x.validTo)), stamp(new Date(Date.now() - 60_000)), x.serialNumber, 'unknown', '/' + x.subject.split('\n').join('/')].join('\t');
    })
    .join('\n');
  file('index.txt', index + '\n');
  file('crlnumber', '01\n');
  const config = file(
    'ca.cnf',
    `[ca]\ndefault_ca = tslb\n[tslb]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n`,
  );
  const authority = testCa();
  const out = path.join(dir, 'crl.pem');
  execFileSync('openssl', ['ca', '-gencrl', '-config', config, '-keyfile', file('ca.key', authority.key), '-cert', file('ca.pem', authority.cert), '-out', out], { stdio: 'pipe' });
  return readFileSync(out, 'utf8');
}
