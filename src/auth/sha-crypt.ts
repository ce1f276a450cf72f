/**
 * SHA-crypt (`$5$` SHA-256 and `$6$` SHA-512 password hashes, Ulrich Drepper's
 * specification "Unix crypt using SHA-256 and SHA-512", as glibc's crypt(3) and
 * HAProxy's userlists use them), with node:crypto's hashes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS_DEFAULT = 5000;

/** The byte triples of the final encoding, as the specification orders them. */
function triples(len: 32 | 64): number[][] {
  const third = len === 32 ? 10 : 21;
  const out: number[][] = [];
  for (let i = 0; i < third; i++) {
    const a = i;
    const b = i + third;
    const c = i + 2 * third;
    const r = i % 3;
    if (len === 32) out.push(r === 0 ? [a, b, c] : r === 1 ? [c, a, b] : [b, c, a]);
    else out.push(r === 0 ? [a, b, c] : r === 1 ? [b, c, a] : [c, a, b]);
  }
  return out;
}
const ORDER = { 32: triples(32), 64: triples(64) };

function encode(d: Buffer): string {
  let out = '';
  const put = (w: number, n: number): void => {
    for (let i = 0; i < n; i++) {
      out += ALPHABET[w & 63];
      w >>= 6;
    }
  };
  for (const [x, y, z] of ORDER[d.length as 32 | 64]) put((d[x] << 16) | (d[y] << 8) | d[z], 4);
  if (d.length === 32) put((d[31] << 8) | d[30], 3);
  else put(d[63], 2);
  return out;
}

/** `len` bytes of `block` repeated. */
function repeat(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** The full `$5$…`/`$6$…` string for `password` with the settings of `setting` (`$6$rounds=N$salt…`). */
export function shaCrypt(password: string, setting: string): string | undefined {
  const m = /^\$([56])\$(?:rounds=(\d+)\$)?([^$]*)/.exec(setting);
  if (!m) return undefined;
  const alg = m[1] === '5' ? 'sha256' : 'sha512';
  const rounds = m[2] === undefined ? ROUNDS_DEFAULT : Math.min(999999999, Math.max(1000, Number(m[2])));
  const saltText = m[3].slice(0, 16);
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(saltText, 'utf8');
  const H = () => createHash(alg);
  const B = H().update(P).update(S).update(P).digest();
  const a = H().update(P).update(S).update(repeat(B, P.length));
  for (let n = P.length; n > 0; n >>= 1) a.update(n & 1 ? B : P);
  const A = a.digest();
  const dp = H();
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeat(dp.digest(), P.length);
  const ds = H();
  for (let i = 0; i < 16 + A[0]; i++) ds.update(S);
  const Sseq = repeat(ds.digest(), S.length);
  let C = A;
  for (let i = 0; i < rounds; i++) {
    const c = H();
    c.update(i & 1 ? Pseq : C);
    if (i % 3) c.update(Sseq);
    if (i % 7) c.update(Pseq);
    c.update(i & 1 ? C : Pseq);
    C = c.digest();
  }
  return `$${m[1]}$${m[2] !== undefined ? `rounds=${rounds}$` : ''}${saltText}$${encode(C)}`;
}

/** Does `password` match the `$5$`/`$6$` hash? (constant time over the result) */
export function shaCryptVerify(password: string, hash: string): boolean {
  const got = shaCrypt(password, hash);
  if (got === undefined || got.length !== hash.length) return false;
  return timingSafeEqual(Buffer.from(got), Buffer.from(hash));
}
