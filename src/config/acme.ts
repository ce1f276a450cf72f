/**
 * `global.acme`: the settings of the primary's ACME client (src/primary/acme.ts),
 * with paths made absolute against the config file naming them.
 */
import * as path from 'node:path';
import { checkTrust } from '../tls/pem';
import type { AcmeSettings } from './model';
import type { GlobalInput } from './schema-global';
import type { Diagnostics, Seg, Where } from './source';

/** Where state lives when neither acme.state_dir nor global.state_dir says (`tslb install` creates it). */
const DEFAULT_STATE_DIR = '/var/lib/tslb';
const DEFAULT_RENEW_BEFORE_DAYS = 30;

export function buildAcme(
  g: GlobalInput,
  at: (segs: Seg[]) => Where,
  diag: Diagnostics,
  readRelative: (file: string, segs: Seg[]) => string | undefined,
): AcmeSettings | undefined {
  const a = g.acme;
  if (!a) return undefined;
  const segs: Seg[] = ['global', 'acme'];
  const relativeTo = (s: Seg[]) => path.dirname(at(s).src.file);
  const stateDir = a.state_dir !== undefined
    ? path.resolve(relativeTo([...segs, 'state_dir']), a.state_dir)
    : g.state_dir !== undefined
      ? path.resolve(relativeTo(['global', 'state_dir']), g.state_dir)
      : DEFAULT_STATE_DIR;
  if (a.challenge === 'tls-alpn-01') diag.error(at([...segs, 'challenge']), 'tls-alpn-01 is not supported yet: use http-01 (answered on the plain binds)');
  try {
    const url = new URL(a.directory);
    if (url.protocol !== 'https:') diag.error(at([...segs, 'directory']), 'the ACME directory must be an https:// URL (RFC 8555)');
  } catch {
    diag.error(at([...segs, 'directory']), `not a URL: ${a.directory}`);
  }
  let ca: string | undefined;
  if (a.ca_file !== undefined) {
    ca = readRelative(a.ca_file, [...segs, 'ca_file']);
    const error = ca === undefined ? undefined : checkTrust(ca);
    if (error) diag.error(at([...segs, 'ca_file']), error.message);
  }
  return {
    directory: a.directory,
    email: a.email,
    names: a.names.map((n) => n.toLowerCase()),
    stateDir,
    certificate: a.certificate !== undefined ? path.resolve(relativeTo([...segs, 'certificate']), a.certificate) : path.join(stateDir, `${a.names[0].toLowerCase()}.pem`),
    renewBeforeDays: a.renew_before_days ?? DEFAULT_RENEW_BEFORE_DAYS,
    challenge: 'http-01',
    ca,
  };
}
