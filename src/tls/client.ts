/**
 * TLS to servers: the context options a server's keywords give (`ca-file`, `crt`,
 * `ssl-min-ver`, `ssl-max-ver`), shared by the data path and the health checks.
 */
import type * as tls from 'node:tls';
import type { ServerTlsOptions } from '../config/model';

export function serverContextOptions(t: ServerTlsOptions): tls.SecureContextOptions {
  return { ca: t.ca, cert: t.cert, key: t.key, minVersion: t.minVersion, maxVersion: t.maxVersion };
}
