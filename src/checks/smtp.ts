/**
 * `option smtpchk [HELO|EHLO <domain>]`: a 2xx banner, then HELO (default
 * `HELO localhost`) answered with 2xx; the reply code is the check code.
 */
import { withSession, type CheckSession } from './session';
import type { CheckKind, CheckResult } from './types';

/** Wait for a complete (possibly multi-line "250-…") reply; returns its last line. */
async function readReply(s: CheckSession): Promise<string | undefined> {
  const last = (d: Buffer): string | undefined => {
    const lines = d.toString('latin1').split('\r\n');
    for (let i = 0; i < lines.length - 1; i++) if (/^\d{3}( |$)/.test(lines[i])) return lines[i];
    return undefined;
  };
  await s.read((d) => last(d) !== undefined);
  const line = last(s.data);
  s.clear();
  return line;
}

function fromReply(line: string | undefined): CheckResult | undefined {
  if (!line) return { status: 'L7RSP', desc: '' };
  const code = Number(line.slice(0, 3));
  if (code < 200 || code > 299) return { status: 'L7STS', code, desc: line.slice(4) };
  return undefined;
}

export const smtpCheck: CheckKind = {
  name: 'smtp',
  run(ctx) {
    const hello = ctx.spec.smtpHello ?? 'HELO localhost';
    return withSession(ctx, async (s): Promise<CheckResult> => {
      await s.connect();
      const banner = await readReply(s);
      const bad = fromReply(banner);
      if (bad) return bad;
      s.write(`${hello}\r\n`);
      const reply = await readReply(s);
      const refused = fromReply(reply);
      if (refused) return refused;
      s.write('QUIT\r\n');
      return { status: 'L7OK', code: Number(reply!.slice(0, 3)), desc: reply!.slice(4) };
    });
  },
};
