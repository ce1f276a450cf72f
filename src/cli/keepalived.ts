/**
 * `tslb keepalived`: a keepalived.conf for one node of a pair sharing a virtual IP
 * (the seed's `ha_config.keepalived`), whose vrrp_script tracks this node's tslb.
 * VRRP itself is keepalived's; tslb only writes a configuration it accepts (`keepalived -t`).
 */
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import type { Frontend } from '../config/model';
import { loadReported } from './config-files';
import { parseCommandArgs } from './args';

const USAGE = `Usage: tslb keepalived -f <config.yaml> [-f <more.yaml> ...] [options]

Writes keepalived.conf for this node from ha_config.keepalived (virtual_ip, interface,
priority, advert_int, auth_pass, virtual_router_id) to stdout, or to a file.

  -f, --file <path>      configuration file (repeatable)
  -o, --output <path>    write here (mode 600: it holds auth_pass) instead of stdout
      --state <state>    MASTER (default) or BACKUP: this node's initial VRRP state
      --priority <n>     this node's priority (1-254), instead of ha_config's: one
                         lb.yaml can serve both nodes (the seed: "Master: 100, Backup: 90")
      --pidfile <path>   tslb's pid file the check reads (default: global.pidfile,
                         else /run/tslb/tslb.pid as in the systemd unit)
  -h, --help             print this help and exit`;

/** The systemd unit's `-p`. */
const DEFAULT_PIDFILE = '/run/tslb/tslb.pid';
/** Debian's procps; `pgrep -F` exits 0 only while the pid in the file runs. */
const PGREP = '/usr/bin/pgrep';
/** Debian's curl, for the monitor-uri check: `-f` fails on the 503 of `monitor fail`. */
const CURL = '/usr/bin/curl';
/** VRRP's PASS authentication carries this many characters; keepalived drops the rest. */
const AUTH_PASS_MAX = 8;

interface KeepalivedSettings {
  state: 'MASTER' | 'BACKUP';
  interface: string;
  virtualIp: string;
  virtualRouterId: number;
  priority: number;
  advertInt: number;
  authPass?: string;
  pidfile: string;
  /** The URL of a frontend's monitor-uri on this node, when one is configured. */
  monitorUrl?: string;
}

/** What the seed's ha_config.keepalived may hold (src/config/schema-seed.ts). */
interface SeedKeepalived {
  enabled?: boolean;
  virtual_ip?: string;
  interface?: string;
  priority?: number;
  advert_int?: number;
  auth_pass?: string;
  virtual_router_id?: number;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandArgs('tslb keepalived', USAGE, argv, {
    file: { type: 'string', short: 'f', multiple: true },
    output: { type: 'string', short: 'o' },
    state: { type: 'string' },
    priority: { type: 'string' },
    pidfile: { type: 'string' },
  });
  if (typeof args === 'number') return args;
  if (!args.file?.length) {
    process.stderr.write(`tslb keepalived: no configuration file given (-f)\n\n${USAGE}\n`);
    return 1;
  }
  const model = loadReported(args.file);
  if (!model) return 1;
  const seed = (model.extras.haConfig as { keepalived?: SeedKeepalived } | undefined)?.keepalived;
  if (!seed) {
    process.stderr.write('tslb keepalived: the configuration has no ha_config.keepalived\n');
    return 1;
  }
  const problems: string[] = [];
  const settings = settingsFrom(seed, args, model.global.pidfile, problems);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`tslb keepalived: ${p}\n`);
    return 1;
  }
  settings.monitorUrl = monitorUrl(model.frontends);
  const text = keepalivedConf(settings, args.file);
  if (args.output) writeFileSync(args.output, text, { mode: 0o600 });
  else process.stdout.write(text);
  return 0;
}

function settingsFrom(
  k: SeedKeepalived,
  args: { state?: string; priority?: string; pidfile?: string },
  configPidfile: string | undefined,
  problems: string[],
): KeepalivedSettings {
  const at = (key: string) => `ha_config.keepalived.${key}`;
  if (k.enabled === false) problems.push(`${at('enabled')} is false`);
  const state = (args.state ?? 'MASTER').toUpperCase();
  if (state !== 'MASTER' && state !== 'BACKUP') problems.push(`--state must be MASTER or BACKUP, not "${args.state}"`);
  const priority = args.priority !== undefined ? Number(args.priority) : (k.priority ?? 100);
  // 255 belongs to the address owner in VRRP; keepalived refuses 0.
  if (!Number.isInteger(priority) || priority < 1 || priority > 254) problems.push(`priority must be 1..254, not ${args.priority ?? k.priority}`);
  const advertInt = k.advert_int ?? 1;
  if (advertInt < 1) problems.push(`${at('advert_int')} must be at least 1 (seconds)`);
  const virtualRouterId = k.virtual_router_id ?? 51;
  if (virtualRouterId < 1 || virtualRouterId > 255) problems.push(`${at('virtual_router_id')} must be 1..255`);
  const [vip, prefix] = (k.virtual_ip ?? '').split('/');
  if (!k.virtual_ip) problems.push(`${at('virtual_ip')} is missing`);
  else if (!net.isIPv4(vip) || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= 32))) {
    problems.push(`${at('virtual_ip')} must be an IPv4 address, optionally with /prefix (IPv6 needs VRRPv3, not written yet): "${k.virtual_ip}"`);
  }
  if (!k.interface) problems.push(`${at('interface')} is missing`);
  else if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(k.interface)) problems.push(`${at('interface')} is not an interface name: "${k.interface}"`);
  let authPass = k.auth_pass;
  if (authPass !== undefined) {
    // keepalived reads words: no blanks, quotes or its comment characters.
    if (!/^[^\s"'#!]+$/.test(authPass)) problems.push(`${at('auth_pass')} may hold printable characters other than blanks, quotes, # and !`);
    if (authPass.length > AUTH_PASS_MAX) {
      // keepalived itself would keep the first 8 and warn; doing it here keeps `keepalived -t` clean, and both nodes agree.
      process.stderr.write(`tslb keepalived: warning: ${at('auth_pass')} has ${authPass.length} characters; VRRP carries ${AUTH_PASS_MAX}, so its first ${AUTH_PASS_MAX} are used\n`);
      authPass = authPass.slice(0, AUTH_PASS_MAX);
    }
  }
  const pidfile = args.pidfile ?? configPidfile ?? DEFAULT_PIDFILE;
  if (!/^\/[\w./@+-]+$/.test(pidfile)) problems.push(`the pid file must be an absolute path without blanks or quotes: "${pidfile}"`);
  return { state: state as KeepalivedSettings['state'], interface: k.interface ?? '', virtualIp: k.virtual_ip ?? '', virtualRouterId, priority, advertInt, authPass, pidfile };
}

/** The first monitor-uri as this node reaches it: its frontend's first bind, a wildcard address as loopback. */
function monitorUrl(frontends: Frontend[]): string | undefined {
  const fe = frontends.find((f) => f.monitor && f.binds.length);
  if (!fe) return undefined;
  const bind = fe.binds.find((b) => !b.tls) ?? fe.binds[0];
  const host = bind.address === '0.0.0.0' || bind.address === '' ? '127.0.0.1' : bind.address === '::' ? '[::1]' : net.isIPv6(bind.address) ? `[${bind.address}]` : bind.address;
  return `${bind.tls ? 'https' : 'http'}://${host}:${bind.port}${fe.monitor!.uri}`;
}

function keepalivedConf(s: KeepalivedSettings, files: string[]): string {
  // The workers answer the monitor URI: the check follows traffic, not only the process.
  const http = s.monitorUrl
    ? `
# The frontend's monitor-uri answers 200 while a worker serves it (503 under monitor fail).
vrrp_script chk_tslb_http {
    script "${CURL} -fsS -k -m 2 -o /dev/null ${s.monitorUrl}"
    interval 2
    fall 2
    rise 2
}
`
    : '';
  const auth = s.authPass === undefined ? '' : `    authentication {\n        auth_type PASS\n        auth_pass ${s.authPass}\n    }\n`;
  return `# keepalived.conf written by \`tslb keepalived\` from ${files.join(', ')} (ha_config.keepalived).
# Both nodes share virtual_router_id and auth_pass; the higher priority holds the virtual IP.
global_defs {
    # keepalived runs checks without a shell; as root, from root-owned paths only.
    enable_script_security
    script_user root
}

# This node's tslb is alive while the pid in its pid file runs (tslb removes the file
# when it stops). No weight: a failing check puts the node in FAULT, which releases the
# virtual IP at once, instead of lowering its priority until the peer's timer runs out.
vrrp_script chk_tslb {
    script "${PGREP} -F ${s.pidfile}"
    interval 1
    fall 1
    rise 2
}
${http}
vrrp_instance tslb {
    state ${s.state}
    interface ${s.interface}
    virtual_router_id ${s.virtualRouterId}
    priority ${s.priority}
    advert_int ${s.advertInt}
${auth}    virtual_ipaddress {
        ${s.virtualIp}
    }
    track_script {
        chk_tslb${s.monitorUrl ? '\n        chk_tslb_http' : ''}
    }
}
`;
}
