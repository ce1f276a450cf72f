/**
 * HAProxy's userlists: users with a crypt(3) password hash (`$5$`/`$6$` SHA-crypt
 * here) or an `insecure-password`, checked against a request's `Authorization: Basic`
 * credentials by the `http_auth(userlist)` fetch and the `auth` action. The worker's
 * runtime installs the config's lists (setUserlists) when it is built; a hash is
 * costly by design, so each list remembers the outcome for the last credentials it saw.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Userlist } from '../config/model';
import { shaCryptVerify } from './sha-crypt';

/** Outcomes remembered per list: enough for the clients of a busy admin page, bounded. */
const CACHE_MAX = 1024;

class CompiledUserlist {
  private readonly users = new Map<string, (password: string) => boolean>();
  private readonly seen = new Map<string, boolean>();

  constructor(list: Userlist) {
    for (const u of list.users) {
      if (u.insecurePassword !== undefined) {
        const want = Buffer.from(u.insecurePassword);
        this.users.set(u.name, (p) => {
          const got = Buffer.from(p);
          return got.length === want.length && timingSafeEqual(got, want);
        });
      } else {
        const hash = u.password!;
        this.users.set(u.name, (p) => shaCryptVerify(p, hash));
      }
    }
  }

  /** Whether `Authorization: Basic <credentials>` names a user of the list with its password. */
  check(credentials: string): boolean {
    const known = this.seen.get(credentials);
    if (known !== undefined) return known;
    const text = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const verify = colon > 0 ? this.users.get(text.slice(0, colon)) : undefined;
    const ok = verify !== undefined && verify(text.slice(colon + 1));
    if (this.seen.size >= CACHE_MAX) this.seen.clear();
    this.seen.set(credentials, ok);
    return ok;
  }
}

let lists = new Map<string, CompiledUserlist>();

/** The config's userlists, for the runtime being built. */
export function setUserlists(config: readonly Userlist[]): void {
  lists = new Map(config.map((l) => [l.name, new CompiledUserlist(l)]));
}

/** `http_auth(list)`: the request's Authorization header (its value, or undefined) names a user of `list` with its password. */
export function httpAuth(list: string, authorization: string | undefined): boolean {
  if (authorization === undefined) return false;
  const m = /^\s*basic\s+(\S+)\s*$/i.exec(authorization);
  if (!m) return false;
  return lists.get(list)?.check(m[1]) ?? false;
}

/** Hash schemes a userlist's `password` may use. */
export function passwordHashError(hash: string): string | undefined {
  if (/^\$[56]\$/.test(hash)) return undefined;
  if (/^\$2[aby]\$/.test(hash)) return 'bcrypt hashes ($2a$/$2b$/$2y$) are not supported yet: use a $5$/$6$ SHA-crypt hash (mkpasswd -m sha-512, openssl passwd -6)';
  return 'expected a $5$ or $6$ SHA-crypt hash (mkpasswd -m sha-512, openssl passwd -6)';
}
