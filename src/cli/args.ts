/** Option parsing shared by `tslb` and its subcommands: one error and help convention for all. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

/**
 * The command's option values, or the exit status when parsing ended the command: 1 after an
 * unknown or malformed option (the reason and the usage on stderr), 0 after `--help` (the usage
 * on stdout). Every command gets `-h`/`--help`; none takes positionals.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  usage: string,
  argv: string[],
  options: O,
): Values<O> | number {
  let values: Values<O> & { help?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } as const },
      strict: true,
      allowPositionals: false,
    }).values as Values<O> & { help?: boolean };
  } catch (err) {
    process.stderr.write(`${command}: ${(err as Error).message}\n\n${usage}\n`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  return values;
}
