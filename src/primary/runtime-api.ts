/**
 * The runtime API ("stats socket"): HAProxy's text protocol on a unix socket (and
 * optionally TCP on loopback), so `echo "show info; show stat" | socat stdio <sock>`
 * scripts work unchanged. Without `prompt` a connection runs one line of
 * `;`-separated commands and closes; with it, it stays open and prints `> `.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { Backend, RuntimeApiSettings, Server } from '../config/model';
import {
  filterRows,
  healthIndex,
  cell,
  serverState,
  type ServerControl,
  type StatsView,
  renderCsv,
  statJson,
  statTyped,
} from './stats';

type Level = RuntimeApiSettings['level'];
const LEVELS: Record<Level, number> = { user: 0, operator: 1, admin: 2 };

interface Command {
  /** Words that select it, e.g. ['show', 'stat']. */
  words: string[];
  level: Level;
  usage: string;
  run(api: RuntimeApi, args: string[]): string | Promise<string>;
  /** Offered only when the primary can carry it out (absent: always). */
  available?(control: ServerControl): boolean;
}

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
    available: (control) => control.setMaxconn !== undefined,
  },
  { words: ['get', 'weight'], level: 'user', usage: 'get weight <bk>/<srv> : report a server\'s current weight', run: (api, args) => api.getWeight(args[0]) },
  {
    words: ['clear', 'counters'],
    level: 'operator',
    usage: 'clear counters [all|server <bk>/<srv>] : clear max statistics counters (or all counters)',
    run: (api, args) => api.clearCounters(args),
  },
  { words: ['reload'], level: 'admin', usage: 'reload : reload the configuration (new workers, old ones drain)', run: (api) => api.reload() },
];

export class RuntimeApi {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private settings: RuntimeApiSettings,
    private readonly view: StatsView,
    private readonly control: ServerControl,
  ) {}

  get address(): RuntimeApiSettings {
    return this.settings;
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
      const server = this.createServer();
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

  private createServer(): net.Server {
    return net.createServer((socket) => this.serve(socket));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    let interactive = false;
    let busy = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > 65536) return socket.destroy();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        busy = busy.then(async () => {
          if (socket.destroyed) return;
          const result = await this.runLine(line, interactive);
          interactive = result.interactive;
          if (result.output) socket.write(result.output);
          if (result.quit || !interactive) socket.end();
          else socket.write('> ');
        });
      }
    });
  }

  /** Runs one input line; the prompt state may change. */
  async runLine(line: string, interactive: boolean): Promise<{ output: string; interactive: boolean; quit: boolean }> {
    let output = '';
    for (const text of line.split(';')) {
      const words = text.trim().split(/\s+/).filter(Boolean);
      if (words.length === 0) continue;
      if (words[0] === 'quit') return { output, interactive, quit: true };
      if (words[0] === 'prompt') {
        interactive = !interactive;
        continue;
      }
      output += await this.execute(words);
    }
    return { output, interactive, quit: false };
  }

  /** One command; its reply always ends with an empty line. */
  async execute(words: string[]): Promise<string> {
    const cmd = this.commands().find((c) => c.words.every((w, i) => words[i] === w));
    if (!cmd) return `Unknown command: '${words.join(' ')}'\n\n${this.help()}`;
    if (LEVELS[cmd.level] > LEVELS[this.settings.level]) return 'Permission denied\n\n';
    const out = await cmd.run(this, words.slice(cmd.words.length));
    if (out === '' || out.endsWith('\n\n')) return out + (out ? '' : '\n');
    return out.endsWith('\n') ? `${out}\n` : `${out}\n\n`;
  }

  private commands(): Command[] {
    return COMMANDS.filter((c) => !c.available || c.available(this.control));
  }

  help(): string {
    const allowed = this.commands().filter((c) => LEVELS[c.level] <= LEVELS[this.settings.level]);
    return 'The following commands are valid at this level:\n' + allowed.map((c) => `  ${c.usage}\n`).join('') + '\n';
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
        const adminBits = h.admin === 'maint' ? (s.disabled ? 0x04 : 0x01) : h.admin === 'drain' ? 0x08 : 0;
        const checked = s.check.enabled;
        const result = !checked ? 0 : h.checkStatus === undefined ? 0 : h.up ? 3 : 2;
        lines.push(
          [
            b.id, b.name, s.id, s.name, h.address ?? s.address, h.up ? 2 : 0, adminBits, h.weight, s.weight,
            h.lastchg ? Math.floor((now - h.lastchg) / 1000) : 0,
            checked ? (CHECK_STATUS_CODES[h.checkStatus ?? 'INI'] ?? 0) : 0, result,
            checked ? (h.health ?? 0) : 0, checked ? 6 : 0, 0, 0, 0, '-', h.port ?? s.port, '-', s.tls.enabled ? 1 : 0,
            s.check.port ?? 0, s.check.addr ?? '-', '-', 0,
          ].join(' '),
        );
      }
    }
    return lines.join('\n') + '\n';
  }

  /** Finds `<backend>/<server>` (either may be `#<id>`), or returns HAProxy's error text. */
  private target(spec: string | undefined): { be: Backend; srv: Server } | string {
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

function listen(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A socket file left by a previous run would make listen fail with EADDRINUSE. */
function removeStaleSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
