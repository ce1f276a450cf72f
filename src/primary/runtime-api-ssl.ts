/** HAProxy's runtime API commands for certificate files (src/primary/certificates.ts carries them out). */
import type { Command } from './runtime-api';

export const SSL_CERT_COMMANDS: Command[] = [
  {
    words: ['show', 'ssl', 'cert'],
    level: 'operator',
    usage: 'show ssl cert [<certfile>] : display the SSL certificates used in memory, or the details of a file',
    run: (api, args) => api.certificates!.show(args[0]),
    available: (api) => api.certificates !== undefined,
  },
  {
    words: ['set', 'ssl', 'cert'],
    level: 'admin',
    usage: 'set ssl cert <certfile> <payload> : replace a certificate file',
    run: (api, args, payload) => api.certificates!.set(args[0], payload),
    available: (api) => api.certificates !== undefined,
  },
  {
    words: ['commit', 'ssl', 'cert'],
    level: 'admin',
    usage: 'commit ssl cert <certfile> : commit a certificate file',
    run: (api, args) => api.certificates!.commit(args[0]),
    available: (api) => api.certificates !== undefined,
  },
  {
    words: ['abort', 'ssl', 'cert'],
    level: 'admin',
    usage: 'abort ssl cert <certfile> : abort a transaction for a certificate file',
    run: (api, args) => api.certificates!.abort(args[0]),
    available: (api) => api.certificates !== undefined,
  },
];
