/**
 * HAProxy `option …` lines of a frontend, backend or defaults: the switches (httplog,
 * redispatch…), `option forwardfor`, the options accepted and reported as pending, and
 * the dispatch of the health-check options to ./check-syntax.ts. Each line parses
 * alone; src/config/option-lines.ts sorts a section's list and keeps positions.
 */
import type { ForwardFor, HealthCheck } from './model';
import { didYouMean } from './suggest';
import { splitWords } from './haproxy-syntax';
import { CHECK_OPTIONS, parseCheckOption } from './check-syntax';

export type OptionResult =
  | { kind: 'check'; check: HealthCheck }
  | { kind: 'forwardfor'; forwardFor: ForwardFor }
  /** An option this issue implements, by name (httplog, redispatch…). */
  | { kind: 'flag'; name: string }
  /** An option a later issue implements. */
  | { kind: 'pending'; name: string; area: string }
  | { kind: 'error'; error: string };

/** Options that only switch something on. */
const FLAG_OPTIONS = new Set([
  'httplog',
  'tcplog',
  'dontlognull',
  'log-health-checks',
  'redispatch',
  'allbackups',
  'http-keep-alive',
  'http-buffer-request',
]);

const PENDING_OPTIONS: Record<string, string> = {
  httpslog: 'logging (httpslog)',
  'http-server-close': 'http connection modes (http-server-close)',
  httpclose: 'http connection modes (httpclose)',
  'http-pretend-keepalive': 'http connection modes (http-pretend-keepalive)',
  'http-no-delay': 'http connection modes (http-no-delay)',
  abortonclose: 'http connection modes (abortonclose)',
  'prefer-last-server': 'balancing (prefer-last-server)',
  persist: 'session persistence (persist)',
  originalto: 'http rules (originalto)',
  tcpka: 'tcp keep-alive (tcpka)',
  clitcpka: 'tcp keep-alive (clitcpka)',
  srvtcpka: 'tcp keep-alive (srvtcpka)',
  'splice-auto': 'performance (splice)',
  'splice-request': 'performance (splice)',
  'splice-response': 'performance (splice)',
  contstats: 'statistics (contstats)',
  'log-separate-errors': 'logging (log-separate-errors)',
  logasap: 'logging (logasap)',
  nolinger: 'tcp tuning (nolinger)',
  'independent-streams': 'tcp tuning (independent-streams)',
  'socket-stats': 'statistics (socket-stats)',
};


const ALL_OPTIONS = [...FLAG_OPTIONS, ...Object.keys(PENDING_OPTIONS), ...CHECK_OPTIONS, 'forwardfor'];

/** Parses one `option` line (without the word `option`), e.g. `httpchk GET /health`. */
export function parseOption(text: string): OptionResult {
  const words = splitWords(text);
  const name = words[0] ?? '';
  const args = words.slice(1);
  if (FLAG_OPTIONS.has(name)) {
    return args.length ? { kind: 'error', error: `option ${name} takes no argument` } : { kind: 'flag', name };
  }
  if (name in PENDING_OPTIONS) return { kind: 'pending', name, area: PENDING_OPTIONS[name] };
  if (name === 'forwardfor') return parseForwardFor(args);
  if (CHECK_OPTIONS.includes(name)) {
    const r = parseCheckOption(name, args, text.trim());
    return r.error !== undefined ? { kind: 'error', error: r.error } : { kind: 'check', check: r.value };
  }
  return { kind: 'error', error: `unknown option "${name}"${didYouMean(name, ALL_OPTIONS)}` };
}

function parseForwardFor(args: string[]): OptionResult {
  const ff: ForwardFor = { header: 'X-Forwarded-For', ifNone: false, except: [] };
  for (let i = 0; i < args.length; i++) {
    const w = args[i];
    if (w === 'if-none') ff.ifNone = true;
    else if ((w === 'except' || w === 'header') && i + 1 < args.length) {
      if (w === 'except') ff.except.push(args[++i]);
      else ff.header = args[++i];
    } else return { kind: 'error', error: `option forwardfor: unexpected "${w}" (expected except <network>, header <name>, if-none)` };
  }
  return { kind: 'forwardfor', forwardFor: ff };
}
