/**
 * MD5-crypt (`$1$salt$hash`, Poul-Henning Kamp's FreeBSD scheme, as glibc's crypt(3)
 * and `openssl passwd -1` make it), with node:crypto's MD5: 1,000 rounds, cheap
 * enough to check synchronously. Kept for userlists carried over from old setups.
 */
import { createHash } from 'node:crypto';
import { cryptBase64 } from './sha-crypt';

/** The byte triples of the final encoding, in the scheme's order. */
const ORDER = [
  [0, 6, 12],
  [1, 7, 13],
  [2, 8, 14],
  [3, 9, 15],
  [4, 10, 5],
];

/** The full `$1$salt$hash` string for `password` with the salt of `setting`, or undefined when it is not `$1$…`. */
export function md5Crypt(password: string, setting: string): string | undefined {
  const m = /^\$1\$([^$]{0,8})/.exec(setting);
  if (!m) return undefined;
  const salt = m[1];
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(salt, 'utf8');
  const alt = createHash('md5').update(P).update(S).update(P).digest();
  const ctx = createHash('md5').update(P).update('$1$').update(S);
  for (let n = P.length; n > 0; n -= 16) ctx.update(alt.subarray(0, Math.min(16, n)));
  for (let n = P.length; n > 0; n >>= 1) ctx.update(n & 1 ? Buffer.alloc(1) : P.subarray(0, 1));
  let C = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const h = createHash('md5');
    h.update(i & 1 ? P : C);
    if (i % 3) h.update(S);
    if (i % 7) h.update(P);
    h.update(i & 1 ? C : P);
    C = h.digest();
  }
  let out = '';
  for (const [a, b, c] of ORDER) out += cryptBase64((C[a] << 16) | (C[b] << 8) | C[c], 4);
  out += cryptBase64(C[11], 2);
  return `$1$${salt}$${out}`;
}
