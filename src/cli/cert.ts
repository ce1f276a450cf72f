/**
 * `tslb cert`: make a self-signed certificate or a signing request, and describe a
 * certificate file. Bundles are written as HAProxy's `crt` (and a TLS bind's
 * `certificates`) take them: the certificate, then its private key, in one PEM file.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { selfSigned, signingRequest, type Subject } from '../tls/issue';
import { certificateFacts, checkBundle, daysLeft, onelineDn, splitBundle } from '../tls/pem';

const USAGE = `Usage: tslb cert <command> [options]

  tslb cert self-signed --cn NAME [--san NAME,NAME...] [--days N] [--bits N] [-o FILE]
      a self-signed certificate and its key in one PEM bundle, ready for a TLS bind
      (default 365 days, RSA 2048; stdout without -o)
  tslb cert csr --cn NAME [--san NAME,NAME...] [--bits N] [-o FILE] [--key-out FILE]
      a certificate signing request for a CA, and its key (--key-out, default FILE.key);
      once the CA answers, the certificate followed by this key is the bundle to serve
  tslb cert info FILE
      subject, names, issuer, validity (as openssl x509 -noout -dates) and days left of
      the first certificate in FILE, whether its private key matches, and its chain

Names are DNS names, wildcards (*.example.com) or IP addresses; the CN is also the
first subject alternative name. Files holding a key are written with mode 600.`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'self-signed':
        return await selfSignedCommand(rest);
      case 'csr':
        return await csrCommand(rest);
      case 'info':
        return infoCommand(rest);
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        return 0;
      default:
        process.stderr.write(`tslb cert: ${command ? `unknown command "${command}"` : 'no command given'}\n\n${USAGE}\n`);
        return 1;
    }
  } catch (err) {
    process.stderr.write(`tslb cert ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

const SUBJECT_OPTIONS = {
  cn: { type: 'string' },
  san: { type: 'string', multiple: true },
  bits: { type: 'string' },
  out: { type: 'string', short: 'o' },
} as const;

function subject(values: { cn?: string; san?: string[]; bits?: string }): Subject {
  if (!values.cn) throw new Error('--cn NAME is required');
  const sans = (values.san ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const name of [values.cn, ...sans]) {
    if (!isIP(name) && !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(name)) {
      throw new Error(`"${name}" is not a DNS name, a wildcard (*.example.com) or an IP address`);
    }
  }
  const bits = integer(values.bits ?? '2048', '--bits');
  if (bits < 2048 || bits > 8192) throw new Error('--bits must be 2048..8192');
  return { cn: values.cn, sans, bits };
}

function integer(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${option} needs a whole number, not "${text}"`);
  return Number(text);
}

async function selfSignedCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...SUBJECT_OPTIONS, days: { type: 'string' } }, strict: true });
  const days = integer(values.days ?? '365', '--days');
  if (days < 1) throw new Error('--days must be at least 1');
  const made = await selfSigned(subject(values), days);
  output(values.out, made.cert + made.key, true);
  return 0;
}

async function csrCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...SUBJECT_OPTIONS, 'key-out': { type: 'string' } }, strict: true });
  const keyOut = values['key-out'] ?? (values.out ? `${values.out}.key` : undefined);
  const made = await signingRequest(subject(values));
  // Without files both go to stdout: the request first, then its key.
  if (!values.out && !keyOut) {
    process.stdout.write(made.csr + made.key);
    return 0;
  }
  output(values.out, made.csr, false);
  output(keyOut, made.key, true);
  return 0;
}

function infoCommand(argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new Error('expects one FILE');
  const file = positionals[0];
  const text = readFileSync(file, 'utf8');
  const { certs, key } = splitBundle(text);
  if (certs.length === 0) throw new Error(`${file}: no certificate (PEM) found`);
  const [leaf, ...chain] = certs.map((c) => new X509Certificate(c));
  const f = certificateFacts(leaf);
  const left = daysLeft(leaf);
  const lines = [
    `File: ${path.resolve(file)}`,
    `Subject: ${f.subject}`,
    `Subject Alternative Name: ${f.subjectAltName}`,
    `Issuer: ${f.issuer}${leaf.issuer === leaf.subject && leaf.verify(leaf.publicKey) ? ' (self-signed)' : ''}`,
    `Serial: ${f.serial}`,
    `notBefore=${f.notBefore}`,
    `notAfter=${f.notAfter}`,
    `Days left: ${left}${Date.parse(f.notAfter) < Date.now() ? ' (expired)' : ''}`,
    `Algorithm: ${f.algorithm}`,
    `SHA1 FingerPrint: ${f.sha1}`,
  ];
  if (key) {
    const checked = checkBundle(text);
    lines.push(`Private key: ${'error' in checked ? checked.error : 'matches the certificate'}`);
  } else lines.push('Private key: none in this file');
  for (const c of chain) lines.push(`Chain Subject: ${onelineDn(c.subject)}`, `Chain Issuer: ${onelineDn(c.issuer)}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/**
 * Writes `text` to `file` (or stdout): through a temporary file renamed into place,
 * so a tslb watching the file never reads half of it; mode 600 when it holds a key.
 */
function output(file: string | undefined, text: string, secret: boolean): void {
  if (!file) {
    process.stdout.write(text);
    return;
  }
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(temp, text, { mode: secret ? 0o600 : 0o644 });
  renameSync(temp, file);
  process.stderr.write(`wrote ${file}\n`);
}
