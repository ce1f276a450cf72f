/**
 * `userlists:` sections, as HAProxy's `userlist`: each user as YAML
 * (`{ name, password | insecure_password }`) or as the HAProxy line
 * (`user alice password $6$…`, `user bob insecure-password s3cret`).
 */
import { passwordHashError } from '../auth/userlists';
import { splitWords } from './haproxy-syntax';
import type { Userlist } from './model';
import type { UserlistInput } from './schema-sections';
import type { Diagnostics, Seg, Where } from './source';

type Locate = (segs: Seg[]) => Where;

export function buildUserlists(list: UserlistInput[], at: Locate, diag: Diagnostics): Userlist[] {
  return list.map((l, li) => {
    const users: Userlist['users'] = [];
    const names = new Set<string>();
    l.users.forEach((u, ui) => {
      const where = at(['userlists', li, 'users', ui]);
      let user: Userlist['users'][number];
      if (typeof u === 'string') {
        const w = splitWords(u);
        if (w.length !== 4 || w[0] !== 'user' || (w[2] !== 'password' && w[2] !== 'insecure-password')) {
          diag.error(where, 'expected "user <name> password <hash>" or "user <name> insecure-password <password>"');
          return;
        }
        user = w[2] === 'password' ? { name: w[1], password: w[3] } : { name: w[1], insecurePassword: w[3] };
      } else {
        if ((u.password === undefined) === (u.insecure_password === undefined)) {
          diag.error(where, 'a user takes one of password (a hash) and insecure_password');
          return;
        }
        user = u.password !== undefined ? { name: u.name, password: u.password } : { name: u.name, insecurePassword: u.insecure_password };
      }
      if (user.password !== undefined) {
        const e = passwordHashError(user.password);
        if (e) diag.error(where, `user "${user.name}": ${e}`);
      }
      if (names.has(user.name)) diag.error(where, `user "${user.name}" is already in userlist "${l.name}"`);
      names.add(user.name);
      users.push(user);
    });
    return { name: l.name, users };
  });
}
