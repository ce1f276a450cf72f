/**
 * ACME (RFC 8555) in the primary, with the acme-client library: the certificate of
 * `global.acme` is ordered when its bundle is missing or within renew_before_days of
 * its notAfter, and again on `acme renew` (runtime API). HTTP-01 tokens go to every
 * worker (src/http/modules/acme-challenge.ts answers them on the plain binds); the
 * issued bundle is written into the state dir (mode 600) and served through the hot
 * certificate reload (CertificateStore.install), so no worker restarts. A failed
 * order is retried with a doubling delay.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import * as path from 'node:path';
import * as acme from 'acme-client';
import type { AcmeSettings } from '../config/model';
import type { Logger } from '../log/logger';

const DAY_MS = 86_400_000;
const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 6 * 3600_000;
/** setTimeout's limit (about 24.8 days): a later renewal is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const ACCOUNT_KEY_FILE = 'acme-account.key';

export interface AcmeDeps {
  log: Logger;
  /** Sends the pending HTTP-01 tokens (token → key authorization) to every worker. */
  pushTokens(tokens: Record<string, string>): void;
  /** Serves a bundle written to `file`; returns the refusal, if any. */
  install(file: string, text: string): string | undefined;
  /** An order ended (tslb_acme_renewals_total). */
  counted(result: 'success' | 'failure'): void;
}

export class AcmeManager {
  private settings: AcmeSettings | undefined;
  private readonly tokens: Record<string, string> = {};
  private timer: NodeJS.Timeout | undefined;
  private ordering = false;
  private failures = 0;
  private nextAt = 0;
  private lastError = '';

  constructor(private readonly deps: AcmeDeps) {}

  /** The serving generation's settings (start, reload); undefined stops it. */
  configure(settings: AcmeSettings | undefined): void {
    this.settings = settings;
    clearTimeout(this.timer);
    if (settings && !this.ordering) void this.check();
  }

  stop(): void {
    this.settings = undefined;
    clearTimeout(this.timer);
  }

  /** The tokens pending, for a worker that starts during an order. */
  pendingTokens(): Record<string, string> {
    return this.tokens;
  }

  /** `acme renew <certificate>`: orders now. */
  renew(file: string | undefined): string {
    const s = this.settings;
    if (!s) return 'No ACME configuration (global.acme)!\n';
    if (file !== s.certificate) return `'acme renew' expects the certificate file of global.acme (${s.certificate})\n`;
    if (this.ordering) return `Renewal of ${file} already in progress\n`;
    clearTimeout(this.timer);
    void this.order('runtime API');
    return `Renewal of ${file} started\n`;
  }

  /** `acme status`: the certificate, its state, and when it is looked at next. */
  status(): string {
    const s = this.settings;
    if (!s) return 'No ACME configuration (global.acme)!\n';
    const state = this.ordering ? 'Running' : this.failures ? `Failed ${this.failures} time(s): ${this.lastError}` : 'Scheduled';
    const next = this.nextAt ? new Date(this.nextAt).toISOString() : '-';
    return `# certificate\tnames\tstate\tnext\n${s.certificate}\t${s.names.join(',')}\t${state}\t${next}\n`;
  }

  /** Orders when the bundle is missing or due, else waits until it is. */
  private async check(): Promise<void> {
    const s = this.settings;
    if (!s) return;
    let due = 0;
    try {
      const leaf = new X509Certificate(await readFile(s.certificate));
      due = Date.parse(leaf.validTo) - s.renewBeforeDays * DAY_MS;
    } catch {
      // Missing or unreadable: order one.
    }
    if (due <= Date.now()) return this.order(due === 0 ? 'no certificate yet' : 'due for renewal');
    this.schedule(due - Date.now(), () => void this.check());
  }

  private schedule(delay: number, run: () => void): void {
    clearTimeout(this.timer);
    this.nextAt = Date.now() + delay;
    this.timer = setTimeout(run, Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async order(reason: string): Promise<void> {
    const s = this.settings;
    if (!s || this.ordering) return;
    this.ordering = true;
    this.nextAt = 0;
    const { log } = this.deps;
    log.info({ event: 'acme-order', file: s.certificate, names: s.names, reason }, `acme: ${s.certificate}: ordering a certificate for ${s.names.join(', ')} (${reason})`);
    try {
      const text = await this.obtain(s);
      await writePrivate(s.certificate, text);
      const refused = this.deps.install(s.certificate, text);
      if (refused) throw new Error(`issued certificate refused: ${refused}`);
      this.failures = 0;
      this.lastError = '';
      this.deps.counted('success');
      log.info({ event: 'acme-issued', file: s.certificate }, `acme: ${s.certificate}: Successful update of the certificate.`);
      this.ordering = false;
      await this.check();
    } catch (e) {
      this.failures++;
      this.lastError = (e as Error).message;
      this.deps.counted('failure');
      const delay = Math.min(RETRY_FIRST_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
      log.error(
        { event: 'acme-failed', file: s.certificate, err: this.lastError, retryIn: delay },
        `acme: ${s.certificate}: order failed: ${this.lastError}; retrying in ${Math.round(delay / 1000)}s`,
      );
      this.ordering = false;
      if (this.settings) this.schedule(delay, () => void this.order('retry'));
    } finally {
      this.clearTokens();
    }
  }

  /** One order through acme-client: the bundle (chain, then a new private key). */
  private async obtain(s: AcmeSettings): Promise<string> {
    // acme-client's one HTTP client; the primary runs one ACME configuration.
    acme.axios.defaults.httpsAgent = s.ca ? new Agent({ ca: s.ca }) : undefined;
    const client = new acme.Client({ directoryUrl: s.directory, accountKey: await accountKey(s.stateDir) });
    const [key, csr] = await acme.crypto.createCsr({ commonName: s.names[0], altNames: s.names });
    const chain = await client.auto({
      csr,
      email: s.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client would fetch the token itself through the system resolver first; the CA checks it anyway.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.tokens[challenge.token] = keyAuthorization;
        this.deps.pushTokens(this.tokens);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        delete this.tokens[challenge.token];
        this.deps.pushTokens(this.tokens);
      },
    });
    return chain.trimEnd() + '\n' + key.toString();
  }

  private clearTokens(): void {
    if (Object.keys(this.tokens).length === 0) return;
    for (const t of Object.keys(this.tokens)) delete this.tokens[t];
    this.deps.pushTokens(this.tokens);
  }
}

/** The account's key from the state dir, made on first use. */
async function accountKey(stateDir: string): Promise<Buffer> {
  const file = path.join(stateDir, ACCOUNT_KEY_FILE);
  try {
    return await readFile(file);
  } catch {
    const key = await acme.crypto.createPrivateKey();
    await writePrivate(file, key.toString());
    return key;
  }
}

/** Writes a file only its owner reads (mode 600), renamed into place so the certificate watch never sees half of it. */
async function writePrivate(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}
