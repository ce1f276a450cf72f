/**
 * The frontends' listening addresses: each bind read, and the binds of all frontends
 * checked against each other.
 */
import { isIP } from 'node:net';
import type { Locate } from './build';
import type { Bind, Frontend, Mode } from './model';
import type { BindInput } from './schema-frontend';
import { parseListen } from './services';
import type { Diagnostics, Seg } from './source';
import type { TlsConfig } from './tls';

/** One bind: `address:port`, or the object form with PROXY protocol, h2c and TLS. */
export function buildBind(b: string | BindInput, mode: Mode, segs: Seg[], tls: TlsConfig, at: Locate, diag: Diagnostics): Bind {
  const source = diag.sourceRef(at(segs));
  if (typeof b === 'string') {
    const parsed = parseListen(b);
    if (!parsed) {
      diag.error(at(segs), `bad bind "${b}": expected address:port with port 1..65535`);
      return { address: '0.0.0.0', port: 0, acceptProxy: false, h2c: false, source };
    }
    return { ...parsed, acceptProxy: false, h2c: false, source };
  }
  const address = b.address === undefined || b.address === '*' || b.address === '' ? '0.0.0.0' : b.address;
  if (!isIP(address)) diag.error(at([...segs, 'address']), `"${address}" is not an IP address`);
  const bind: Bind = { address, port: b.port, acceptProxy: b.accept_proxy ?? false, h2c: (b.h2c ?? false) && !b.ssl, source };
  if (b.h2c && b.ssl) diag.error(at([...segs, 'h2c']), 'h2c is for plain binds: a TLS bind offers h2 by ALPN (ssl.alpn)');
  if (b.h2c && mode !== 'http') diag.error(at([...segs, 'h2c']), 'h2c needs mode http');
  if (b.ssl) bind.tls = tls.bind(b.ssl, mode, [...segs, 'ssl']);
  return bind;
}

/** Two binds of the frontends on the same port and overlapping addresses are an error. */
export function checkBindConflicts(frontends: Frontend[], at: Locate, diag: Diagnostics): void {
  const seen = new Map<number, { address: string; where: string }[]>();
  frontends.forEach((f, fi) => {
    f.binds.forEach((b, bi) => {
      if (b.port === 0) return;
      const list = seen.get(b.port) ?? [];
      // A wildcard clashes with its own family; `::` is dual-stack on Linux and clashes with both.
      const clash = list.find(
        (o) =>
          o.address === b.address ||
          o.address === '::' ||
          b.address === '::' ||
          (isIP(o.address) === isIP(b.address) && (o.address === '0.0.0.0' || b.address === '0.0.0.0')),
      );
      if (clash) diag.error(at(['frontends', fi, 'binds', bi]), `${b.address}:${b.port} is already bound by ${clash.where}`);
      list.push({ address: b.address, where: `frontend "${f.name}" (${b.address}:${b.port})` });
      seen.set(b.port, list);
    });
  });
}
