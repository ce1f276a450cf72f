/** `option redis-check`: PING, expect +PONG; any other reply is the failure info. */
import { firstLine, withSession } from './session';
import type { CheckKind, CheckResult } from './types';

const PING = Buffer.from('*1\r\n$4\r\nPING\r\n');

export const redisCheck: CheckKind = {
  name: 'redis',
  run(ctx) {
    return withSession(ctx, async (s): Promise<CheckResult> => {
      await s.connect();
      s.write(PING);
      await s.read((d) => d.includes('\r\n'));
      const line = firstLine(s.data);
      if (line.startsWith('+PONG')) return { status: 'L7OK', code: 0, desc: 'Redis server is ok' };
      return { status: 'L7STS', code: 0, desc: line };
    });
  },
};
