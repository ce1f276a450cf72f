#!/usr/bin/env node
/**
 * `tslb` command line: run a load balancer from YAML files (`-f`), or check them (`-c`).
 * Runs in the foreground; systemd and Docker supervise it.
 */
import { parseArgs } from 'node:util';
import { loadConfig, formatIssue } from '../config/load';
import { applyInitAddr } from '../primary/init-addr';
import { runPrimary } from '../primary/main';
import { startDemoBackends } from './demo';

const USAGE = `Usage: tslb -f <config.yaml> [-f <more.yaml> ...] [options]

  -f, --file <path>     configuration file (repeatable; later files extend earlier ones)
  -c, --check           check the configuration and exit: 0 if valid, 1 if not
  -p, --pidfile <path>  write the primary's pid to this file (signals go to it)
  -d, --debug           debug logging (tslb always stays in the foreground)
      --demo            also start built-in demo backends on 127.0.0.1:9001-9003
  -v, --version         print the version and exit
  -h, --help            print this help and exit

Signals to the primary: SIGHUP or SIGUSR2 reload the configuration without
dropping connections; SIGTERM or SIGINT stop gracefully.`;

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        check: { type: 'boolean', short: 'c' },
        pidfile: { type: 'string', short: 'p' },
        debug: { type: 'boolean', short: 'd' },
        demo: { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`tslb: ${(err as Error).message}\n\n${USAGE}\n`);
    return 1;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (args.version) {
    process.stdout.write(`tslb version ${version()} (node ${process.version})\n`);
    return 0;
  }
  const files = args.file ?? [];
  if (files.length === 0) {
    process.stderr.write(`tslb: no configuration file given (-f)\n\n${USAGE}\n`);
    return 1;
  }
  const result = loadConfig(files);
  for (const w of result.warnings) process.stderr.write(`[WARNING] ${formatIssue(w)}\n`);
  for (const e of result.errors) process.stderr.write(`[ALERT] ${formatIssue(e)}\n`);
  if (!result.model || result.errors.length) {
    process.stderr.write(`Configuration file has ${result.errors.length} error(s).\n`);
    return 1;
  }
  // Servers named by a host name get their first address now, as HAProxy does while parsing.
  const addressIssues = await applyInitAddr(result.model);
  for (const i of addressIssues) process.stderr.write(`${i.severity === 'warning' ? '[NOTICE]' : '[ALERT]'} ${formatIssue(i)}\n`);
  if (addressIssues.some((i) => i.severity === 'error')) {
    process.stderr.write('Failed to initialize server(s) addr.\n');
    return 1;
  }
  if (args.check) {
    process.stdout.write('Configuration file is valid\n');
    return 0;
  }
  if (args.demo) await startDemoBackends();
  await runPrimary({ files, model: result.model, pidfile: args.pidfile, debug: !!args.debug });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Set, not exit(): stdout to a pipe is asynchronous and must be flushed first.
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`tslb: ${err.message}\n`);
    process.exit(1);
  },
);
