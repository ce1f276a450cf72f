/**
 * The runtime API ("stats socket"): HAProxy's text protocol on a unix socket (and
 * optionally TCP on loopback), so `echo "show info; show stat" | socat stdio <sock>`
 * scripts work unchanged. Without `prompt` a connection runs one line of
 * `;`-separated commands and closes; with it, it stays open and prints `> `.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { Backend, Model, RuntimeApiSettings, Server } from '../config/model';
import { isSrvLabel } from '../config/resolvers';
import type { QueryKind } from '../ipc/messages';
import { clearTable, setTable, showTable } from '../stick/commands';
import type { PeersReplication } from '../peers/replication';
import { showPeers } from '../peers/show';
import type { PrimaryStickTables } from '../stick/primary';
import { listen, sourceFilter } from './admin-http';
import type { AcmeManager } from './acme';
import type { CertificateStore } from './certificates';
import { serveConnection, type Send } from './runtime-api-connection';
import { PATTERN_COMMANDS } from './runtime-api-patterns';
import { SSL_CERT_COMMANDS } from './runtime-api-ssl';
import { CACHE_COMMANDS } from './runtime-api-cache';
import { setFrontendMaxconn, setGlobalMaxconn, setRateLimit, showErrors, showSess } from './runtime-api-workers';
import type { ServerControl, StatsView } from './stats';
import { cell, filterRows, healthIndex, renderCsv, serverState, statJson, statTyped } from './stats-rows';

type Level = RuntimeApiSettings['level'];

/** Scripts send a handful of `;`-separated commands; a line with more is refused before any runs. */
const MAX_COMMANDS = 64;
const TOO_MANY_COMMANDS = `Too many commands on one line (max ${MAX_COMMANDS}).\n\n`;
const LEVELS: Record<Level, number> = { user: 0, operator: 1, admin: 2 };

export interface Command {
  /** Words that select it, e.g. ['show', 'stat']. */
  words: string[];
  level: Level;
  usage: string;
  /** `payload`: the lines after a command ending in `<<` (HAProxy's payload syntax). */
  run(api: RuntimeApi, args: string[], payload?: string): string | Promise<string>;
  /** Offered only when the primary can carry it out (absent: always). */
  available?(api: RuntimeApi): boolean;
}

/** Asks every live worker (Supervisor.query): one answer per worker that replied in time. */
export type AskWorkers = (what: QueryKind, args?: string[]) => Promise<{ pid: number; generation: number; data: unknown }[]>;

/** HAProxy's health check status numbers (`show servers state` srv_check_status). */
const CHECK_STATUS_CODES: Record<string, number> = {
  UNK: 0, INI: 1, HANA: 4, SOCKERR: 5, L4OK: 6, L4TOUT: 7, L4CON: 8, L6OK: 9, L6TOUT: 10, L6RSP: 11,
  L7TOUT: 12, L7RSP: 13, L7OK: 15, L7OKC: 16, L7STS: 17,
};

/** Balance algorithms whose server weights are fixed at start (HAProxy's static algorithms). */
const HASHED = new Set(['source', 'uri', 'url_param', 'hdr', 'rdp-cookie']);
function isStaticLb(be: Backend): boolean {
  return be.balance.algorithm === 'static-rr' || (HASHED.has(be.balance.algorithm) && be.balance.hashType === 'map-based');
}

const COMMANDS: Command[] = [
  { words: ['help'], level: 'user', usage: 'help : this message', run: (api) => api.help() },
  { words: ['prompt'], level: 'user', usage: 'prompt : toggle interactive mode with prompt', run: () => '' },
  { words: ['quit'], level: 'user', usage: 'quit : disconnect', run: () => '' },
  {
    words: ['show', 'info'],
    level: 'user',
    usage: 'show info [typed|json] : report information about the running process',
    run: (api, args) => api.showInfo(args),
  },
  {
    words: ['show', 'stat'],
    level: 'user',
    usage: 'show stat [{<iid>|<proxy>} <type> <sid>] [typed|json] [up|no-maint] : report counters for each proxy and server',
    run: (api, args) => api.showStat(args),
  },
  {
    words: ['show', 'servers', 'state'],
    level: 'user',
    usage: 'show servers state [<backend>] : dump volatile server information (all or for a single backend)',
    run: (api, args) => api.showServersState(args[0]),
  },
  { words: ['show', 'backend'], level: 'user', usage: 'show backend : list backends in the current running config', run: (api) => api.showBackend() },
  {
    words: ['disable', 'server'],
    level: 'admin',
    usage: 'disable server (DEPRECATED) : disable a server for maintenance (use \'set server\' instead)',
    run: (api, args) => api.setAdmin(args[0], 'maint'),
  },
  {
    words: ['enable', 'server'],
    level: 'admin',
    usage: 'enable server  (DEPRECATED) : enable a disabled server (use \'set server\' instead)',
    run: (api, args) => api.setAdmin(args[0], 'ready'),
  },
  {
    words: ['set', 'server'],
    level: 'admin',
    usage: 'set server <bk>/<srv> [opts] : change a server\'s state, weight (or address, when supported)',
    run: (api, args) => api.setServer(args),
  },
  { words: ['set', 'weight'], level: 'admin', usage: 'set weight <bk>/<srv> (DEPRECATED) : change a server\'s weight', run: (api, args) => api.setWeight(args[0], args[1]) },
  {
    words: ['set', 'maxconn', 'server'],
    level: 'admin',
    usage: 'set maxconn server <bk>/<srv> <n> : change a server\'s maxconn setting',
    run: (api, args) => api.setMaxconn(args[0], args[1]),
    available: (api) => api.control.setMaxconn !== undefined,
  },
  {
    words: ['set', 'maxconn', 'frontend'],
    level: 'admin',
    usage: 'set maxconn frontend <frontend> <value> : change a frontend\'s maxconn setting',
    run: (api, args) => setFrontendMaxconn(api, args[0], args[1]),
    available: (api) => api.workers !== undefined,
  },
  {
    words: ['set', 'maxconn', 'global'],
    level: 'admin',
    usage: 'set maxconn global <value> : change the per-process maxconn setting',
    run: (api, args) => setGlobalMaxconn(api, args[0]),
    available: (api) => api.workers !== undefined,
  },
  {
    words: ['set', 'rate-limit'],
    level: 'admin',
    usage: 'set rate-limit http-compression global <value> : change the per-process maximum compression speed in kB/s',
    run: (api, args) => setRateLimit(api, args),
    available: (api) => api.workers !== undefined,
  },
  {
    words: ['show', 'sess'],
    level: 'operator',
    usage: 'show sess [backend <b>|frontend <f>|server <b/s>|older <sec>] : report the list of current sessions',
    run: (api, args) => showSess(api, args),
    available: (api) => api.workers !== undefined,
  },
  {
    words: ['show', 'table'],
    level: 'operator',
    usage: 'show table [<table> [data.<type> <op> <v>]* | [key <k>]] : report table usage stats or dump this table\'s contents',
    run: (api, args) => showTable(api.tableContext(), args),
    available: (api) => api.tables !== undefined,
  },
  {
    words: ['clear', 'table'],
    level: 'operator',
    usage: 'clear table <table> [data.<type> <op> <v>]* | [key <k>] : remove entries from a table (all without a filter)',
    run: (api, args) => clearTable(api.tableContext(), args),
    available: (api) => api.tables !== undefined,
  },
  {
    words: ['set', 'table'],
    level: 'operator',
    usage: 'set table <table> key <k> [data.<type> <v>]* : update or create a table entry\'s data',
    run: (api, args) => setTable(api.tableContext(), args),
    available: (api) => api.tables !== undefined,
  },
  {
    words: ['show', 'peers'],
    level: 'user',
    usage: 'show peers [dict|-] [section] : dump some information about all the peers',
    run: (api, args) => showPeers(api.peers, args),
  },
  {
    words: ['show', 'errors'],
    level: 'operator',
    usage: 'show errors [<iid>|<proxy>] [request|response] : report last request and/or response errors for each proxy',
    run: (api, args) => showErrors(api, args),
    available: (api) => api.workers !== undefined,
  },
  { words: ['get', 'weight'], level: 'user', usage: 'get weight <bk>/<srv> : report a server\'s current weight', run: (api, args) => api.getWeight(args[0]) },
  {
    words: ['clear', 'counters'],
    level: 'operator',
    usage: 'clear counters [all|server <bk>/<srv>] : clear max statistics counters (or all counters)',
    run: (api, args) => api.clearCounters(args),
  },
  ...SSL_CERT_COMMANDS,
  ...CACHE_COMMANDS,
  { words: ['reload'], level: 'admin', usage: 'reload : reload the configuration (new workers, old ones drain)', run: (api) => api.reload() },
  ...PATTERN_COMMANDS,
];

export class RuntimeApi {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private settings: RuntimeApiSettings,
    private readonly view: StatsView,
    readonly control: ServerControl,
    /** Absent: the commands whose data lives in the workers are not offered. */
    readonly workers?: AskWorkers,
    /** Absent: the `ssl cert` commands are not offered. */
    readonly certificates?: CertificateStore,
    /** The stick tables (src/stick/primary.ts); absent: the table commands are not offered. */
    readonly tables?: PrimaryStickTables,
    /** Absent: the `acme` commands are not offered. */
    readonly acme?: AcmeManager,
    /** The peers replication (src/peers/): `show peers`. */
    readonly peers?: PeersReplication,
  ) {}

  tableContext(): { tables: PrimaryStickTables; model: Model } {
    return { tables: this.tables!, model: this.view.model() };
  }

  get address(): RuntimeApiSettings {
    return this.settings;
  }

  /** The serving model (the ACL and map commands edit its pattern files). */
  model(): Model {
    return this.view.model();
  }

  async listen(): Promise<void> {
    const { socketPath, tcp, mode } = this.settings;
    if (socketPath) {
      removeStaleSocket(socketPath);
      const server = this.createServer();
      await listen(server, { path: socketPath });
      chmodSync(socketPath, mode);
      this.servers.push(server);
    }
    if (tcp) {
      const server = this.createServer(sourceFilter(this.settings.allow));
      await listen(server, { host: tcp.address, port: tcp.port });
      this.servers.push(server);
    }
  }

  /** TCP port actually bound (tests bind port 0). */
  tcpPort(): number | undefined {
    for (const s of this.servers) {
      const a = s.address();
      if (a && typeof a === 'object') return a.port;
    }
    return undefined;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
    if (this.settings.socketPath) removeStaleSocket(this.settings.socketPath);
  }

  /** `allowed`: the tcp listener's allowlist; a refused peer is closed before it can send a command. */
  private createServer(allowed?: (address: string | undefined) => boolean): net.Server {
    // Half-open: `echo cmd | socat` sends its FIN at once; replies computed by the workers come later.
    return net.createServer({ allowHalfOpen: true }, (socket) => (!allowed || allowed(socket.remoteAddress) ? this.serve(socket) : socket.destroy()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    serveConnection(socket, (line, interactive, send, payload) => this.runLine(line, interactive, send, payload));
  }

  /**
   * Runs one input line, handing each command's reply to `send` as it is ready (a
   * returned promise holds the next command until the client has read the reply).
   * A payload belongs to the line's last command, which ends in `<<`.
   */
  async runLine(line: string, interactive: boolean, send: Send, payload?: string): Promise<{ interactive: boolean; quit: boolean }> {
    const commands = line.split(';').filter((text) => text.trim() !== '');
    if (commands.length > MAX_COMMANDS) {
      await send(TOO_MANY_COMMANDS);
      return { interactive, quit: false };
    }
    for (let i = 0; i < commands.length; i++) {
      const words = commands[i].trim().split(/\s+/);
      if (words[0] === 'quit') return { interactive, quit: true };
      if (words[0] === 'prompt') {
        interactive = !interactive;
        continue;
      }
      const last = i === commands.length - 1;
      if (last && payload !== undefined) words.pop();
      await send(await this.execute(words, last ? payload : undefined));
    }
    return { interactive, quit: false };
  }

  /** One command; its reply always ends with an empty line. */
  async execute(words: string[], payload?: string): Promise<string> {
    const cmd = this.commands().find((c) => c.words.every((w, i) => words[i] === w));
    if (!cmd) return this.unknown(words);
    if (LEVELS[cmd.level] > LEVELS[this.settings.level]) return 'Permission denied\n\n';
    const out = await cmd.run(this, words.slice(cmd.words.length), payload);
    if (out === '' || out.endsWith('\n\n')) return out + (out ? '' : '\n');
    return out.endsWith('\n') ? `${out}\n` : `${out}\n\n`;
  }

  /**
   * HAProxy's reply to an unknown command: the commands that share its leading words
   * (none when the first word matches nothing), never the whole help, which a line of
   * `x;x;…` would otherwise repeat thousands of times.
   */
  private unknown(words: string[]): string {
    const allowed = this.allowedCommands();
    const shared = (c: Command) => {
      let n = 0;
      while (n < c.words.length && c.words[n] === words[n]) n++;
      return n;
    };
    const longest = Math.max(0, ...allowed.map(shared));
    const near = longest === 0 ? [] : allowed.filter((c) => shared(c) === longest);
    const hints = near.map((c) => `  ${c.usage}\n`).join('');
    return `Unknown command: '${words.join(' ')}'\n${hints}  help : list the commands valid at this level\n\n`;
  }

  private commands(): Command[] {
    return COMMANDS.filter((c) => !c.available || c.available(this));
  }

  private allowedCommands(): Command[] {
    return this.commands().filter((c) => LEVELS[c.level] <= LEVELS[this.settings.level]);
  }

  help(): string {
    return 'The following commands are valid at this level:\n' + this.allowedCommands().map((c) => `  ${c.usage}\n`).join('') + '\n';
  }

  showInfo(args: string[]): string {
    const info = this.view.info();
    if (args.includes('json')) {
      return JSON.stringify(
        info.map(([name, value], pos) => ({
          field: { pos, name },
          processNum: 1,
          tags: { origin: 'Metric', nature: 'Gauge', scope: 'Process' },
          value: typeof value === 'number' ? { type: 'u64', value } : { type: 'str', value },
        })),
      ) + '\n';
    }
    if (args.includes('typed')) {
      return info.map(([name, value], pos) => `${pos}.${name}.1:MGP:${typeof value === 'number' ? 'u64' : 'str'}:${value}\n`).join('');
    }
    return info.map(([k, v]) => `${k}: ${v}\n`).join('');
  }

  showStat(args: string[]): string {
    const rest = args.filter((a) => !['typed', 'json', 'desc', 'up', 'no-maint', 'domain', 'proxy'].includes(a));
    let rows = this.view.rows();
    if (rest.length >= 3) {
      const proxy = rest[0] === '-1' ? undefined : rest[0];
      if (proxy !== undefined && !rows.some((r) => r.pxname === proxy || String(r.iid) === proxy)) return 'No such proxy.\n';
      rows = filterRows(rows, { proxy, types: Number(rest[1]) & 7, sid: Number(rest[2]) });
    }
    if (args.includes('up')) rows = rows.filter((r) => r.type !== 2 || String(cell(r, 'status')).startsWith('UP') || cell(r, 'status') === 'no check');
    if (args.includes('no-maint')) rows = rows.filter((r) => r.type !== 2 || !String(cell(r, 'status')).startsWith('MAINT'));
    if (args.includes('json')) return statJson(rows) + '\n';
    if (args.includes('typed')) return statTyped(rows);
    return renderCsv(rows);
  }

  showBackend(): string {
    return '# name\n' + this.view.model().backends.map((b) => `${b.name}\n`).join('');
  }

  showServersState(only?: string): string {
    const model = this.view.model();
    const backends = only ? model.backends.filter((b) => b.name === only) : model.backends;
    if (only && backends.length === 0) return "Can't find backend.\n";
    const health = healthIndex(this.view.health());
    const now = Date.now();
    const lines = [
      '1',
      '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
    ];
    for (const b of backends) {
      for (const s of b.servers) {
        const h = serverState(b, s, health);
        // HAProxy's SRV_ADMF_* bits; RMAINT (0x20) is DNS resolution's maintenance.
        const forced = h.admin === 'maint' && !h.rmaint ? (s.disabled ? 0x04 : 0x01) : h.admin === 'drain' ? 0x08 : 0;
        const adminBits = forced | (h.rmaint ? 0x20 : 0);
        const checked = s.check.enabled;
        const result = !checked ? 0 : h.checkStatus === undefined ? 0 : h.up ? 3 : 2;
        lines.push(
          [
            b.id, b.name, s.id, s.name, (h.address ?? s.address) || '-', h.up ? 2 : 0, adminBits, h.weight, s.weight,
            h.lastchg ? Math.floor((now - h.lastchg) / 1000) : 0,
            checked ? (CHECK_STATUS_CODES[h.checkStatus ?? 'INI'] ?? 0) : 0, result,
            checked ? (h.health ?? 0) : 0, checked ? 6 : 0, 0, 0, 0, h.fqdn || '-', h.port ?? s.port, s.dns && isSrvLabel(s.dns.fqdn) ? s.dns.fqdn : '-', s.tls.enabled ? 1 : 0,
            s.check.port ?? 0, s.check.addr ?? '-', '-', 0,
          ].join(' '),
        );
      }
    }
    return lines.join('\n') + '\n';
  }

  /** Finds `<backend>/<server>` (either may be `#<id>`), or returns HAProxy's error text. */
  target(spec: string | undefined): { be: Backend; srv: Server } | string {
    if (!spec || !spec.includes('/')) return "Require 'backend/server'.\n";
    const [bname, sname] = spec.split('/', 2);
    const model = this.view.model();
    const be = model.backends.find((b) => (bname.startsWith('#') ? String(b.id) === bname.slice(1) : b.name === bname));
    if (!be) return 'No such backend.\n';
    const srv = be.servers.find((s) => (sname.startsWith('#') ? String(s.id) === sname.slice(1) : s.name === sname));
    if (!srv) return 'No such server.\n';
    return { be, srv };
  }

  setAdmin(spec: string | undefined, admin: 'ready' | 'drain' | 'maint'): string {
    const t = this.target(spec);
    if (typeof t === 'string') return t;
    return reply(this.control.setAdmin(t.be.name, t.srv.name, admin));
  }

  setServer(args: string[]): string {
    const [spec, what, value] = args;
    switch (what) {
      case 'state':
        if (value !== 'ready' && value !== 'drain' && value !== 'maint') {
          const t = this.target(spec);
          return typeof t === 'string' ? t : "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n";
        }
        return this.setAdmin(spec, value);
      case 'weight':
        return this.setWeight(spec, value);
      case 'addr':
        if (this.control.setAddress) return this.setAddress(spec, value, args[3] === 'port' ? args[4] ?? '' : undefined);
        return this.unsupported(spec);
      default:
        return this.unsupported(spec);
    }
  }

  setWeight(spec: string | undefined, value: string | undefined): string {
    const t = this.target(spec);
    if (typeof t === 'string') return t;
    if (value === undefined || !/^\d+%?$/.test(value)) return 'Require <weight> or <weight%>.\n';
    const relative = value.endsWith('%');
    const n = parseInt(value, 10);
    if (!relative && n > 256) return 'Absolute weight can only be between 0 and 256 inclusive.\n';
    const weight = relative ? Math.min(256, Math.round((t.srv.weight * n) / 100)) : n;
    if (isStaticLb(t.be) && weight !== 0 && weight !== t.srv.weight) {
      return "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n";
    }
    return reply(this.control.setWeight(t.be.name, t.srv.name, weight));
  }

  private unsupported(spec: string | undefined): string {
    const t = this.target(spec);
    const what = this.control.setAddress ? "'state', 'weight' and 'addr'" : "'state' and 'weight'";
    return typeof t === 'string' ? t : `'set server <srv>' only supports ${what}.\n`;
  }

  /** HAProxy's srv_update_addr_port, replying with what changed "by 'stats socket command'". */
  setAddress(spec: string | undefined, address: string | undefined, port: string | undefined): string {
    const t = this.target(spec);
    if (typeof t === 'string') return t;
    if (!address) return 'set server <b>/<s> addr requires an address and optionally a port.\n';
    if (net.isIP(address) === 0) return `Invalid addr '${address}'\n`;
    if (port !== undefined && !/^\d+$/.test(port)) return `Invalid port '${port}'\n`;
    const h = serverState(t.be, t.srv, healthIndex(this.view.health()));
    const oldAddress = h.address ?? t.srv.address;
    const oldPort = h.port ?? t.srv.port;
    const newPort = port === undefined ? oldPort : Number(port);
    if (newPort < 1 || newPort > 65535) return `Invalid port '${port}'\n`;
    const result = this.control.setAddress!(t.be.name, t.srv.name, address, newPort);
    if (result !== 'ok') return reply(result);
    let msg = address === oldAddress ? 'no need to change the addr' : `IP changed from '${oldAddress}' to '${address}'`;
    if (port !== undefined) msg += newPort === oldPort ? ', no need to change the port' : `, port changed from '${oldPort}' to '${newPort}'`;
    return `${msg} by 'stats socket command'\n`;
  }

  /** HAProxy's server_parse_maxconn_change_request (0 = unlimited). */
  setMaxconn(spec: string | undefined, value: string | undefined): string {
    const t = this.target(spec);
    if (typeof t === 'string') return t;
    if (value === undefined) return 'Require <maxconn>.\n';
    const m = /^(-?\d*)(.*)$/.exec(value)!;
    if (m[1] === '' || m[1] === '-') return 'maxconn string empty\n';
    if (m[2] !== '') return 'Trailing garbage in maxconn string\n';
    return reply(this.control.setMaxconn!(t.be.name, t.srv.name, Math.max(0, parseInt(m[1], 10))));
  }

  getWeight(spec: string | undefined): string {
    const t = this.target(spec);
    if (typeof t === 'string') return t;
    const h = serverState(t.be, t.srv, healthIndex(this.view.health()));
    return `${h.weight} (initial ${t.srv.weight})\n`;
  }

  clearCounters(args: string[]): string {
    if (args[0] === 'server') {
      const t = this.target(args[1]);
      if (typeof t === 'string') return t.replace(/\.\n$/, '\n');
      this.view.stats.server(t.be.name, t.srv.name)?.clear(true);
      return 'Server counters cleared.\n';
    }
    const all = args[0] === 'all';
    if (all && LEVELS[this.settings.level] < LEVELS.admin) return 'Permission denied\n';
    this.view.stats.clear(all);
    return '';
  }

  async reload(): Promise<string> {
    const ok = await this.control.reload();
    return ok ? 'Success=1\n--\n' : 'Success=0\n--\nreload refused: see the logs\n';
  }
}

function reply(result: string): string {
  return result === 'ok' ? '' : result.endsWith('\n') ? result : `${result}\n`;
}

/** A socket file left by a previous run would make listen fail with EADDRINUSE. */
function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
