/**
 * E-mail alerts on server state changes (HAProxy `mailers` / `email-alert`), sent
 * through a configured SMTP server with nodemailer. Sending never blocks checks:
 * messages are queued (bounded), sent one at a time, and failures are logged.
 *
 * Settings come from `extras.mailers: { host, port?, secure?, from?, to?, level?, user?, pass? }`
 * (native `mailers:`; the seed's `monitoring.health_checks.email_alerts` becomes `to`);
 * without a host, mail goes through 127.0.0.1:25.
 */
import os from 'node:os';
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Model } from '../config/model';

/** Syslog severities, as `email-alert level` uses them. */
export const severities = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type Severity = (typeof severities)[number];

export interface MailerSettings {
  host: string;
  port: number;
  secure: boolean;
  from: string;
  to: string[];
  /** Send messages of this severity or more severe (HAProxy default: alert). */
  level: Severity;
  auth?: { user: string; pass: string };
}

const MAX_QUEUE = 100;

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function recipients(v: unknown): string[] {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string');
  return [];
}

export function mailerSettings(model: Model): MailerSettings | undefined {
  const mailers = record(model.extras.mailers);
  const to = recipients(mailers?.to);
  if (!to.length) return undefined;
  const level = severities.find((s) => s === mailers?.level) ?? 'alert';
  const user = typeof mailers?.user === 'string' ? mailers.user : undefined;
  const pass = typeof mailers?.pass === 'string' ? mailers.pass : undefined;
  return {
    host: typeof mailers?.host === 'string' ? mailers.host : '127.0.0.1',
    port: typeof mailers?.port === 'number' ? mailers.port : 25,
    secure: mailers?.secure === true,
    from: typeof mailers?.from === 'string' ? mailers.from : `tslb@${os.hostname()}`,
    to,
    level,
    auth: user !== undefined && pass !== undefined ? { user, pass } : undefined,
  };
}

export class AlertMailer {
  private readonly transport: Transporter;
  private readonly queue: { subject: string; text: string }[] = [];
  private sending = false;
  private closed = false;

  constructor(
    readonly settings: MailerSettings,
    private readonly log: Logger,
  ) {
    this.transport = createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      auth: settings.auth,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 10000,
    });
  }

  /** Queue an alert if its severity passes the configured level. */
  alert(severity: Severity, message: string): void {
    if (this.closed || severities.indexOf(severity) > severities.indexOf(this.settings.level)) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.log.warn({ alert: message }, 'email alert dropped: queue full');
      return;
    }
    this.queue.push({ subject: `[HAproxy Alert] ${message}`, text: message });
    if (!this.sending) void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    for (let mail = this.queue.shift(); mail && !this.closed; mail = this.queue.shift()) {
      try {
        await this.transport.sendMail({ from: this.settings.from, to: this.settings.to, subject: mail.subject, text: mail.text });
      } catch (err) {
        this.log.error({ err, alert: mail.text }, `email alert to ${this.settings.to.join(', ')} via ${this.settings.host}:${this.settings.port} failed`);
      }
    }
    this.sending = false;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.transport.close();
  }
}
