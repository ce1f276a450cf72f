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

/** `n` characters of crypt's base-64 for the low bits of `w`, least significant first (the crypt(3) schemes' encoding). */
export function cryptBase64(w: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += ALPHABET[w & 63];
    w >>= 6;
  }
  return out;
}

function encode(d: Buffer): string {
  let out = '';
  for (const [x, y, z] of ORDER[d.length as 32 | 64]) out += cryptBase64((d[x] << 16) | (d[y] << 8) | d[z], 4);
  return out + (d.length === 32 ? cryptBase64((d[31] << 8) | d[30], 3) : cryptBase64(d[63], 2));
}

/** `len` bytes of `block` repeated. */
function repeat(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += block.length) block.copy(out, i, 0, Math.min(block.length, len - i));
  return out;
}

/** A SHA-crypt computation: its settings, the sequences the rounds mix, and the digest so far. */
interface ShaCryptState {
  alg: 'sha256' | 'sha512';
  /** `$5$rounds=N$salt$` as the result starts. */
  prefix: string;
  rounds: number;
  done: number;
  Pseq: Buffer;
  Sseq: Buffer;
  C: Buffer;
}

function start(password: string, setting: string): ShaCryptState | undefined {
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
  const ds = H();
  for (let i = 0; i < 16 + A[0]; i++) ds.update(S);
  const prefix = `$${m[1]}$${m[2] !== undefined ? `rounds=${rounds}$` : ''}${saltText}$`;
  return { alg, prefix, rounds, done: 0, Pseq: repeat(dp.digest(), P.length), Sseq: repeat(ds.digest(), S.length), C: A };
}

/** Runs up to `n` more rounds; true when all are done. */
function advance(st: ShaCryptState, n: number): boolean {
  const end = Math.min(st.rounds, st.done + n);
  let C = st.C;
  for (let i = st.done; i < end; i++) {
    const c = createHash(st.alg);
    c.update(i & 1 ? st.Pseq : C);
    if (i % 3) c.update(st.Sseq);
    if (i % 7) c.update(st.Pseq);
    c.update(i & 1 ? C : st.Pseq);
    C = c.digest();
  }
  st.C = C;
  st.done = end;
  return end === st.rounds;
}

/** The full `$5$…`/`$6$…` string for `password` with the settings of `setting` (`$6$rounds=N$salt…`). */
export function shaCrypt(password: string, setting: string): string | undefined {
  const st = start(password, setting);
  if (!st) return undefined;
  advance(st, st.rounds);
  return st.prefix + encode(st.C);
}

/** Rounds run between two turns of the event loop (about a millisecond's work). */
const ROUNDS_PER_TURN = 1000;

/** shaCrypt() without holding the event loop: the rounds run a thousand at a time. */
export async function shaCryptAsync(password: string, setting: string): Promise<string | undefined> {
  const st = start(password, setting);
  if (!st) return undefined;
  while (!advance(st, ROUNDS_PER_TURN)) await new Promise<void>((r) => setImmediate(r));
  return st.prefix + encode(st.C);
}

/** Does `password` match the `$5$`/`$6$` hash? (constant time over the result) */
export function shaCryptVerify(password: string, hash: string): boolean {
  const got = shaCrypt(password, hash);
  if (got === undefined || got.length !== hash.length) return false;
  return timingSafeEqual(Buffer.from(got), Buffer.from(hash));
}
