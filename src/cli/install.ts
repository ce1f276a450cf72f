/**
 * `tslb install`: what a systemd host needs around the tslb command. The tslb user
 * and group, /etc/tslb with a starter config, the state and log directories, the
 * systemd unit (ExecStart naming this node and this tslb) and a logrotate snippet.
 * Idempotent: whatever exists is kept, never overwritten.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { lookup } from '../primary/privileges';
import { parseCommandArgs } from './args';

const USAGE = `Usage: tslb install [--prefix DIR] [--dry-run]

Creates, when missing (an existing file is kept, never overwritten):
  user and group   tslb (system account, no login)
  /etc/tslb/lb.yaml                  starter configuration (root:tslb, 640)
  /var/lib/tslb, /var/log/tslb       state and log directories (tslb, 750)
  /etc/systemd/system/tslb.service   systemd unit running this tslb with this node
  /etc/logrotate.d/tslb              daily rotation; SIGUSR1 makes tslb reopen its logs

      --prefix <dir>  write the files under DIR as if it were / (for packages and tests);
                      their contents name the final paths; no user is created
      --dry-run       print what would be done and change nothing
  -h, --help          print this help and exit`;

const ACCOUNT = 'tslb';
/** The package's packaging/ folder, from dist/src/cli. */
const PACKAGING = path.resolve(__dirname, '../../../packaging');
/** The command the packaged unit names; replaced by this node and this tslb's main.js. */
const UNIT_COMMAND = '/usr/local/bin/tslb';
/** Characters a path may have to be written bare into a unit's Exec line (no quoting, no % or $). */
const UNIT_SAFE_PATH = /^\/[\w./@+-]+$/;

type Owner = 'root' | 'account' | 'root:account';

type Step =
  | { kind: 'account' }
  | { kind: 'dir'; path: string; mode: number; owner: Owner }
  | { kind: 'file'; path: string; mode: number; owner: Owner; content: string; packaged: string };

interface Context {
  prefix?: string;
  dryRun: boolean;
  /** Files are chowned to the account only when installing for real as root. */
  chown: boolean;
  say(line: string): void;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandArgs('tslb install', USAGE, argv, {
    prefix: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  if (typeof args === 'number') return args;
  const prefix = args.prefix === undefined ? undefined : path.resolve(args.prefix);
  const dryRun = !!args['dry-run'];
  const root = process.getuid?.() === 0;
  if (!root && prefix === undefined && !dryRun) {
    process.stderr.write('tslb install: it writes to /etc and creates a user: run it as root, or give --prefix DIR or --dry-run\n');
    return 1;
  }
  const node = process.execPath;
  const mainJs = path.join(__dirname, 'main.js');
  for (const p of [node, mainJs]) {
    if (!UNIT_SAFE_PATH.test(p)) {
      process.stderr.write(`tslb install: the unit cannot name "${p}" as it is (blanks, quotes, % or $): install tslb under a plain path\n`);
      return 1;
    }
  }
  const ctx: Context = { prefix, dryRun, chown: root && prefix === undefined && !dryRun, say: (line) => process.stdout.write(line + '\n') };
  for (const step of plan(`${node} ${mainJs}`)) apply(step, ctx);
  if (prefix === undefined && !dryRun) ctx.say('next: systemctl daemon-reload && systemctl enable --now tslb');
  return 0;
}

function plan(tslbCommand: string): Step[] {
  const packaged = (name: string) => readFileSync(path.join(PACKAGING, name), 'utf8');
  const unit = packaged('tslb.service').replaceAll(UNIT_COMMAND, tslbCommand);
  return [
    { kind: 'account' },
    { kind: 'dir', path: '/etc/tslb', mode: 0o755, owner: 'root' },
    { kind: 'file', path: '/etc/tslb/lb.yaml', mode: 0o640, owner: 'root:account', content: packaged('lb.yaml'), packaged: 'lb.yaml' },
    { kind: 'dir', path: '/var/lib/tslb', mode: 0o750, owner: 'account' },
    { kind: 'dir', path: '/var/log/tslb', mode: 0o750, owner: 'account' },
    { kind: 'dir', path: '/etc/systemd/system', mode: 0o755, owner: 'root' },
    { kind: 'file', path: '/etc/systemd/system/tslb.service', mode: 0o644, owner: 'root', content: unit, packaged: 'tslb.service' },
    { kind: 'dir', path: '/etc/logrotate.d', mode: 0o755, owner: 'root' },
    { kind: 'file', path: '/etc/logrotate.d/tslb', mode: 0o644, owner: 'root', content: packaged('tslb.logrotate'), packaged: 'tslb.logrotate' },
  ];
}

function apply(step: Step, ctx: Context): void {
  if (step.kind === 'account') return ensureAccount(ctx);
  const target = ctx.prefix === undefined ? step.path : path.join(ctx.prefix, step.path);
  if (step.kind === 'dir') {
    if (existsSync(target)) return ctx.say(`exists   ${target}/`);
    if (ctx.dryRun) return ctx.say(`would create ${target}/`);
    // Parents the way a system has them (755); only the directory itself gets its mode.
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    mkdirSync(target, { mode: step.mode });
    setOwner(target, step.owner, ctx);
    return ctx.say(`created  ${target}/`);
  }
  if (existsSync(target)) {
    const differs = readFileSync(target, 'utf8') !== step.content;
    return ctx.say(`kept     ${target}${differs ? ` (differs from this version's ${path.join(PACKAGING, step.packaged)})` : ''}`);
  }
  if (ctx.dryRun) return ctx.say(`would write ${target}`);
  // 'wx': never replace a file that appeared since the check.
  writeFileSync(target, step.content, { mode: step.mode, flag: 'wx' });
  setOwner(target, step.owner, ctx);
  ctx.say(`wrote    ${target}`);
}

function ensureAccount(ctx: Context): void {
  if (ctx.prefix !== undefined) return ctx.say(`skipped  user and group ${ACCOUNT} (--prefix: the target system creates them)`);
  if (accountId('passwd') !== undefined) return ctx.say(`kept     user ${ACCOUNT}`);
  if (ctx.dryRun) return ctx.say(`would create user and group ${ACCOUNT}`);
  if (accountId('group') === undefined) execFileSync('groupadd', ['--system', ACCOUNT], { stdio: 'inherit' });
  execFileSync(
    'useradd',
    ['--system', '--gid', ACCOUNT, '--home-dir', '/var/lib/tslb', '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'tslb load balancer', ACCOUNT],
    { stdio: 'inherit' },
  );
  ctx.say(`created  user and group ${ACCOUNT}`);
}

function setOwner(target: string, owner: Owner, ctx: Context): void {
  if (!ctx.chown || owner === 'root') return;
  const uid = owner === 'account' ? accountId('passwd') : 0;
  const gid = accountId('group');
  if (uid !== undefined && gid !== undefined) chownSync(target, uid, gid);
}

function accountId(db: 'passwd' | 'group'): number | undefined {
  return lookup(db, ACCOUNT);
}
