/**
 * `option external-check` / `external-check command <cmd>`: runs the command
 * directly (execFile, never a shell) with HAProxy's arguments
 * `<proxy_address> <proxy_port> <server_address> <server_port>` and environment,
 * killed when the check timeout expires. Exit status 0 passes.
 */
import { execFile } from 'node:child_process';
import { strerror } from './session';
import type { CheckKind, CheckResult } from './types';

export const externalCheck: CheckKind = {
  name: 'external',
  run(ctx) {
    const ext = ctx.spec.external;
    if (!ext) return Promise.resolve({ status: 'PROCERR', code: 0, desc: 'no external-check command' });
    const { target, server, backend } = ctx;
    // A backend has no listening address of its own: HAProxy passes NOT_USED.
    const args = ['NOT_USED', 'NOT_USED', target.host, String(target.port)];
    const env: NodeJS.ProcessEnv = {
      PATH: ext.path ?? process.env.PATH ?? '/usr/bin:/bin',
      HAPROXY_PROXY_ADDR: 'NOT_USED',
      HAPROXY_PROXY_PORT: 'NOT_USED',
      HAPROXY_PROXY_ID: String(backend.id),
      HAPROXY_PROXY_NAME: backend.name,
      HAPROXY_SERVER_ADDR: target.host,
      HAPROXY_SERVER_PORT: String(target.port),
      HAPROXY_SERVER_ID: String(server.id),
      HAPROXY_SERVER_NAME: server.name,
      HAPROXY_SERVER_MAXCONN: String(server.maxconn),
      HAPROXY_SERVER_SSL: target.tls ? '1' : '0',
      HAPROXY_SERVER_PROTO: 'tcp',
    };
    const timeout = target.connectTimeout + target.readTimeout;
    return new Promise<CheckResult>((resolve) => {
      execFile(
        ext.command,
        args,
        { env, timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, signal: ctx.signal, windowsHide: true },
        (err) => {
          if (!err) return resolve({ status: 'PROCOK', code: 0, desc: '' });
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: string };
          if (e.killed && e.signal === 'SIGKILL') return resolve({ status: 'PROCTOUT', code: 0, desc: '' });
          if (typeof e.code === 'number') return resolve({ status: 'PROCERR', code: e.code, desc: '' });
          resolve({ status: 'PROCERR', code: 0, desc: strerror(e) });
        },
      );
    });
  },
};
