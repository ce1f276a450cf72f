/**
 * The TLS parts of the config: certificate bundles (read and checked at load time
 * with src/tls/pem.ts, so the model carries their contents), a bind's versions,
 * ciphers, ALPN and client certificates, and a server's crt, versions and ALPN.
 */
import * as path from 'node:path';
import { checkBundle, checkTrust, expiryWarning } from '../tls/pem';
import type { ServerOptionValues } from './haproxy-syntax';
import type { Mode, ServerTlsOptions, TlsBindOptions, TlsCertificate, TlsVersion } from './model';
import type { BindInput } from './schema';
import type { Diagnostics, Seg, Where } from './source';

const TLS_VERSION_ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export class TlsConfig {
  constructor(
    private readonly at: (segs: Seg[]) => Where,
    private readonly diag: Diagnostics,
    /** Reads a file named in the config, relative to the file naming it (errors reported). */
    private readonly readRelative: (file: string, segs: Seg[]) => string | undefined,
    /** global.cert_expiry_warning_days. */
    private readonly expiryWarningDays: number,
  ) {}

  /** TLS settings of a bind, with its certificates read and their names extracted. */
  bind(ssl: NonNullable<BindInput['ssl']>, mode: Mode, segs: Seg[]): TlsBindOptions {
    const certificates: TlsCertificate[] = [];
    ssl.certificates.forEach((file, i) => {
      const cert = this.certificate(file, [...segs, 'certificates', i]);
      if (cert) certificates.push(cert);
    });
    const minVersion = (ssl.min_version ?? 'TLSv1.2') as TlsBindOptions['minVersion'];
    const maxVersion = (ssl.max_version ?? 'TLSv1.3') as TlsBindOptions['maxVersion'];
    if (TLS_VERSION_ORDER.indexOf(minVersion) > TLS_VERSION_ORDER.indexOf(maxVersion)) this.diag.error(this.at(segs), `min_version ${minVersion} is above max_version ${maxVersion}`);
    return {
      certificates,
      minVersion,
      maxVersion,
      ciphers: ssl.ciphers,
      ciphersuites: ssl.ciphersuites,
      // HTTP/2 is offered first on http binds, as browsers expect; `alpn: [http/1.1]` turns it off.
      alpn: ssl.alpn ?? (mode === 'http' ? ['h2', 'http/1.1'] : []),
      ...this.clientVerify(ssl, segs),
    };
  }

  /** Client certificates on a bind: `verify`, with the CAs (`ca_file`) and CRLs (`crl_file`) it checks them against. */
  private clientVerify(ssl: NonNullable<BindInput['ssl']>, segs: Seg[]): Pick<TlsBindOptions, 'verify' | 'ca' | 'crl'> {
    const verify = ssl.verify ?? 'none';
    if (verify === 'none') {
      for (const k of ['ca_file', 'crl_file'] as const) {
        if (ssl[k] !== undefined) this.diag.warn(this.at([...segs, k]), `${k} has no effect with verify none: no client certificate is asked for`);
      }
      return { verify };
    }
    if (ssl.ca_file === undefined) {
      this.diag.error(this.at([...segs, 'verify']), `verify ${verify} needs ca_file (the CAs that sign client certificates)`);
      return { verify };
    }
    const ca = this.readRelative(ssl.ca_file, [...segs, 'ca_file']);
    const crl = ssl.crl_file === undefined ? undefined : this.readRelative(ssl.crl_file, [...segs, 'crl_file']);
    if (ca === undefined || (ssl.crl_file !== undefined && crl === undefined)) return { verify };
    const error = checkTrust(ca, crl);
    if (error) this.diag.error(this.at([...segs, error.file === 'ca' ? 'ca_file' : 'crl_file']), error.message);
    return { verify, ca, crl };
  }

  /** A combined PEM (certificate chain + private key), as HAProxy's `crt`. */
  certificate(file: string, segs: Seg[]): TlsCertificate | undefined {
    const text = this.readRelative(file, segs);
    if (text === undefined) return undefined;
    const where = this.at(segs);
    const checked = checkBundle(text);
    if ('error' in checked) {
      this.diag.error(where, `${file}: ${checked.error}`);
      return undefined;
    }
    const expiry = expiryWarning(checked.leaf, this.expiryWarningDays);
    if (expiry) this.diag.warn(where, `${file}: ${expiry}`);
    return { cert: checked.cert, key: checked.key, names: checked.names, source: path.resolve(path.dirname(where.src.file), file) };
  }

  /** `crt`, `ssl-min-ver`/`ssl-max-ver` and `alpn` of a server: only the keywords given. */
  server(o: ServerOptionValues, ssl: boolean, mode: Mode, segs: Seg[]): Partial<ServerTlsOptions> {
    const where = this.at([...segs, 'options']);
    const given = (['crt', 'sslMinVer', 'sslMaxVer', 'alpn'] as const).filter((k) => o[k] !== undefined);
    if (given.length && !ssl) this.diag.warn(where, 'crt, ssl-min-ver, ssl-max-ver and alpn apply to servers with ssl: this one is plain');
    const out: Partial<ServerTlsOptions> = {};
    if (o.crt !== undefined) {
      const crt = this.certificate(o.crt, [...segs, 'options']);
      if (crt) Object.assign(out, { cert: crt.cert, key: crt.key });
    }
    if (o.sslMinVer) out.minVersion = o.sslMinVer;
    if (o.sslMaxVer) out.maxVersion = o.sslMaxVer;
    if (o.sslMinVer && o.sslMaxVer && TLS_VERSION_ORDER.indexOf(o.sslMinVer) > TLS_VERSION_ORDER.indexOf(o.sslMaxVer)) {
      this.diag.error(where, `ssl-min-ver ${o.sslMinVer} is above ssl-max-ver ${o.sslMaxVer}`);
    }
    if (o.alpn) {
      // The L7 path speaks HTTP/1.1 to servers: a server choosing h2 would get bytes it cannot read.
      const other = o.alpn.filter((p) => p !== 'http/1.1' && p !== 'http/1.0');
      if (mode === 'http' && other.length) this.diag.error(where, `alpn ${o.alpn.join(',')}: tslb speaks HTTP/1.1 to servers, it may offer http/1.1 and http/1.0 only (not ${other.join(', ')})`);
      out.alpn = o.alpn;
    }
    return out;
  }
}
