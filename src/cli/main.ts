#!/usr/bin/env node
/**
 * `tslb` command line: run a load balancer from YAML files (`-f`), or check them (`-c`).
 * Runs in the foreground; systemd and Docker supervise it. A first word naming a
 * subcommand (`tslb install …`) runs that instead.
 */
import { initAddressesReported, loadReported } from './config-files';
import { parseCommandArgs } from './args';

interface Subcommand {
  run(argv: string[]): Promise<number>;
}

/** Loaded on use, so running a load balancer loads none of them. */
const SUBCOMMANDS = new Map<string, () => Promise<Subcommand>>([
  ['install', () => import('./install')],
  ['keepalived', () => import('./keepalived')],
  ['cert', () => import('./cert')],
]);

const USAGE = `Usage: tslb -f <config.yaml> [-f <more.yaml> ...] [options]

  -f, --file <path>     configuration file (repeatable; later files extend earlier ones)
  -c, --check           check the configuration and exit: 0 if valid, 1 if not
  -p, --pidfile <path>  write the primary's pid to this file (signals go to it)
  -d, --debug           debug logging (tslb always stays in the foreground)
      --demo            also start built-in demo backends on 127.0.0.1:9001-9003
  -v, --version         print the version and exit
  -h, --help            print this help and exit

Subcommands (each takes --help):
  tslb install [--prefix DIR] [--dry-run]     user, /etc/tslb, systemd unit, logrotate
  tslb keepalived -f <config.yaml> [-o FILE]  keepalived.conf from ha_config.keepalived
  tslb cert self-signed|csr|info ...          make or describe certificate bundles

Signals to the primary: SIGHUP or SIGUSR2 reload the configuration without
dropping connections; SIGTERM or SIGINT stop gracefully.`;

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const subcommand = SUBCOMMANDS.get(argv[0]);
  if (subcommand) return (await subcommand()).run(argv.slice(1));
  const args = parseCommandArgs('tslb', USAGE, argv, {
    file: { type: 'string', short: 'f', multiple: true },
    check: { type: 'boolean', short: 'c' },
    pidfile: { type: 'string', short: 'p' },
    debug: { type: 'boolean', short: 'd' },
    demo: { type: 'boolean' },
    version: { type: 'boolean', short: 'v' },
  });
  if (typeof args === 'number') return args;
  if (args.version) {
    process.stdout.write(`tslb version ${version()} (node ${process.version})\n`);
    return 0;
  }
  const files = args.file ?? [];
  if (files.length === 0) {
    process.stderr.write(`tslb: no configuration file given (-f)\n\n${USAGE}\n`);
    return 1;
  }
  const model = loadReported(files);
  if (!model || !(await initAddressesReported(model))) return 1;
  if (args.check) {
    process.stdout.write('Configuration file is valid\n');
    return 0;
  }
  // Loaded only to run: `-c` and the subcommands start without the primary's modules.
  if (args.demo) await (await import('./demo')).startDemoBackends();
  const { runPrimary } = await import('../primary/main');
  await runPrimary({ files, model, pidfile: args.pidfile, debug: !!args.debug });
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
