/**
 * `option pgsql-check user <name>`: a protocol 3.0 startup message for the user.
 * As in HAProxy the first reply decides: an authentication message ('R': OK or a
 * password request) means the server is up; an ErrorResponse ('E', e.g. a
 * pg_hba.conf rejection) fails the check with its severity, SQLSTATE and message.
 */
import { withSession } from './session';
import type { CheckKind, CheckResult } from './types';

function startupMessage(user: string): Buffer {
  const body = Buffer.from(`user\0${user}\0\0`, 'utf8');
  const msg = Buffer.alloc(8 + body.length);
  msg.writeInt32BE(msg.length, 0);
  msg.writeInt32BE(196608, 4); // protocol 3.0
  body.copy(msg, 8);
  return msg;
}

/** ErrorResponse fields: S/V severity, C SQLSTATE, M message. */
function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const end = body.indexOf(0, pos + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[pos]), body.subarray(pos + 1, end).toString('utf8'));
    pos = end + 1;
  }
  return fields;
}

export const pgsqlCheck: CheckKind = {
  name: 'pgsql',
  run(ctx) {
    const user = ctx.spec.user;
    return withSession(ctx, async (s): Promise<CheckResult> => {
      if (!user) return { status: 'SOCKERR', desc: 'pgsql-check needs a user' };
      await s.connect();
      s.write(startupMessage(user));
      const whole = (d: Buffer): boolean => d.length >= 5 && d.length >= 1 + d.readInt32BE(1);
      await s.read(whole);
      if (!whole(s.data)) return { status: 'L7RSP', desc: s.data.length ? 'PostgreSQL unknown error' : '' };
      const type = String.fromCharCode(s.data[0]);
      if (type === 'R') {
        s.write(Buffer.from([0x58, 0, 0, 0, 4])); // Terminate
        return { status: 'L7OK', code: 0, desc: 'PostgreSQL server is ok' };
      }
      if (type === 'E') {
        const f = errorFields(s.data.subarray(5, 1 + s.data.readInt32BE(1)));
        return { status: 'L7RSP', desc: `${f.get('S') ?? 'ERROR'} ${f.get('C') ?? ''}: ${f.get('M') ?? ''}` };
      }
      return { status: 'L7RSP', desc: 'PostgreSQL unknown error' };
    });
  },
};
