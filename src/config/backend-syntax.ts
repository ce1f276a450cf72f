/**
 * A backend's keyword lines besides servers and checks, as written: `balance`,
 * `cookie` (persistence) and `stick on`. Pure parsers; src/config/backend-lines.ts
 * checks them against the balancers and fetches and attaches positions.
 */
import type { CookiePersistence } from './model';
import { didYouMean } from './suggest';
import { parseTime, splitWords, type Parsed } from './haproxy-syntax';

/**
 * `balance` as written: `roundrobin`, `uri whole`, `url_param userid`, `hdr(host)`.
 * HAProxy's `hdr(<name>)` and `rdp-cookie(<name>)` carry their argument in parentheses.
 */
export function parseBalanceLine(text: string): { algorithm: string; args: string[] } {
  const words = splitWords(text);
  const first = words[0] ?? '';
  const m = /^([a-z_-]+)\((.*)\)$/.exec(first);
  if (m) return { algorithm: m[1], args: [m[2], ...words.slice(1)] };
  return { algorithm: first, args: words.slice(1) };
}

/**
 * `cookie <name> insert|rewrite|prefix [indirect] [nocache] [httponly] [secure]
 * [domain <d>] [maxidle <t>] [maxlife <t>]` (the words after `cookie`).
 */
export function parseCookieLine(text: string): Parsed<CookiePersistence> {
  const words = splitWords(text);
  const name = words[0];
  if (!name || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return { error: `cookie: "${name ?? ''}" is not a cookie name` };
  const c: CookiePersistence = { name, mode: 'insert', indirect: false, nocache: false, httpOnly: false, secure: false, maxIdle: 0, maxLife: 0 };
  let mode: CookiePersistence['mode'] | undefined;
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    switch (w) {
      case 'insert':
      case 'rewrite':
      case 'prefix':
        if (mode && mode !== w) return { error: `cookie: ${mode} and ${w} exclude each other` };
        mode = w;
        break;
      case 'indirect':
        c.indirect = true;
        break;
      case 'nocache':
        c.nocache = true;
        break;
      case 'httponly':
        c.httpOnly = true;
        break;
      case 'secure':
        c.secure = true;
        break;
      case 'domain':
      case 'maxidle':
      case 'maxlife': {
        const arg = words[++i];
        if (arg === undefined) return { error: `cookie: ${w} needs an argument` };
        if (w === 'domain') c.domain = arg;
        else {
          const t = parseTime(arg);
          if (t.error !== undefined) return { error: `cookie ${w}: ${t.error}` };
          if (w === 'maxidle') c.maxIdle = t.value;
          else c.maxLife = t.value;
        }
        break;
      }
      default:
        return { error: `cookie: unknown or unsupported keyword "${w}"${didYouMean(w, ['insert', 'rewrite', 'prefix', 'indirect', 'nocache', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife'])}` };
    }
  }
  if (!mode) return { error: 'cookie: needs one of insert, rewrite or prefix' };
  c.mode = mode;
  if ((c.maxIdle || c.maxLife) && mode !== 'insert') return { error: 'cookie: maxidle/maxlife only apply to insert mode' };
  return { value: c };
}

/** `stick on <fetch>` pattern (the words after `stick on`): a fetch with optional `(args)`. */
export function parseStickOn(text: string): Parsed<{ fetch: string; args: string[] }> {
  const words = splitWords(text);
  if (words.length !== 1) return { error: `stick on: expected one sample fetch such as src or hdr(x-user), not "${text.trim()}" (table/if are not supported)` };
  const m = /^([a-z0-9_.]+)(?:\((.*)\))?$/.exec(words[0]);
  if (!m) return { error: `stick on: bad sample fetch "${words[0]}"` };
  return { value: { fetch: m[1], args: m[2] ? m[2].split(',').map((a) => a.trim()) : [] } };
}
