/**
 * The TLS parts of the config: certificate bundles (read and checked at load time
 * with src/tls/pem.ts, so the model carries their contents), a bind's versions,
 * ciphers, ALPN and client certificates, and a server's crt, versions and ALPN.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { placeholderCertificate } from '../tls/issue';
import { createSecureContext } from 'node:tls';
import { checkBundle, checkOcspResponse, checkTrust, dhParamsPem, expiryWarning, ocspFile } from '../tls/pem';
import type { ServerOptionValues } from './server-syntax';
import type { AcmeSettings, Mode, ServerTlsOptions, TlsBindOptions, TlsCertificate, TlsVersion } from './model';
import type { BindInput } from './schema-frontend';
import type { Diagnostics, Seg, Where } from './source';

const TLS_VERSION_ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export class TlsConfig {
  /** global.acme: its bundle is served as a placeholder until it exists. */
  acme: AcmeSettings | undefined;

  constructor(
    private readonly at: (segs: Seg[]) => Where,
    private readonly diag: Diagnostics,
    /** Reads a file named in the config, relative to the file naming it (errors reported). */
    private readonly readRelative: (file: string, segs: Seg[]) => string | undefined,
    /** global.cert_expiry_warning_days. */
    private readonly expiryWarningDays: number,
    /** global.ssl_default_dh_param: the DHE group of every TLS bind. */
    dhParamBits: number | undefined,
  ) {
    if (dhParamBits !== undefined) {
      this.dhparam = dhParamsPem(dhParamBits);
      if (!this.dhparam) diag.error(at(['global', 'ssl_default_dh_param']), `${dhParamBits}: tslb has the well-known DHE groups of 1024, 1536, 2048, 3072, 4096, 6144 and 8192 bits`);
    }
  }

  /** PEM of global.ssl_default_dh_param's group. */
  private readonly dhparam: string | undefined;

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
      curves: this.curves(ssl, segs),
      dhparam: this.dhparam,
    };
  }

  /** `curves` (a list) or `ecdhe` (one curve), checked by OpenSSL now rather than in a worker. */
  private curves(ssl: NonNullable<BindInput['ssl']>, segs: Seg[]): string | undefined {
    if (ssl.curves !== undefined && ssl.ecdhe !== undefined) this.diag.error(this.at([...segs, 'ecdhe']), 'give curves or ecdhe, not both');
    const key = ssl.curves !== undefined ? 'curves' : 'ecdhe';
    const curves = ssl[key];
    if (curves === undefined) return undefined;
    try {
      createSecureContext({ ecdhCurve: curves });
    } catch (e) {
      this.diag.error(this.at([...segs, key]), `${curves}: ${(e as Error).message}`);
    }
    return curves;
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
    const where = this.at(segs);
    const source = path.resolve(path.dirname(where.src.file), file);
    if (this.acme && source === this.acme.certificate && !existsSync(source)) {
      this.diag.warn(where, `${file}: not issued by ACME yet; a self-signed placeholder is served until it is`);
      const p = placeholderCertificate(this.acme.names);
      const placeholder = checkBundle(p.cert + p.key);
      if ('error' in placeholder) throw new Error(placeholder.error);
      return { cert: placeholder.cert, key: placeholder.key, names: placeholder.names, source };
    }
    const text = this.readRelative(file, segs);
    if (text === undefined) return undefined;
    const checked = checkBundle(text);
    if ('error' in checked) {
      this.diag.error(where, `${file}: ${checked.error}`);
      return undefined;
    }
    const expiry = expiryWarning(checked.leaf, this.expiryWarningDays);
    if (expiry) this.diag.warn(where, `${file}: ${expiry}`);
    return { cert: checked.cert, key: checked.key, names: checked.names, source, ...this.ocspResponse(source, where) };
  }

  /** The response stapled with `source`'s certificate, when `<source>.ocsp` exists. */
  private ocspResponse(source: string, where: Where): { ocsp?: string } {
    const file = ocspFile(source);
    if (!existsSync(file)) return {};
    const checked = checkOcspResponse(readFileSync(file));
    if ('error' in checked) {
      this.diag.error(where, `${file}: ${checked.error}`);
      return {};
    }
    return checked;
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
      // The L7 path speaks HTTP/1.1 or h2 to servers: a server choosing anything else would get bytes it cannot read.
      const other = o.alpn.filter((p) => p !== 'http/1.1' && p !== 'http/1.0' && p !== 'h2');
      if (mode === 'http' && other.length) this.diag.error(where, `alpn ${o.alpn.join(',')}: tslb speaks HTTP/1.1 and h2 to servers, it may offer h2, http/1.1 and http/1.0 only (not ${other.join(', ')})`);
      out.alpn = o.alpn;
    }
    return out;
  }
}
