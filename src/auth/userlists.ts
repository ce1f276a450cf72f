/**
 * HAProxy's userlists: users with a crypt(3) password hash (bcrypt `$2a$/$2b$/$2y$`,
 * SHA-crypt `$5$/$6$`, MD5-crypt `$1$`) or an `insecure-password`, checked against a
 * request's `Authorization: Basic` credentials by the `http_auth(userlist)` fetch and
 * the `auth` action. The worker's runtime installs the config's lists (setUserlists)
 * when it is built.
 *
 * Hashes are slow by design (bcrypt cost 10 is ~70 ms of JS; SHA-crypt 5,000 rounds
 * a few ms). HAProxy calls crypt() for every request; tslb remembers the outcome
 * of each (list, credentials) it checked, per worker, in a bounded LRU keyed by an
 * HMAC under a per-process random key (no password is kept), so a keep-alive client
 * or a page's many requests pay one check, not one per request. A reload builds new
 * lists, and forgets. So that no check holds the event loop, the auth-verify module
 * (src/http/modules/auth-verify.ts) checks unknown credentials before any rule runs
 * with the hashes' asynchronous forms (bcryptjs in slices, SHA-crypt rounds a
 * thousand at a time) and runs the request's rules once the outcome is known; the
 * synchronous check below then finds it remembered.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as bcrypt from 'bcryptjs';
import type { Userlist } from '../config/model';
import { md5Crypt } from './md5-crypt';
import { shaCrypt, shaCryptAsync } from './sha-crypt';

/** Outcomes remembered per list: the clients of a busy admin area, bounded. */
const CACHE_MAX = 1024;
/** Keys the remembered outcomes: credentials never sit in memory as they came. */
const cacheKey = randomBytes(32);

function sameText(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How one user's password is checked: at once, and (for slow hashes) without holding the event loop. */
interface Verifier {
  now(password: string): boolean;
  later?(password: string): Promise<boolean>;
}

function verifier(u: Userlist['users'][number]): Verifier {
  if (u.insecurePassword !== undefined) {
    const want = u.insecurePassword;
    return { now: (p) => sameText(p, want) };
  }
  const hash = u.password!;
  if (hash.startsWith('$1$')) return { now: (p) => sameText(md5Crypt(p, hash), hash) };
  if (hash.startsWith('$2')) {
    // bcryptjs reads $2y$ (PHP's name for the fixed $2b$) as well.
    return { now: (p) => bcrypt.compareSync(p, hash), later: (p) => bcrypt.compare(p, hash) };
  }
  return { now: (p) => sameText(shaCrypt(p, hash), hash), later: async (p) => sameText(await shaCryptAsync(p, hash), hash) };
}

class CompiledUserlist {
  private readonly users = new Map<string, Verifier>();
  /** Outcomes by HMAC of the credentials, least recently used first. */
  private readonly seen = new Map<string, boolean>();
  /** Checks under way, so concurrent requests with the same credentials share one. */
  private readonly checking = new Map<string, Promise<void>>();
  readonly slow: boolean;

  constructor(readonly name: string, list: Userlist) {
    for (const u of list.users) this.users.set(u.name, verifier(u));
    this.slow = [...this.users.values()].some((v) => v.later !== undefined);
  }

  private key(credentials: string): string {
    return createHmac('sha256', cacheKey).update(this.name).update('\0').update(credentials).digest('base64');
  }

  private remember(key: string, ok: boolean): void {
    if (this.seen.size >= CACHE_MAX) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, ok);
  }

  private recall(key: string): boolean | undefined {
    const known = this.seen.get(key);
    if (known !== undefined) {
      // Most recently used last.
      this.seen.delete(key);
      this.seen.set(key, known);
    }
    return known;
  }

  /** The user and password of `Authorization: Basic <credentials>`, and the user's verifier (undefined: no such user). */
  private parse(credentials: string): { verify: Verifier | undefined; password: string } {
    const text = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return { verify: colon > 0 ? this.users.get(text.slice(0, colon)) : undefined, password: text.slice(colon + 1) };
  }

  /** Whether `Authorization: Basic <credentials>` names a user of the list with its password. */
  check(credentials: string): boolean {
    const key = this.key(credentials);
    const known = this.recall(key);
    if (known !== undefined) return known;
    const { verify, password } = this.parse(credentials);
    const ok = verify !== undefined && verify.now(password);
    this.remember(key, ok);
    return ok;
  }

  /** A check of slow credentials not known yet, started without holding the event loop; undefined when check() would be quick. */
  prepare(credentials: string): Promise<void> | undefined {
    const key = this.key(credentials);
    if (this.seen.has(key)) return undefined;
    const running = this.checking.get(key);
    if (running) return running;
    const { verify, password } = this.parse(credentials);
    if (!verify?.later) return undefined;
    const done = verify.later(password).then(
      (ok) => {
        this.checking.delete(key);
        this.remember(key, ok);
      },
      () => {
        this.checking.delete(key);
        this.remember(key, false);
      },
    );
    this.checking.set(key, done);
    return done;
  }
}

let lists = new Map<string, CompiledUserlist>();
let anySlow = false;

/** The config's userlists, for the runtime being built. */
export function setUserlists(config: readonly Userlist[]): void {
  lists = new Map(config.map((l) => [l.name, new CompiledUserlist(l.name, l)]));
  anySlow = [...lists.values()].some((l) => l.slow);
}

/** Some user of some list has a slow hash (bcrypt, SHA-crypt): requests with credentials get them checked first. */
export function userlistsHaveSlowHashes(): boolean {
  return anySlow;
}

function basicCredentials(authorization: string): string | undefined {
  return /^\s*basic\s+(\S+)\s*$/i.exec(authorization)?.[1];
}

/** `http_auth(list)`: the request's Authorization header (its value, or undefined) names a user of `list` with its password. */
export function httpAuth(list: string, authorization: string | undefined): boolean {
  if (authorization === undefined) return false;
  const credentials = basicCredentials(authorization);
  if (credentials === undefined) return false;
  return lists.get(list)?.check(credentials) ?? false;
}

/**
 * Starts the slow checks of these credentials against every list whose outcome is not
 * known yet; resolves when they are all known, or undefined when none is needed.
 */
export function prepareHttpAuth(authorization: string): Promise<unknown> | undefined {
  const credentials = basicCredentials(authorization);
  if (credentials === undefined) return undefined;
  let pending: Promise<void>[] | undefined;
  for (const l of lists.values()) {
    const p = l.prepare(credentials);
    if (p) (pending ??= []).push(p);
  }
  return pending === undefined ? undefined : pending.length === 1 ? pending[0] : Promise.all(pending);
}

/** Hash schemes a userlist's `password` may use. */
export function passwordHashError(hash: string): string | undefined {
  if (/^\$[56]\$/.test(hash)) return undefined;
  if (/^\$1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/.test(hash)) return undefined;
  if (/^\$2[aby]\$\d\d\$[./0-9A-Za-z]{53}$/.test(hash)) {
    const cost = Number(hash.slice(4, 6));
    return cost >= 4 && cost <= 31 ? undefined : `bcrypt cost ${cost} is outside 4..31`;
  }
  if (/^\$2[aby]\$/.test(hash)) return 'a bcrypt hash is $2a$, $2b$ or $2y$, a two-digit cost, $, then 53 characters (htpasswd -nbB, or bcryptjs)';
  return 'expected a crypt(3) hash: bcrypt $2a$/$2b$/$2y$ (htpasswd -B), SHA-crypt $5$/$6$ (openssl passwd -6) or MD5-crypt $1$ (openssl passwd -1)';
}
