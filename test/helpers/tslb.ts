/**
 * Starting a real tslb process for tests: the YAML goes to a temp file, the CLI
 * runs as a child process, and the helper waits for the primary's `ready` log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../src/cli/main.js');

export interface TslbProcess {
  pid: number;
  child: ChildProcess;
  configPath: string;
  pidfile: string;
  /** Everything the process wrote so far (stdout + stderr). */
  logs(): string;
  /** Resolves with the first log line (JSON-parsed) matching the predicate. */
  waitForLog(pred: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>; // default 20 s: CI machines are loaded
  /** Rewrite the config file (for reloads). */
  writeConfig(yaml: string): void;
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A process's resident memory in bytes (VmRSS). */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

export function tempDir(prefix = 'tslb-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export async function startTslb(
  yaml: string,
  opts: {
    env?: Record<string, string>;
    args?: string[];
    timeoutMs?: number;
    node?: string;
    /** A command that execs the rest in place (its pid stays tslb's), e.g. `['ip', 'netns', 'exec', ns]`. */
    prefix?: string[];
  } = {},
): Promise<TslbProcess> {
  const dir = tempDir();
  const configPath = path.join(dir, 'lb.yaml');
  const pidfile = path.join(dir, 'tslb.pid');
  writeFileSync(configPath, yaml);
  const command = [...(opts.prefix ?? []), opts.node ?? process.execPath, CLI, '-f', configPath, '-p', pidfile, ...(opts.args ?? [])];
  const child = spawn(command[0], command.slice(1), {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  const entries: Record<string, unknown>[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    partial += text;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      entries.push(entry);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(entry)) {
          waiters[i].resolve(entry);
          waiters.splice(i, 1);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (pred: (e: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = entries.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`log line not seen within ${timeoutMs} ms; output so far:\n${output}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });

  const proc: TslbProcess = {
    pid: child.pid!,
    child,
    configPath,
    pidfile,
    logs: () => output,
    waitForLog,
    writeConfig: (text) => writeFileSync(configPath, text),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  await Promise.race([
    waitForLog((e) => e.event === 'ready', opts.timeoutMs ?? 15_000),
    exited.then((code) => {
      throw new Error(`tslb exited with code ${code} before it was ready:\n${output}`);
    }),
  ]);
  return proc;
}

/** Run the CLI to completion (e.g. `-c`), returning exit code and output. */
export async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Run a client program (curl, nghttp, h2load…) to completion, killed after `timeoutMs`; its exit status and output. */
export function runProgram(cmd: string, args: string[], timeoutMs = 30000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * The YAML of a one-worker site nothing is sent to, for tests of the primary's own listeners: frontend
 * `web` on a free loopback port routing to backend `app`, whose one server's port is free (closed).
 */
export async function idleSite(): Promise<string> {
  return `global: { workers: 1 }
frontends:
  - { name: web, mode: http, binds: ["127.0.0.1:${await freePort()}"], default_backend: app }
backends:
  - { name: app, mode: http, servers: [{ name: s1, address: 127.0.0.1, port: ${await freePort()} }] }
`;
}

/**
 * The YAML of the usual test site: HTTP frontend `web` on `binds` (a YAML flow list) with
 * `frontendLines` (each indented four spaces, newline-terminated), access log off, routing to
 * backend `app`'s one server on 127.0.0.1:`appPort`.
 */
export function webToApp(binds: string, appPort: number, frontendLines = ''): string {
  return `frontends:
  - name: web
    mode: http
    binds: ${binds}
    default_backend: app
    log: { enabled: false }
${frontendLines}backends:
  - name: app
    mode: http
    servers: [{ name: s1, address: 127.0.0.1, port: ${appPort} }]
`;
}
