/**
 * Real Redis, MariaDB and PostgreSQL servers for the check tests: each started on
 * an ephemeral loopback port with a fresh data directory under the OS temp dir,
 * stopped by PID and removed afterwards. A server that cannot be started here
 * (not installed, no unprivileged user for PostgreSQL…) yields a reason to skip.
 *
 * Debian packages: redis-server, mariadb-server, postgresql.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './fixtures';

export interface RunningService {
  port: number;
  stop(): Promise<void>;
}

export type Started = RunningService | { skip: string };

const START_TIMEOUT = 20000;

function which(candidates: string[]): string | undefined {
  return candidates.find((c) => fs.existsSync(c));
}

/** Spawn `cmd`, resolve once `ready` appears in its output, reject on exit or timeout. */
function launch(cmd: string, args: string[], ready: RegExp, dir: string, opts: { uid?: number; gid?: number } = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(cmd)} not ready after ${START_TIMEOUT} ms: ${output.slice(-500)}`));
    }, START_TIMEOUT);
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stderr!.removeAllListeners('data');
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} exited with ${code}: ${output.slice(-500)}`));
    });
  });
}

/** SIGTERM the child (by its PID), SIGKILL after 5 s, then remove its directory. */
function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

async function start(name: string, body: (dir: string) => Promise<RunningService>): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `chk-${name}-`));
  try {
    return await body(dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { skip: `${name} could not be started here: ${(err as Error).message}` };
  }
}

export function startRedis(): Promise<Started> {
  const bin = which(['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
  if (!bin) return Promise.resolve({ skip: 'redis-server is not installed (Debian package redis-server)' });
  return start('redis', async (dir) => {
    const port = await freePort();
    const child = await launch(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], /Ready to accept connections/, dir);
    return { port, stop: stopper(child, dir) };
  });
}

/** MariaDB with a passwordless user `haproxy` (any host); other users are refused (1045). */
export function startMariaDb(): Promise<Started> {
  const server = which(['/usr/sbin/mariadbd', '/usr/sbin/mysqld']);
  const installer = which(['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db']);
  if (!server || !installer) return Promise.resolve({ skip: 'MariaDB is not installed (Debian package mariadb-server)' });
  return start('mariadb', async (dir) => {
    const data = path.join(dir, 'data');
    const root = process.getuid?.() === 0;
    const user = root ? ['--user=root'] : [];
    execFileSync(installer, ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore', timeout: START_TIMEOUT });
    fs.writeFileSync(path.join(dir, 'init.sql'), "CREATE USER 'haproxy'@'%';\n");
    const port = await freePort();
    const child = await launch(
      server,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${path.join(dir, 'mysql.sock')}`,
        `--pid-file=${path.join(dir, 'mysql.pid')}`,
        `--init-file=${path.join(dir, 'init.sql')}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=8M',
        ...user,
      ],
      /ready for connections/,
      dir,
    );
    return { port, stop: stopper(child, dir) };
  });
}

/** PostgreSQL with trust auth for `haproxy`; pg_hba.conf rejects `intruder` (28000). */
export function startPostgres(): Promise<Started> {
  const base = '/usr/lib/postgresql';
  const version = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  const bin = version ? path.join(base, version, 'bin') : undefined;
  if (!bin || !fs.existsSync(path.join(bin, 'postgres'))) return Promise.resolve({ skip: 'PostgreSQL is not installed (Debian package postgresql)' });
  return start('pgsql', async (dir) => {
    // postgres refuses to run as root: use the package's `postgres` user then.
    let ids: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      fs.chownSync(dir, uid, gid);
      ids = { uid, gid };
    }
    const data = path.join(dir, 'data');
    execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'haproxy', '--auth=trust', '-N'], { stdio: 'ignore', timeout: START_TIMEOUT, cwd: dir, ...ids });
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'host all intruder 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n');
    const port = await freePort();
    const child = await launch(
      path.join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'shared_buffers=8MB', '-c', 'fsync=off'],
      /ready to accept connections/,
      dir,
      ids,
    );
    return { port, stop: stopper(child, dir) };
  });
}
