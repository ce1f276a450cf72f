/** Plain `check`: the server accepts a connection (and a TLS handshake with check-ssl). */
import { withSession } from './session';
import type { CheckKind } from './types';

export const tcpCheck: CheckKind = {
  name: 'tcp',
  run(ctx) {
    return withSession(ctx, async (s) => {
      await s.connect();
      return { status: s.tls ? 'L6OK' : 'L4OK', desc: '' };
    });
  },
};
