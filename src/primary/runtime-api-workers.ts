/**
 * The runtime API commands whose data lives in the workers (`show sess`, `show errors`)
 * or that the workers apply (`set maxconn frontend|global`): the primary asks every
 * live worker (RuntimeApi.workers) and merges the answers in HAProxy's layout.
 */
import type { Model } from '../config/model';
import type { ErrorCapture } from '../worker/error-capture';
import type { SessionFacts } from '../worker/queries';
import type { RuntimeApi } from './runtime-api';
import { formatLogDate } from '../log/access';
import { humanTime } from './stats-page';
import { proxyIds } from './stats-rows';

/**
 * One line per live stream, HAProxy's short form with the fields tslb knows:
 * `0x<id>: proto=tcpv4 src=<ip:port> fe=<fe> be=<be> srv=<srv> age=<t>`. The
 * stream internals HAProxy adds (ts, epoch, calls, rate, cpu, lat, rq/rp, scf/scb,
 * exp, rc) have no equivalent and are left out. `be=<NONE>` before routing.
 */
export async function showSess(api: RuntimeApi, args: string[]): Promise<string> {
  const [filter, value] = args;
  const model = api.model();
  let keep: (s: SessionFacts) => boolean = () => true;
  switch (filter) {
    case undefined:
      break;
    case 'backend':
      if (!model.backends.some((b) => b.name === value)) return 'No such backend.\n';
      keep = (s) => s.backend === value;
      break;
    case 'frontend':
      if (!model.frontends.some((f) => f.name === value)) return 'No such frontend.\n';
      keep = (s) => s.frontend === value;
      break;
    case 'server': {
      const t = api.target(value);
      if (typeof t === 'string') return t;
      keep = (s) => s.backend === t.be.name && s.server === t.srv.name;
      break;
    }
    case 'older': {
      if (value === undefined || !/^\d+$/.test(value)) return 'Expects a minimum age (in seconds).\n';
      const ms = Number(value) * 1000;
      keep = (s) => s.age >= ms;
      break;
    }
    default:
      return "'show sess' only supports 'backend', 'frontend', 'server' and 'older'.\n";
  }
  const sessions = (await api.workers!('sessions')).flatMap((a) => a.data as SessionFacts[]).filter(keep);
  return sessions
    .map(
      (s) =>
        `0x${s.id}: proto=${s.proto} src=${s.src}:${s.srcPort} fe=${s.frontend} be=${s.backend ?? '<NONE>'} ` +
        `srv=${s.server ?? '<none>'} age=${humanTime(Math.floor(s.age / 1000))}\n`,
    )
    .join('');
}

/**
 * The last invalid request of each frontend and response of each backend, in
 * HAProxy's layout. The buffer/H1 state lines HAProxy prints are replaced by the
 * parser's reason; messages are kept up to 4 KiB.
 */
export async function showErrors(api: RuntimeApi, args: string[]): Promise<string> {
  const model = api.model();
  const ids = proxyIds(model);
  let proxy: string | undefined;
  let kind: ErrorCapture['kind'] | undefined;
  for (const a of args) {
    if (a === 'request' || a === 'response') kind = a;
    else if (a !== '-1') {
      const byId = (m: Map<string, number>) => [...m].find(([, id]) => String(id) === a)?.[0];
      proxy = ids.frontends.has(a) || ids.backends.has(a) ? a : byId(ids.frontends) ?? byId(ids.backends);
      if (proxy === undefined) return 'No such proxy.\n';
    }
  }
  const answers = await api.workers!('errors');
  let total = 0;
  const latest = new Map<string, ErrorCapture>();
  for (const a of answers) {
    const d = a.data as { total: number; captures: ErrorCapture[] };
    total += d.total;
    for (const c of d.captures) {
      const id = `${c.kind} ${c.kind === 'request' ? c.frontend : c.backend}`;
      const prev = latest.get(id);
      if (!prev || prev.at < c.at) latest.set(id, c);
    }
  }
  const proxyId = (c: ErrorCapture) => (c.kind === 'request' ? ids.frontends.get(c.frontend) : ids.backends.get(c.backend!)) ?? -1;
  const shown = [...latest.values()]
    .filter((c) => (kind === undefined || c.kind === kind) && (proxy === undefined || (c.kind === 'request' ? c.frontend : c.backend) === proxy))
    .sort((a, b) => proxyId(a) - proxyId(b) || (a.kind === 'request' ? -1 : 1));
  let out = `Total events captured on [${formatLogDate(Date.now())}] : ${total}\n`;
  for (const c of shown) {
    const srvId = (b?: string, s?: string) => model.backends.find((x) => x.name === b)?.servers.find((x) => x.name === s)?.id ?? -1;
    if (c.kind === 'request') {
      out += `\n[${formatLogDate(c.at)}] frontend ${c.frontend} (#${proxyId(c)}): invalid request\n`;
      out += `  backend <NONE> (#-1), server <NONE> (#-1), event #${c.event}, src ${c.src}:${c.srcPort}\n`;
    } else {
      out += `\n[${formatLogDate(c.at)}] backend ${c.backend} (#${proxyId(c)}): invalid response\n`;
      out += `  frontend ${c.frontend} (#${ids.frontends.get(c.frontend) ?? -1}), server ${c.server ?? '<NONE>'} (#${srvId(c.backend, c.server)}), event #${c.event}, src ${c.src}:${c.srcPort}\n`;
    }
    out += `  len ${c.length}, reason: ${c.reason || 'invalid message'}\n\n${dumpText(c.data)}`;
  }
  return out;
}

/** `set maxconn frontend`: HAProxy's checks and texts; the workers apply it to new connections. */
export async function setFrontendMaxconn(api: RuntimeApi, name: string | undefined, value: string | undefined): Promise<string> {
  if (!name) return 'A frontend name is expected.\n';
  const fe = api.model().frontends.find((f) => f.name === name);
  if (!fe) return 'No such frontend.\n';
  if (value === undefined || !/^-?\d+$/.test(value)) return 'Integer value expected.\n';
  const n = parseInt(value, 10);
  if (n < 0) return 'Value out of range.\n';
  // Kept in the model: stats (slim) show it and a respawned worker starts with it; a reload resets it, as in HAProxy.
  fe.maxconn = n;
  await api.workers!('set-maxconn', ['frontend', name, String(n)]);
  return '';
}

/** `set maxconn global`: at most the configured (hard) limit; 0 or less restores it. */
export async function setGlobalMaxconn(api: RuntimeApi, value: string | undefined): Promise<string> {
  if (value === undefined || !/^-?\d+$/.test(value)) return 'Expects an integer value.\n';
  const model = api.model();
  const hard = hardMaxconn(model);
  let n = parseInt(value, 10);
  if (hard > 0 && n > hard) return 'Value out of range.\n';
  if (n <= 0) n = hard;
  model.global.maxconn = n;
  await api.workers!('set-maxconn', ['global', String(n)]);
  return '';
}

/** `set rate-limit http-compression global <kB/s>`: HAProxy's maxcomprate at run time (0: no limit), until a reload. */
export async function setRateLimit(api: RuntimeApi, args: string[]): Promise<string> {
  if (args[0] !== 'http-compression' || args[1] !== 'global') {
    return "'set rate-limit' only supports :\n   - 'http-compression global' to set the per-process maximum compression speed in kB/s\n";
  }
  const value = args[2];
  if (value === undefined || value === '') return 'Expects an integer value.\n';
  // HAProxy reads it with atoi().
  const n = parseInt(value, 10) || 0;
  if (n < 0) return 'Value out of range.\n';
  // Kept in the model: show info reports it and a respawned worker starts with it.
  api.model().global.maxCompRate = n;
  await api.workers!('set-comp-rate', [String(n)]);
  return '';
}

/** The configured global maxconn of a model (HAProxy's hardmaxconn), before any `set maxconn global`. */
const configuredMaxconn = new WeakMap<Model, number>();
function hardMaxconn(model: Model): number {
  let hard = configuredMaxconn.get(model);
  if (hard === undefined) configuredMaxconn.set(model, (hard = model.global.maxconn));
  return hard;
}

/**
 * HAProxy's dump of a captured message: `  <offset>  <text>` lines, escaped
 * (`\r`, `\n`, `\t`, `\\`, `\xHH`), a new line after each `\n`, long lines
 * continued on a line whose offset ends with `+`.
 */
function dumpText(data: string): string {
  const WIDTH = 72;
  let out = '';
  let line = '';
  let start = 0;
  let continued = false;
  const flush = (next: number, cont: boolean) => {
    out += `  ${String(start).padStart(5, '0')}${continued ? '+' : ' '} ${line}\n`;
    line = '';
    start = next;
    continued = cont;
  };
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    line +=
      c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : c === 0x5c ? '\\\\' : c >= 0x20 && c < 0x7f ? data[i] : `\\x${c.toString(16).padStart(2, '0')}`;
    if (c === 0x0a) flush(i + 1, false);
    else if (line.length >= WIDTH) flush(i + 1, true);
  }
  if (line) flush(data.length, false);
  return out;
}
