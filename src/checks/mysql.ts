/**
 * `option mysql-check [user <name> [post-41]]`. Reads the server greeting (an
 * error packet there fails the check with its error code); with a user, answers
 * with a passwordless login — the 4.1 protocol when the server speaks it, else
 * the pre-4.1 one — and expects OK; an ERR packet fails the check with the
 * server's error code and message. The server version is the success info.
 */
import { withSession, type CheckSession } from './session';
import type { CheckKind, CheckResult } from './types';

const CLIENT_LONG_PASSWORD = 0x1;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;

interface Packet {
  seq: number;
  payload: Buffer;
}

/** Wait for one whole packet at the head of the buffer, and remove it. */
async function readPacket(s: CheckSession): Promise<Packet | undefined> {
  const whole = (d: Buffer): boolean => d.length >= 4 && d.length >= 4 + d.readUIntLE(0, 3);
  await s.read(whole);
  if (!whole(s.data)) return undefined;
  const len = s.data.readUIntLE(0, 3);
  const packet = { seq: s.data[3], payload: Buffer.from(s.data.subarray(4, 4 + len)) };
  s.consume(4 + len);
  return packet;
}

function frame(seq: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = seq & 0xff;
  return Buffer.concat([head, payload]);
}

/** An ERR packet: HAProxy's info is everything after the code ("#28000Access denied …"). */
function errorResult(payload: Buffer): CheckResult {
  return { status: 'L7STS', code: payload.readUInt16LE(1), desc: payload.subarray(3).toString('utf8') };
}

interface Greeting {
  version: string;
  capabilities: number;
}

function parseGreeting(p: Buffer): Greeting | undefined {
  const end = p.indexOf(0, 1);
  if (end < 0) return undefined;
  const version = p.subarray(1, end).toString('latin1');
  let pos = end + 1 + 4 + 8 + 1; // thread id, auth data part 1, filler
  if (p.length < pos + 2) return { version, capabilities: 0 };
  let capabilities = p.readUInt16LE(pos);
  pos += 2 + 1 + 2; // lower flags, charset, status
  if (p.length >= pos + 2) capabilities |= p.readUInt16LE(pos) << 16;
  return { version, capabilities: capabilities >>> 0 };
}

function loginPacket(user: string, server: number): Buffer {
  const name = Buffer.from(user + '\0', 'utf8');
  if (!(server & CLIENT_PROTOCOL_41)) {
    // Pre-4.1 HandshakeResponse320: 2-byte flags, 3-byte max packet, user, empty password.
    const head = Buffer.from([CLIENT_LONG_PASSWORD, 0x80, 0x00, 0x00, 0x01]);
    return Buffer.concat([head, name, Buffer.from([0])]);
  }
  const plugin = (server & CLIENT_PLUGIN_AUTH) !== 0;
  const flags = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | (plugin ? CLIENT_PLUGIN_AUTH : 0);
  const head = Buffer.alloc(32);
  head.writeUInt32LE(flags >>> 0, 0);
  head.writeUInt32LE(0x01000000, 4); // max packet 16 MiB
  head[8] = 0x21; // utf8_general_ci
  const parts = [head, name, Buffer.from([0])]; // auth response length 0: no password
  if (plugin) parts.push(Buffer.from('mysql_native_password\0', 'latin1'));
  return Buffer.concat(parts);
}

export const mysqlCheck: CheckKind = {
  name: 'mysql',
  run(ctx) {
    const user = ctx.spec.user;
    return withSession(ctx, async (s): Promise<CheckResult> => {
      await s.connect();
      const hello = await readPacket(s);
      if (!hello) return { status: 'L7RSP', desc: '' };
      if (hello.payload[0] === 0xff) return errorResult(hello.payload);
      const greeting = parseGreeting(hello.payload);
      if (!greeting) return { status: 'L7RSP', desc: '' };
      if (!user) return { status: 'L7OK', code: 0, desc: greeting.version };
      let seq = hello.seq + 1;
      s.write(frame(seq, loginPacket(user, greeting.capabilities)));
      // One auth-method switch is answered with an empty password; a second is an error.
      for (let round = 0; round < 2; round++) {
        const reply = await readPacket(s);
        if (!reply) return { status: 'L7RSP', desc: '' };
        if (reply.payload[0] === 0xff) return errorResult(reply.payload);
        if (reply.payload[0] === 0x00) {
          s.write(frame(0, Buffer.from([0x01]))); // COM_QUIT
          return { status: 'L7OK', code: 0, desc: greeting.version };
        }
        if (reply.payload[0] !== 0xfe || round > 0) break;
        seq = reply.seq + 1;
        s.write(frame(seq, Buffer.alloc(0)));
      }
      return { status: 'L7RSP', desc: 'unexpected reply to the login' };
    });
  },
};
