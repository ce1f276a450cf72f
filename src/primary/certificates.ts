/**
 * Hot certificate reload, in the primary: the certificate files the serving
 * generation's binds use are watched for replacement, and HAProxy's runtime API
 * transaction replaces one by hand (`set ssl cert <file> <<` + `commit ssl cert`).
 * A new bundle is read and checked here (src/tls/pem.ts); a good one goes into the
 * model (workers forked later start with it) and to every worker, which swaps its
 * contexts for new handshakes; a bad one is refused, and the old one stays served.
 * Like HAProxy, nothing is written to disk: a reload serves what the files hold.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Model, TlsCertificate } from '../config/model';
import type { Logger } from '../log/logger';
import { certificateFacts, checkBundle, expiryWarning, onelineDn, replaceCertificate, splitBundle, type CheckedBundle } from '../tls/pem';

/** A file that changed is read once it has stayed the same this long (a copy or an editor still writing it). */
const SETTLE_MS = 200;

export interface CertificateStoreDeps {
  log: Logger;
  /** Sends a file's new contents to the workers of the serving generation. */
  push(certificate: TlsCertificate): void;
  /** The served certificates changed (the Prometheus expiry gauge reads them). */
  changed(): void;
}

/** HAProxy's one ongoing `set ssl cert` transaction. */
interface Transaction {
  file: string;
  /** PEM certificates, leaf first. */
  certs: string[];
  key: string;
}

export class CertificateStore {
  private model: Model | undefined;
  /** Per file, the stat (`ino:size:mtime`) of the contents last looked at. */
  private readonly seen = new Map<string, string>();
  private transaction: Transaction | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A look is under way (it schedules the next one when done). */
  private looking = false;
  private stopped = false;

  constructor(private readonly deps: CertificateStoreDeps) {}

  /**
   * A new generation serves `model`. Files it serves are looked at from now on; the
   * first look compares a file with what the model holds, so a file replaced while
   * the generation was loading is still picked up. An open transaction ends, as
   * HAProxy's ends with its process.
   */
  setModel(model: Model): void {
    this.model = model;
    this.transaction = undefined;
    const files = new Set(this.files());
    for (const file of this.seen.keys()) if (!files.has(file)) this.seen.delete(file);
    if (!this.looking) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The certificate files served, by absolute path, sorted. */
  files(): string[] {
    const files = new Set<string>();
    for (const fe of this.model?.frontends ?? []) for (const b of fe.binds) for (const c of b.tls?.certificates ?? []) files.add(c.source);
    return [...files].sort();
  }

  private served(file: string): TlsCertificate | undefined {
    for (const fe of this.model?.frontends ?? []) {
      for (const b of fe.binds) {
        const c = b.tls?.certificates.find((x) => x.source === file);
        if (c) return c;
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------- watching

  private schedule(): void {
    clearTimeout(this.timer);
    const interval = this.model?.global.certWatch ?? 0;
    if (this.stopped || interval === 0 || this.files().length === 0) return;
    this.timer = setTimeout(() => {
      this.looking = true;
      void this.look().finally(() => {
        this.looking = false;
        this.schedule();
      });
    }, interval);
    this.timer.unref();
  }

  /** One look at every served file: a changed one is read once it has settled. */
  private async look(): Promise<void> {
    for (const file of this.files()) {
      const before = this.seen.get(file);
      const now = await statKey(file);
      if (now === undefined || now === before) continue;
      // Not on the first look: the model was read from the file already, recently.
      if (before !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        if ((await statKey(file)) !== now) continue;
      }
      this.seen.set(file, now);
      await this.reread(file, before === undefined);
    }
  }

  private async reread(file: string, firstLook: boolean): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      // Gone between stat and read (a rename in progress): the next change brings it back.
      return;
    }
    const current = this.served(file);
    if (!current) return;
    const checked = checkBundle(text);
    if ('error' in checked) {
      this.deps.log.error({ event: 'cert-refused', file, via: 'watch', err: checked.error }, `certificate ${file} refused: ${checked.error}; still serving the previous one`);
      return;
    }
    if (checked.cert === current.cert && checked.key === current.key) return;
    if (firstLook) this.deps.log.info({ event: 'cert-changed', file }, `certificate ${file} changed while the configuration loaded`);
    this.apply(file, checked, 'watch');
  }

  /** Serves checked contents for `file`: into the model, to the workers. Returns how many binds serve it. */
  private apply(file: string, checked: CheckedBundle, via: 'watch' | 'runtime-api'): number {
    const update: TlsCertificate = { cert: checked.cert, key: checked.key, names: checked.names, source: file };
    const binds = replaceCertificate(this.model!, update);
    this.deps.push(update);
    this.deps.changed();
    const leaf = checked.leaf;
    this.deps.log.info(
      { event: 'cert-updated', file, via, names: checked.names, serial: leaf.serialNumber, notAfter: leaf.validTo, binds },
      `certificate ${file} replaced (${via}): new handshakes on ${binds} bind(s) use it`,
    );
    const warning = expiryWarning(leaf, this.model!.global.certExpiryWarningDays);
    if (warning) this.deps.log.warn({ event: 'cert-expiring', file, notAfter: leaf.validTo }, `${file}: ${warning}`);
    return binds;
  }

  // ---------------------------------------------------------------- runtime API (HAProxy's texts)

  /** `set ssl cert <file> <<` PEM: opens or updates the transaction. Without a key, the served one is kept. */
  set(file: string | undefined, payload: string | undefined): string {
    if (!file || payload === undefined) return "'set ssl cert' expects a filename and a certificate as a payload\n";
    const t = this.transaction;
    if (t && t.file !== file) return `The ongoing transaction is about '${t.file}' but you are trying to set '${file}'\nCan't update ${file}!\n`;
    const base = t ?? this.served(file);
    if (!base) return `Can't replace a certificate which is not referenced by the configuration!\nCan't update ${file}!\n`;
    const { certs, key } = splitBundle(payload);
    try {
      if (certs.length === 0) throw new Error('no certificate');
      new X509Certificate(certs[0]);
    } catch {
      return `unable to load certificate from file '${file}'.\nCan't load the payload\nCan't update ${file}!\n`;
    }
    this.transaction = { file, certs, key: key ?? base.key };
    return `Transaction ${t ? 'updated' : 'created'} for certificate ${file}!\n`;
  }

  /** `commit ssl cert <file>`: checks the transaction as a bundle and serves it. */
  commit(file: string | undefined): string {
    if (!file) return "'commit ssl cert' expects a filename\n";
    const t = this.transaction;
    if (!t) return `No ongoing transaction! !\nCan't commit ${file}!\n`;
    if (t.file !== file) return `The ongoing transaction is about '${t.file}' but you are trying to set '${file}'\nCan't commit ${file}!\n`;
    const checked = checkBundle(t.certs.join('\n') + '\n' + t.key);
    if ('error' in checked) {
      const reason = checked.error.includes('does not match') ? `inconsistencies between private key and certificate loaded '${file}'.` : checked.error;
      return `${reason}\nCan't commit ${file}!\n`;
    }
    this.transaction = undefined;
    const binds = this.apply(file, checked, 'runtime-api');
    // One dot per bind rebuilt, as HAProxy prints one per certificate instance.
    return `Committing ${file}${'.'.repeat(binds)}\nSuccess!\n`;
  }

  /** `abort ssl cert <file>`. */
  abort(file: string | undefined): string {
    if (!file) return "'abort ssl cert' expects a filename\n";
    const t = this.transaction;
    if (!t) return 'No ongoing transaction!\n';
    if (t.file !== file) return `The ongoing transaction is about '${t.file}' but you are trying to abort a transaction for '${file}'\n`;
    this.transaction = undefined;
    return `Transaction aborted for certificate '${file}'!\n`;
  }

  /** `show ssl cert [<file>|*<file>]`: the files served (and the transaction's), or one file's details. */
  show(arg: string | undefined): string {
    if (!arg) {
      const t = this.transaction ? `# transaction\n*${this.transaction.file}\n` : '';
      return t + '# filename\n' + this.files().map((f) => `${f}\n`).join('');
    }
    const pending = arg.startsWith('*');
    const file = pending ? arg.slice(1) : arg;
    let certs: string[] | undefined;
    if (pending) certs = this.transaction?.file === file ? this.transaction.certs : undefined;
    else certs = splitBundle(this.served(file)?.cert ?? '').certs;
    if (!certs?.length) return "Can't display the certificate: Not found or the certificate is a bundle!\n";
    const [leaf, ...chain] = certs.map((c) => new X509Certificate(c));
    const f = certificateFacts(leaf);
    const lines = [
      `Filename: ${pending ? '*' : ''}${file}`,
      `Status: ${pending ? 'Uncommitted' : 'Used'}`,
      `Serial: ${f.serial}`,
      `notBefore: ${f.notBefore}`,
      `notAfter: ${f.notAfter}`,
      `Subject Alternative Name: ${f.subjectAltName}`,
      `Algorithm: ${f.algorithm}`,
      `SHA1 FingerPrint: ${f.sha1}`,
      `Subject: ${f.subject}`,
      `Issuer: ${f.issuer}`,
    ];
    for (const c of chain) lines.push(`Chain Subject: ${onelineDn(c.subject)}`, `Chain Issuer: ${onelineDn(c.issuer)}`);
    return lines.join('\n') + '\n';
  }
}

async function statKey(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}
