/**
 * A backend's keyword settings besides its servers and checks: cookie persistence,
 * `stick on`, `hash-type` and the `balance` algorithm.
 */
import { balancers } from '../balance/registry';
import { fetches } from '../rules/fetches';
import type { Locate } from './build';
import { parseBalanceLine, parseCookieLine, parseStickOn } from './backend-syntax';
import type { Balance, CookiePersistence, Mode, StickRule, StickTableDef } from './model';
import { BACKEND_LINE, type OptionSet } from './option-lines';
import type { BackendInput } from './schema-backend';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';

/**
 * cookie / stick on / hash-type, from their YAML keys or as HAProxy lines in the
 * options list (the keys win). `stick on` stores in the backend's `stickTable`.
 */
export function backendLines(
  b: BackendInput,
  mode: Mode,
  own: OptionSet,
  base: Seg[],
  stickTable: StickTableDef | undefined,
  at: Locate,
  diag: Diagnostics,
): { cookie?: CookiePersistence; stick?: StickRule; hashType?: 'map-based' | 'consistent' } {
  const text: Record<'cookie' | 'stick on' | 'hash-type', { text: string; where: Where } | undefined> = {
    cookie: undefined,
    'stick on': undefined,
    'hash-type': undefined,
  };
  for (const l of own.backendLines) {
    const kw = BACKEND_LINE.exec(l.text)![1] as keyof typeof text;
    text[kw] = { text: l.text.slice(kw.length).trim(), where: l.where };
  }
  const key = (v: string | undefined, k: string) => (v === undefined ? undefined : { text: v, where: at([...base, k]) });
  const cookieLine = key(b.cookie, 'cookie') ?? text.cookie;
  const stickOn = key(b.stick_on, 'stick_on') ?? text['stick on'];
  const hashLine = key(b.hash_type, 'hash_type') ?? text['hash-type'];
  const out: { cookie?: CookiePersistence; stick?: StickRule; hashType?: 'map-based' | 'consistent' } = {};
  if (cookieLine) {
    const c = parseCookieLine(cookieLine.text);
    if (c.error !== undefined) diag.error(cookieLine.where, c.error);
    else out.cookie = c.value;
  }
  if (stickOn) {
    const on = parseStickOn(stickOn.text);
    const def = on.value && fetches.get(on.value.fetch);
    if (on.error !== undefined) diag.error(stickOn.where, on.error);
    else if (!def) diag.error(stickOn.where, `stick on: unknown fetch "${on.value.fetch}"${didYouMean(on.value.fetch, new Set(fetches.keys()))}`);
    else if (!def.stages.includes(mode === 'http' ? 'request' : 'connection')) diag.error(stickOn.where, `stick on: ${def.name} is not available in a ${mode} backend`);
    else if (on.value.args.length < def.minArgs || on.value.args.length > def.maxArgs) diag.error(stickOn.where, `stick on: ${def.name} takes ${def.minArgs}..${def.maxArgs} arguments`);
    else if (!stickTable) {
      if (b.stick_table === undefined && !own.protectionLines.some((l) => /^stick-table\s/.test(l.text))) {
        diag.error(stickOn.where, 'stick on needs a stick-table in the same backend (stick_table: "type ip size 100k expire 30m")');
      }
    } else out.stick = { fetch: on.value.fetch, args: on.value.args, text: stickOn.text };
  }
  if (hashLine) {
    if (hashLine.text !== 'map-based' && hashLine.text !== 'consistent') diag.error(hashLine.where, `hash-type must be map-based or consistent, not "${hashLine.text}"`);
    else out.hashType = hashLine.text;
  }
  return out;
}

export function balance(
  v: string | { algorithm: string; args?: string[]; hash_type?: 'map-based' | 'consistent' } | undefined,
  segs: Seg[],
  at: Locate,
  diag: Diagnostics,
  hashTypeLine?: 'map-based' | 'consistent',
): Balance {
  if (v === undefined) return { algorithm: 'roundrobin', args: [], hashType: hashTypeLine ?? 'map-based' };
  const line = typeof v === 'string' ? parseBalanceLine(v) : { algorithm: v.algorithm, args: v.args ?? [] };
  const hashType = (typeof v === 'string' ? undefined : v.hash_type) ?? hashTypeLine ?? 'map-based';
  const def = balancers.get(line.algorithm);
  if (def) {
    const err = def.checkArgs(line.args);
    if (err) diag.error(at(segs), `balance ${line.algorithm}: ${err}`);
  } else {
    diag.error(at(segs), `unknown balance algorithm "${line.algorithm}"${didYouMean(line.algorithm, new Set(balancers.keys()))}`);
  }
  return { algorithm: line.algorithm, args: line.args, hashType };
}
