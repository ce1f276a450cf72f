/**
 * The stats page (HAProxy's `stats uri`): an HTML table per proxy — FRONTEND row,
 * server rows coloured by state, BACKEND row — plus `;csv` / `;json` exports,
 * `scope=`, `;up`, `;no-maint`, `;norefresh`, basic auth and, when `admin` is set,
 * HAProxy's POST form actions. Pages also update live: a WebSocket on
 * `<uri>/ws` pushes every row once a second with each backend's session rate,
 * drawn as a small inline chart.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { StatsPageSettings } from '../config/model';
import { createAdminHttpServer, listen } from './admin-http';
import { SCRIPT, STYLE } from './stats-page/assets';
import type { ServerControl, StatsView } from './stats';
import { cell, renderCsv, statJson, type StatRow } from './stats-rows';

const REALM = 'tslb statistics';
const PUSH_INTERVAL = 1000;
/** Seconds of rate history kept per backend (one chart point each). */
const HISTORY = 60;
/** How long a page's WebSocket token stays valid for connecting. */
const TOKEN_TTL = 10 * 60_000;
const MAX_POST = 64 * 1024;

/** What the page shows, from the `;opt` words and `scope=` after the stats URI. */
export interface PageOptions {
  format: 'html' | 'csv' | 'json';
  norefresh: boolean;
  up: boolean;
  noMaint: boolean;
  /** Case-insensitive substring of proxy names (HAProxy's scope). */
  scope: string;
  /** Result of the last admin action (`;st=DONE`). */
  status?: string;
}

/** Parses what follows the stats URI, as HAProxy does: options anywhere, `;`/`&`/`?` separated. */
export function parseOptions(rest: string): PageOptions {
  const words = rest.split(/[;&?]/);
  const opts: PageOptions = { format: 'html', norefresh: false, up: false, noMaint: false, scope: '' };
  for (const w of words) {
    if (w === 'csv') opts.format = 'csv';
    else if (w === 'json') opts.format = 'json';
    else if (w === 'norefresh') opts.norefresh = true;
    else if (w === 'up') opts.up = true;
    else if (w === 'no-maint') opts.noMaint = true;
    else if (w.startsWith('scope=')) opts.scope = safeDecode(w.slice(6)).slice(0, 32);
    else if (w.startsWith('st=')) opts.status = w.slice(3, 7);
  }
  return opts;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Rows the options select: proxies whose name contains the scope; servers filtered by `up`/`no-maint`. */
export function selectRows(rows: StatRow[], opts: PageOptions): StatRow[] {
  const scope = opts.scope.toLowerCase();
  return rows.filter((r) => {
    if (scope && !r.pxname.toLowerCase().includes(scope)) return false;
    if (r.type !== 2) return true;
    const status = String(cell(r, 'status') ?? '');
    if (opts.up && !(status.startsWith('UP') || status === 'no check')) return false;
    if (opts.noMaint && status.startsWith('MAINT')) return false;
    return true;
  });
}

// ---------------------------------------------------------------- display cells

/** HAProxy's human_time: `5s`, `2m3s`, `1h2m`, `3d4h`. */
export function humanTime(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${sec % 60}s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m`;
  return `${Math.floor(sec / 86400)}d${Math.floor((sec % 86400) / 3600)}h`;
}

function num(v: unknown): string {
  if (v === undefined || v === '') return '';
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return Math.abs(n) < 10000 ? String(n) : n.toLocaleString('en-US');
}

/** HAProxy's CSS class for a row. */
export function rowClass(r: StatRow): string {
  if (r.type === 0) return 'frontend';
  const status = String(cell(r, 'status') ?? '');
  if (r.type === 1) return status === 'DOWN' ? 'backend down' : 'backend';
  const side = Number(cell(r, 'bck')) === 1 ? 'backup' : 'active';
  if (status.startsWith('MAINT')) return 'maintain';
  if (status === 'no check') return `${side}_no_check`;
  if (status.startsWith('DRAIN')) return `${side}_draining`;
  if (status.startsWith('NOLB')) return `${side}_nolb`;
  if (/^UP \d+\/\d+/.test(status)) return `${side}_going_down`;
  if (/^DOWN \d+\/\d+/.test(status)) return `${side}_going_up`;
  if (status.startsWith('UP')) return `${side}_up`;
  return `${side}_down`;
}

/** The column groups of the HTML table, as HAProxy's page has them. */
const GROUPS: [string, string[]][] = [
  ['Queue', ['Cur', 'Max', 'Limit']],
  ['Session rate', ['Cur', 'Max', 'Limit']],
  ['Sessions', ['Cur', 'Max', 'Limit', 'Total', 'LbTot', 'Last']],
  ['Bytes', ['In', 'Out']],
  ['Denied', ['Req', 'Resp']],
  ['Errors', ['Req', 'Conn', 'Resp']],
  ['Warnings', ['Retr', 'Redis']],
  ['Server', ['Status', 'LastChk', 'Wght', 'Act', 'Bck', 'Chk', 'Dwn', 'Dwntme', 'Thrtle']],
];
const CELL_COUNT = GROUPS.reduce((n, g) => n + g[1].length, 0);
/** Position of the Status cell in displayCells' list (centred; LastChk after it is left-aligned). */
const STATUS_CELL = CELL_COUNT - 9;

/** The text of every data cell of a row (the live push sends the same list). */
export function displayCells(r: StatRow): string[] {
  const c = (name: string) => cell(r, name);
  const status = String(c('status') ?? '');
  const lastchg = c('lastchg');
  const server = r.type === 2;
  let statusText = status;
  if (r.type !== 0 && lastchg !== undefined && !status.startsWith('MAINT')) statusText = `${humanTime(Number(lastchg))} ${status}`;
  let lastChk = '';
  const checkStatus = c('check_status');
  if (server && checkStatus !== undefined) {
    const code = c('check_code');
    const duration = c('check_duration');
    lastChk = `${checkStatus}${code !== undefined ? `/${code}` : ''}${duration !== undefined ? ` in ${duration}ms` : ''}`;
  }
  const lastsess = c('lastsess');
  const downtime = c('downtime');
  return [
    num(c('qcur')), num(c('qmax')), num(c('qlimit')),
    num(c('rate')), num(c('rate_max')), num(c('rate_lim')),
    num(c('scur')), num(c('smax')), num(c('slim')), num(c('stot')), num(c('lbtot')),
    lastsess === undefined ? '' : Number(lastsess) < 0 ? 'never' : humanTime(Number(lastsess)),
    num(c('bin')), num(c('bout')),
    num(c('dreq')), num(c('dresp')),
    num(c('ereq')), num(c('econ')), num(c('eresp')),
    num(c('wretr')), num(c('wredis')),
    statusText, lastChk, num(c('weight')),
    r.type === 0 ? '' : server ? (Number(c('act')) ? 'Y' : '-') : num(c('act')),
    r.type === 0 ? '' : server ? (Number(c('bck')) ? 'Y' : '-') : num(c('bck')),
    num(c('chkfail')), num(c('chkdown')), downtime === undefined ? '' : humanTime(Number(downtime)),
    server ? (c('throttle') === undefined ? '-' : `${c('throttle')} %`) : '',
  ];
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A short digest of every row key: a page whose layout differs from a push reloads. */
function layoutOf(rows: StatRow[]): string {
  const h = createHash('sha1');
  for (const r of rows) h.update(`${r.pxname}\0${r.svname}\n`);
  return h.digest('base64url').slice(0, 16);
}

const RESULTS: Record<string, [boolean, string]> = {
  DONE: [true, 'Action processed successfully.'],
  PART: [false, 'Action partially processed.'],
  NONE: [true, 'Nothing has changed.'],
  ERRP: [false, 'Action not processed because of invalid parameters.'],
  EXCD: [false, "Action not processed: the buffer couldn't store all the data. You should retry with less servers at a time."],
  DENY: [false, 'Action denied.'],
};

// ---------------------------------------------------------------- the server

interface LiveClient {
  /** The view the page shows (scope, up, no-maint), parsed from its WebSocket URL. */
  opts: PageOptions;
}

export class StatsPage {
  private server?: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  private readonly clients = new Map<WebSocket, LiveClient>();
  private readonly sockets = new Set<Socket>();
  /** Session rate per backend, one value a second, oldest first. */
  private readonly history = new Map<string, number[]>();
  private timer?: NodeJS.Timeout;
  /** sha256("user:password"), compared in constant time with the request's. */
  private readonly credentials?: Buffer;
  /** Signs the WebSocket tokens handed to authenticated pages. */
  private readonly tokenKey = randomBytes(32);
  private readonly base: string;
  private readonly wsPath: string;

  constructor(
    private readonly settings: StatsPageSettings,
    private readonly view: StatsView,
    private readonly control: ServerControl,
    private readonly version: string,
  ) {
    // Either credential alone still locks the page: authentication is never silently off
    // (the config check refuses one without the other; this is the page's own guard).
    if (settings.username !== undefined || settings.password !== undefined) {
      this.credentials = createHash('sha256').update(`${settings.username ?? ''}:${settings.password ?? ''}`).digest();
    }
    this.base = settings.uri.endsWith('/') ? settings.uri.slice(0, -1) : settings.uri;
    this.wsPath = `${this.base}/ws`;
  }

  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async listen(): Promise<void> {
    const server = createAdminHttpServer(
      (req, res) => this.handle(req, res),
      this.settings.allow,
      (req, socket, head) => this.upgrade(req, socket as Socket, head),
    );
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await listen(server, { port: this.settings.port, host: this.settings.address });
    this.server = server;
    this.timer = setInterval(() => this.tick(), PUSH_INTERVAL);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const ws of this.clients.keys()) ws.terminate();
    this.clients.clear();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  // ------------------------------------------------------------ HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    if (!url.startsWith(this.settings.uri)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    if (!this.authorized(req)) {
      res.writeHead(401, { 'www-authenticate': `Basic realm="${REALM}"`, 'content-type': 'text/plain' }).end('401 Unauthorized\n');
      return;
    }
    const opts = parseOptions(url.slice(this.settings.uri.length));
    if (req.method === 'POST') return this.post(req, res, opts);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, POST', 'content-type': 'text/plain' }).end('Method not allowed\n');
      return;
    }
    const rows = this.view.rows();
    let body: string;
    let type: string;
    if (opts.format === 'csv') {
      body = renderCsv(selectRows(rows, opts));
      type = 'text/plain; charset=utf-8';
    } else if (opts.format === 'json') {
      body = statJson(selectRows(rows, opts));
      type = 'application/json';
    } else {
      body = this.html(rows, opts);
      type = 'text/html; charset=utf-8';
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** Basic auth: both sides hashed to equal lengths, then compared in constant time. */
  private authorized(req: http.IncomingMessage): boolean {
    if (!this.credentials) return true;
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const given = createHash('sha256').update(m ? Buffer.from(m[1], 'base64') : Buffer.alloc(0)).digest();
    return timingSafeEqual(given, this.credentials) && m !== null;
  }

  /** HAProxy's admin form: `b=<#iid|name>&s=<server>…&action=ready|drain|maint` → 303 to `;st=<result>`. */
  private post(req: http.IncomingMessage, res: http.ServerResponse, opts: PageOptions): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_POST) tooBig = true;
      else chunks.push(d);
    });
    req.on('end', () => {
      const status = tooBig ? 'EXCD' : this.adminAction(req, Buffer.concat(chunks).toString('utf8'));
      const scope = opts.scope ? `;scope=${encodeURIComponent(opts.scope)}` : '';
      res.writeHead(303, { location: `${this.settings.uri}${scope};st=${status}`, 'content-length': 0 }).end();
    });
  }

  private adminAction(req: http.IncomingMessage, body: string): string {
    if (!this.settings.admin) return 'DENY';
    // A browser posting from another site carries the user's credentials: refuse it.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return 'DENY';
    const form = new URLSearchParams(body);
    const b = form.get('b') ?? '';
    const action = form.get('action');
    const servers = form.getAll('s');
    const model = this.view.model();
    const be = model.backends.find((x) => (b.startsWith('#') ? String(x.id) === b.slice(1) : x.name === b));
    if (!be || (action !== 'ready' && action !== 'drain' && action !== 'maint')) return 'ERRP';
    if (servers.length === 0) return 'NONE';
    let done = 0;
    for (const s of servers) if (this.control.setAdmin(be.name, s, action) === 'ok') done++;
    return done === servers.length ? 'DONE' : done > 0 ? 'PART' : 'ERRP';
  }

  // ------------------------------------------------------------ HTML

  private html(all: StatRow[], opts: PageOptions): string {
    const rows = selectRows(all, opts);
    const uri = this.settings.uri;
    const refresh = Math.round(this.settings.refresh / 1000);
    const info = new Map(this.view.info());
    const token = this.token();
    const wsQuery = `token=${encodeURIComponent(token)}&o=${encodeURIComponent(optionWords(opts))}`;
    const cfg = { ws: `${this.wsPath}?${wsQuery}`, layout: layoutOf(all), refresh: opts.norefresh ? 0 : refresh };
    const link = (extra: PageOptions) => esc(`${uri}${optionPath(extra)}`);
    const out: string[] = [];
    out.push(
      '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Statistics Report for tslb</title>',
      refresh > 0 && !opts.norefresh ? `<noscript><meta http-equiv="refresh" content="${refresh}"></noscript>` : '',
      `<style>${STYLE}</style></head><body>`,
      `<h1><span class="brand">tslb</span> version ${esc(this.version)}</h1>`,
      `<h2>Statistics Report for pid ${process.pid}</h2><hr>`,
      '<table class="info"><tr><td>',
      `<b>pid = </b>${process.pid} (workers: ${esc(String(info.get('Nbthread') ?? ''))})<br>`,
      `<b>uptime = </b>${esc(String(info.get('Uptime') ?? ''))}<br>`,
      `<b>maxconn = </b>${esc(String(info.get('Maxconn') ?? ''))}<br>`,
      `current conns = ${esc(String(info.get('CurrConns') ?? ''))}; conn rate = ${esc(String(info.get('ConnRate') ?? ''))}/sec<br>`,
      `live: <span id="live">connecting</span> updated <span id="updated">${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC</span>`,
      '</td><td>',
      legend(),
      '</td><td><b>Display option:</b><ul class="opts">',
      `<li><form method="get" action="${esc(uri)}" onsubmit="location.href=this.action+';scope='+encodeURIComponent(this.scope.value)+(${JSON.stringify(optionPath({ ...opts, scope: '', status: undefined }))});return false;">Scope: <input name="scope" size="8" maxlength="31" value="${esc(opts.scope)}"></form></li>`,
      `<li><a href="${link({ ...opts, up: !opts.up, status: undefined })}">${opts.up ? 'Show all servers' : "Hide 'DOWN' servers"}</a></li>`,
      `<li><a href="${link({ ...opts, noMaint: !opts.noMaint, status: undefined })}">${opts.noMaint ? "Show 'MAINT' servers" : "Hide 'MAINT' servers"}</a></li>`,
      refresh > 0 ? `<li><a href="${link({ ...opts, norefresh: !opts.norefresh, status: undefined })}">${opts.norefresh ? 'Enable refresh' : 'Disable refresh'}</a></li>` : '',
      `<li><a href="${link({ ...opts, status: undefined })}">Refresh now</a></li>`,
      `<li><a href="${link({ ...opts, format: 'csv', status: undefined })}">CSV export</a></li>`,
      `<li><a href="${link({ ...opts, format: 'json', status: undefined })}">JSON export</a></li>`,
      '</ul></td></tr></table>',
    );
    if (opts.status) {
      const [ok, text] = RESULTS[opts.status] ?? [false, 'Unexpected result.'];
      out.push(`<div class="result ${ok ? 'ok' : 'err'}">${esc(text)} [<a href="${link({ ...opts, status: undefined })}">X</a>]</div>`);
    }
    let i = 0;
    while (i < rows.length) {
      const px = rows[i].pxname;
      const group: StatRow[] = [];
      while (i < rows.length && rows[i].pxname === px) group.push(rows[i++]);
      out.push(this.proxyTable(group));
    }
    out.push(`<script type="application/json" id="tslb-cfg">${JSON.stringify(cfg).replace(/</g, '\\u003c')}</script>`);
    out.push(`<script>${SCRIPT}</script></body></html>\n`);
    return out.join('');
  }

  private proxyTable(rows: StatRow[]): string {
    const px = rows[0].pxname;
    const backendRow = rows.find((r) => r.type === 1);
    const admin = this.settings.admin && backendRow !== undefined && rows.some((r) => r.type === 2);
    const out: string[] = [];
    if (admin) out.push(`<form class="admin" method="post" action="${esc(this.settings.uri)}"><input type="hidden" name="b" value="#${backendRow!.iid}">`);
    const chart = backendRow
      ? `<svg class="rate" data-backend="${esc(px)}" width="120" height="24" viewBox="0 0 120 24"><polyline points=""></polyline></svg><span class="ratev" data-backend="${esc(px)}"></span>`
      : '';
    out.push(
      `<table class="tbl" data-proxy="${esc(px)}"><tr class="titre"><th class="pxname" colspan="${CELL_COUNT + 1 + (admin ? 1 : 0)}"><a name="${esc(px)}">${esc(px)}</a>${chart}</th></tr>`,
      `<tr class="titre">${admin ? '<th rowspan="2"></th>' : ''}<th rowspan="2"></th>`,
      ...GROUPS.map(([g, cols]) => `<th colspan="${cols.length}">${g}</th>`),
      '</tr><tr class="titre">',
      ...GROUPS.flatMap(([, cols]) => cols.map((c) => `<th>${c}</th>`)),
      '</tr>',
    );
    for (const r of rows) {
      const name = r.type === 0 ? 'Frontend' : r.type === 1 ? 'Backend' : r.svname;
      const pick = admin ? (r.type === 2 ? `<td class="ac"><input type="checkbox" name="s" value="${esc(r.svname)}"></td>` : '<td></td>') : '';
      const cells = displayCells(r)
        .map((text, c) => `<td data-c${c === STATUS_CELL ? ' class="ac status"' : c === STATUS_CELL + 1 ? ' class="al"' : ''}>${esc(text)}</td>`)
        .join('');
      out.push(`<tr class="${rowClass(r)}" data-key="${esc(`${r.pxname}/${r.svname}`)}">${pick}<td class="al">${esc(name)}</td>${cells}</tr>`);
    }
    out.push('</table>');
    if (admin) {
      out.push(
        'Choose the action to perform on the checked servers : <select name="action"><option value="">---</option>',
        '<option value="ready">Set state to READY</option><option value="drain">Set state to DRAIN</option><option value="maint">Set state to MAINT</option>',
        '</select> <input type="submit" value="Apply"></form><p></p>',
      );
    }
    return out.join('');
  }

  // ------------------------------------------------------------ WebSocket

  /** `<expiry>.<hmac>`: handed to an authenticated page, required to open its WebSocket. */
  private token(): string {
    const expiry = String(Date.now() + TOKEN_TTL);
    return `${expiry}.${createHmac('sha256', this.tokenKey).update(expiry).digest('base64url')}`;
  }

  private tokenValid(token: string): boolean {
    const dot = token.indexOf('.');
    if (dot < 0) return false;
    const expiry = token.slice(0, dot);
    const expected = createHmac('sha256', this.tokenKey).update(expiry).digest();
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) && Number(expiry) > Date.now();
  }

  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://stats');
    if (url.pathname !== this.wsPath) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if (this.credentials && !this.tokenValid(url.searchParams.get('token') ?? '') && !this.authorized(req)) {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm="${REALM}"\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const opts = parseOptions(url.searchParams.get('o') ?? '');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.set(ws, { opts });
      ws.on('close', () => this.clients.delete(ws));
      ws.on('error', () => ws.terminate());
      // Incoming messages are not part of the protocol; maxPayload bounds them.
      const rows = this.view.rows();
      ws.send(JSON.stringify(this.push(rows, layoutOf(rows), opts, Object.fromEntries(this.history))));
    });
  }

  private tick(): void {
    const model = this.view.model();
    const rates: Record<string, number> = {};
    for (const b of model.backends) {
      const rate = this.view.stats.backends.get(b.name)?.rate ?? 0;
      rates[b.name] = rate;
      let h = this.history.get(b.name);
      if (!h) this.history.set(b.name, (h = []));
      h.push(rate);
      if (h.length > HISTORY) h.shift();
    }
    for (const name of this.history.keys()) if (!(name in rates)) this.history.delete(name);
    if (this.clients.size === 0) return;
    const rows = this.view.rows();
    const layout = layoutOf(rows);
    // Pages showing the same view share one message.
    const messages = new Map<string, string>();
    for (const [ws, client] of this.clients) {
      // A client that cannot keep up gets no more pushes until its buffer drains.
      if (ws.bufferedAmount > 1 << 20) continue;
      const view = optionWords(client.opts);
      let msg = messages.get(view);
      if (msg === undefined) messages.set(view, (msg = JSON.stringify(this.push(rows, layout, client.opts, undefined, rates))));
      ws.send(msg);
    }
  }

  private push(rows: StatRow[], layout: string, opts: PageOptions, history?: Record<string, number[]>, rates?: Record<string, number>) {
    return {
      time: Date.now(),
      layout,
      rows: selectRows(rows, opts).map((r) => [`${r.pxname}/${r.svname}`, rowClass(r), displayCells(r)]),
      history,
      rates,
    };
  }
}

/** The `;opt` words that reproduce a page's view (without format and result). */
function optionWords(o: PageOptions): string {
  return optionPath({ ...o, format: 'html', status: undefined });
}

function optionPath(o: PageOptions): string {
  let p = '';
  if (o.up) p += ';up';
  if (o.noMaint) p += ';no-maint';
  if (o.norefresh) p += ';norefresh';
  if (o.scope) p += `;scope=${encodeURIComponent(o.scope)}`;
  if (o.format !== 'html') p += `;${o.format}`;
  if (o.status) p += `;st=${o.status}`;
  return p;
}

function legend(): string {
  const cells: [string, string][] = [
    ['active_up', 'active UP'], ['backup_up', 'backup UP'],
    ['active_going_down', 'active UP, going down'], ['backup_going_down', 'backup UP, going down'],
    ['active_going_up', 'active DOWN, going up'], ['backup_going_up', 'backup DOWN, going up'],
    ['active_down', 'active or backup DOWN'], ['active_no_check', 'not checked'],
    ['maintain', 'active or backup DOWN for maintenance (MAINT)'], ['active_draining', 'active or backup SOFT STOPPED for maintenance'],
  ];
  let out = '<table class="lgd">';
  for (let i = 0; i < cells.length; i += 2) {
    out += '<tr>';
    for (const [cls, text] of cells.slice(i, i + 2)) out += `<td class="${cls}">&nbsp;</td><td class="noborder">${text}</td>`;
    out += '</tr>';
  }
  return out + '</table>';
}
