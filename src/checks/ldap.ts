/**
 * `option ldap-check`: an anonymous simple bind (LDAPv3); the BindResponse's
 * resultCode must be 0 (success), otherwise it is the check's code.
 */
import { withSession } from './session';
import type { CheckKind, CheckResult } from './types';

// SEQUENCE { messageID 1, [APPLICATION 0] BindRequest { version 3, name "", simple "" } }
const BIND = Buffer.from('300c020101600702010304008000', 'hex');

/** Read one BER length at `pos`: [value, next position], or undefined if truncated. */
function berLength(d: Buffer, pos: number): [number, number] | undefined {
  if (pos >= d.length) return undefined;
  const first = d[pos];
  if (first < 0x80) return [first, pos + 1];
  const n = first & 0x7f;
  if (n === 0 || n > 4 || pos + 1 + n > d.length) return undefined;
  return [d.readUIntBE(pos + 1, n), pos + 1 + n];
}

function bindResult(d: Buffer): number | 'incomplete' | 'invalid' {
  if (d.length < 2) return 'incomplete';
  if (d[0] !== 0x30) return 'invalid';
  const outer = berLength(d, 1);
  if (!outer) return 'incomplete';
  if (d.length < outer[1] + outer[0]) return 'incomplete';
  let pos = outer[1];
  if (d[pos] !== 0x02) return 'invalid'; // messageID
  const id = berLength(d, pos + 1);
  if (!id) return 'invalid';
  pos = id[1] + id[0];
  if (d[pos] !== 0x61) return 'invalid'; // BindResponse
  const resp = berLength(d, pos + 1);
  if (!resp) return 'invalid';
  pos = resp[1];
  if (d[pos] !== 0x0a) return 'invalid'; // resultCode ENUMERATED
  const code = berLength(d, pos + 1);
  if (!code || code[0] < 1) return 'invalid';
  return d.readUIntBE(code[1], Math.min(code[0], 4));
}

export const ldapCheck: CheckKind = {
  name: 'ldap',
  run(ctx) {
    return withSession(ctx, async (s): Promise<CheckResult> => {
      await s.connect();
      s.write(BIND);
      await s.read((d) => bindResult(d) !== 'incomplete');
      const result = bindResult(s.data);
      if (typeof result !== 'number') return { status: 'L7RSP', desc: 'Not LDAPv3 protocol' };
      if (result !== 0) return { status: 'L7STS', code: result, desc: 'See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9' };
      return { status: 'L7OK', code: 0, desc: 'Success' };
    });
  },
};
