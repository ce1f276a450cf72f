/**
 * `option ssl-hello-chk`: send a TLS ClientHello in clear and expect a TLS record
 * back (a handshake or an alert both prove a TLS stack answers): L6OK / L6RSP /
 * L6TOUT, as HAProxy reports it.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { withSession } from './session';
import type { CheckKind, CheckResult } from './types';

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

export function clientHello(sni?: string): Buffer {
  const suites = [0xc02f, 0xc030, 0xc02b, 0xc02c, 0xcca8, 0xcca9, 0x009c, 0x009d, 0x002f, 0x0035, 0x00ff];
  const groups = [0x001d, 0x0017, 0x0018];
  const sigalgs = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601];
  const list = (values: number[]): Buffer => Buffer.concat([u16(values.length * 2), ...values.map(u16)]);
  const exts = [
    extension(0x000a, list(groups)),
    extension(0x000b, Buffer.from([1, 0])),
    extension(0x000d, list(sigalgs)),
  ];
  if (sni && !net.isIP(sni)) {
    const name = Buffer.from(sni, 'latin1');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    exts.push(extension(0x0000, Buffer.concat([u16(entry.length), entry])));
  }
  const extBlock = Buffer.concat(exts);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    randomBytes(32),
    Buffer.from([0]), // no session id
    list(suites),
    Buffer.from([1, 0]), // null compression
    u16(extBlock.length),
    extBlock,
  ]);
  const handshake = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

export const sslHelloCheck: CheckKind = {
  name: 'ssl-hello',
  run(ctx) {
    return withSession(
      ctx,
      async (s): Promise<CheckResult> => {
        await s.connect(ctx.target.port, false);
        s.write(clientHello(ctx.target.sni));
        await s.read((d) => d.length >= 5);
        if (s.data.length >= 5 && (s.data[0] === 0x15 || s.data[0] === 0x16)) return { status: 'L6OK', desc: '' };
        return { status: 'L6RSP', desc: '' };
      },
      (s) => {
        s.readTimeoutStatus = 'L6TOUT';
      },
    );
  },
};
