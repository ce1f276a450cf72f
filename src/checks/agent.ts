/**
 * `agent-check`: connect to the agent port, optionally send `agent-send`, read one
 * line and apply its words: `<n>%` (weight relative to the configured weight),
 * `maxconn:<n>`, `ready`/`drain`/`maint` (administrative state), `up`/`down`/
 * `fail`/`stopped` (operational state), `#text` (description).
 */
import { withSession } from './session';
import type { AgentReply, CheckKind, CheckResult } from './types';

export function parseAgentReply(line: string): { reply: AgentReply; desc: string } | undefined {
  const hash = line.indexOf('#');
  const desc = hash >= 0 ? line.slice(hash + 1).trim() : '';
  const words = (hash >= 0 ? line.slice(0, hash) : line).split(/[\s,]+/).filter(Boolean);
  const reply: AgentReply = {};
  let understood = hash >= 0;
  for (const raw of words) {
    const word = raw.toLowerCase();
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)%$/.exec(word))) reply.weightPercent = Number(m[1]);
    else if ((m = /^maxconn:(\d+)$/.exec(word))) reply.maxconn = Number(m[1]);
    else if (word === 'ready' || word === 'drain' || word === 'maint') reply.admin = word;
    else if (word === 'up') reply.state = 'up';
    else if (word === 'down' || word === 'fail' || word === 'stopped') reply.state = 'down';
    else continue;
    understood = true;
  }
  return understood ? { reply, desc } : undefined;
}

export const agentCheck: CheckKind = {
  name: 'agent',
  run(ctx) {
    const send = ctx.server.check.agent?.send;
    return withSession(ctx, async (s): Promise<CheckResult> => {
      await s.connect();
      if (send) s.write(send);
      await s.read((data) => data.includes(10));
      const text = s.data.toString('latin1');
      const nl = text.indexOf('\n');
      const line = (nl >= 0 ? text.slice(0, nl) : text).replace(/\r$/, '');
      if (!line) return { status: 'L7RSP', desc: 'Agent check got an empty response' };
      const parsed = parseAgentReply(line);
      if (!parsed) return { status: 'L7RSP', desc: `Agent check got an invalid response: ${line}` };
      const down = parsed.reply.state === 'down';
      return { status: down ? 'L7STS' : 'L7OK', code: 0, desc: parsed.desc, agent: parsed.reply };
    });
  },
};
