/**
 * The runtime API's ACL and map commands (HAProxy's `show|get|add|del|clear acl`,
 * `show|get|add|set|del|clear map`, same arguments, replies and errors). A file is
 * named as in the config, by its resolved path, or `#<id>`; an entry by its key or
 * `#<id>` as `show` prints it. An edit changes the primary's copy in the model (so a
 * respawned worker starts with it) and then every worker's, and the command answers
 * once they applied it; a reload reads the files again, as HAProxy does. Only file
 * references are listed: tslb compiles inline patterns and does not expose them.
 */
import type { Model, PatternFile } from '../config/model';
import { buildLookup, patternError } from '../rules/pattern-index';
import { applyPatternEdit, editWords, entryIdText, type PatternEdit } from '../rules/patterns';
import type { Command, RuntimeApi } from './runtime-api';

type Kind = 'acl' | 'map';

const UNKNOWN: Record<Kind, string> = {
  acl: 'Unknown ACL identifier. Please use #<id> or <file>.\n',
  map: 'Unknown map identifier. Please use #<id> or <file>.\n',
};
const IDENTIFIER: Record<Kind, string> = { acl: 'ACL', map: 'map' };

/** A command that edits a file: operator level, offered when there are workers to apply it. */
function editCommand(words: string[], usage: string, run: Command['run']): Command {
  return { words, level: 'operator', usage, run, available: (api) => api.workers !== undefined };
}

export const PATTERN_COMMANDS: Command[] = [
  { words: ['show', 'acl'], level: 'user', usage: 'show acl [<acl>] : report available acls or dump an acl\'s contents', run: (api, a) => show(api.model(), 'acl', a[0]) },
  { words: ['show', 'map'], level: 'user', usage: 'show map [<map>] : report available maps or dump a map\'s contents', run: (api, a) => show(api.model(), 'map', a[0]) },
  { words: ['get', 'acl'], level: 'user', usage: 'get acl <acl> <value> : report the patterns matching a sample for an ACL', run: (api, a) => get(api.model(), 'acl', a) },
  { words: ['get', 'map'], level: 'user', usage: 'get map <acl> <value> : report the keys and values matching a sample for a map', run: (api, a) => get(api.model(), 'map', a) },
  editCommand(['add', 'acl'], 'add acl <acl> <pattern> : add an acl entry', (api, a) => add(api, 'acl', a)),
  editCommand(['add', 'map'], 'add map <map> <key> <val> : add a map entry (payload supported instead of key/val)', (api, a, payload) => add(api, 'map', a, payload)),
  editCommand(['set', 'map'], 'set map <map> [<key>|#<ref>] <value> : modify a map entry', (api, a) => setMap(api, a)),
  editCommand(['del', 'acl'], 'del acl <acl> [<key>|#<ref>] : delete acl entries matching <key>', (api, a) => del(api, 'acl', a)),
  editCommand(['del', 'map'], 'del map <map> [<key>|#<ref>] : delete map entries matching <key>', (api, a) => del(api, 'map', a)),
  editCommand(['clear', 'acl'], 'clear acl <acl> : clear the contents of this acl', (api, a) => clear(api, 'acl', a)),
  editCommand(['clear', 'map'], 'clear map <map> : clear the contents of this map', (api, a) => clear(api, 'map', a)),
];

/** Files an ACL (`acl`) or a map converter (`map`) uses. */
function usedBy(f: PatternFile, kind: Kind): boolean {
  return f.uses.some((u) => u.by === kind);
}

/** `#<id>`, the name as written in the config, or the file's path. */
function find(model: Model, ref: string | undefined): PatternFile | undefined {
  if (!ref) return undefined;
  const files = model.patternFiles ?? [];
  if (ref.startsWith('#')) return /^#\d+$/.test(ref) ? files.find((f) => f.id === Number(ref.slice(1))) : undefined;
  return files.find((f) => f.name === ref) ?? files.find((f) => f.path === ref);
}

function show(model: Model, kind: Kind, ref: string | undefined): string {
  if (ref === undefined) {
    let out = '# id (file) description\n';
    for (const f of model.patternFiles ?? []) {
      if (!usedBy(f, kind)) continue;
      const at = f.usedAt ? ` at file '${f.usedAt.file}' line ${f.usedAt.line}` : '';
      out += `${f.id} (${f.name}) pattern loaded from file '${f.name}' used by ${kind}${at}. curr_ver=0 next_ver=0 entry_cnt=${f.entries.length}\n`;
    }
    return out;
  }
  const f = find(model, ref);
  if (!f || !usedBy(f, kind)) return UNKNOWN[kind];
  return f.entries.map((e) => `${entryIdText(e.id)} ${e.key}${e.value === undefined ? '' : ` ${e.value}`}\n`).join('');
}

/** HAProxy's indexed matches: case-sensitive exact strings and prefixes, and networks. */
function indexed(method: string, ignoreCase: boolean): boolean {
  return method === 'ip' || (!ignoreCase && (method === 'str' || method === 'beg'));
}

/** One line per way the file is matched: did `value` match, and which entry. */
function get(model: Model, kind: Kind, args: string[]): string {
  const [ref, value] = args;
  if (ref === undefined || value === undefined) return `Missing ${IDENTIFIER[kind]} identifier and/or key.\n`;
  const f = find(model, ref);
  if (!f) return UNKNOWN[kind];
  const keys = f.entries.map((e) => e.key);
  let out = '';
  for (const u of f.uses) {
    if (u.method === 'found' || u.method === 'bool') continue;
    const i = buildLookup(u.method, keys, u.ignoreCase)(value);
    out += `type=${u.method}, case=${u.ignoreCase ? 'insensitive' : 'sensitive'}`;
    const verb = kind === 'map' ? 'found' : 'match';
    if (i < 0) {
      out += `, ${verb}=no\n`;
      continue;
    }
    const e = f.entries[i];
    out += `, ${verb}=yes, idx=${indexed(u.method, u.ignoreCase) ? 'tree' : 'list'}`;
    if (kind === 'map') out += `, key="${e.key}", value=${e.value === undefined ? 'none' : `"${e.value}", type="str"`}\n`;
    else out += `, pattern="${e.key}"\n`;
  }
  return out;
}

/** Why `key` cannot be added to `f`: one of the ways it is matched refuses it. */
function refused(f: PatternFile, key: string): string | undefined {
  for (const u of f.uses) {
    const error = patternError(u.method, key);
    if (error) return `${error}.\n`;
  }
  return undefined;
}

async function edit(api: RuntimeApi, f: PatternFile, change: PatternEdit): Promise<number> {
  const n = applyPatternEdit(f, change);
  await api.workers!('pattern-edit', editWords(f.name, change));
  return n;
}

/** `add acl <file> <pattern>`, `add map <file> <key> <value>`, or `add map <file> <<` with `key value` lines. */
async function add(api: RuntimeApi, kind: Kind, args: string[], payload?: string): Promise<string> {
  const [ref, key, ...rest] = args;
  if (kind === 'acl' && (ref === undefined || key === undefined)) return "'add acl' expects two parameters: ACL identifier and pattern.\n";
  if (kind === 'map' && (ref === undefined || (payload === undefined && (key === undefined || rest.length === 0)))) {
    return "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n";
  }
  const f = find(api.model(), ref);
  if (!f) return UNKNOWN[kind];
  if (kind === 'acl' && f.kind === 'map') return "This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n";
  const entries: { key: string; value?: string }[] = [];
  if (payload === undefined) entries.push(f.kind === 'map' ? { key, value: rest.join(' ') } : { key });
  else {
    for (const line of payload.split('\n')) {
      if (line.trim() === '') continue;
      const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line.trim())!;
      if (f.kind === 'map' && m[2] === undefined) return `Missing value for key '${m[1]}'.\n`;
      entries.push(f.kind === 'map' ? { key: m[1], value: m[2] } : { key: m[1] });
    }
  }
  for (const e of entries) {
    const why = refused(f, e.key);
    if (why) return why;
  }
  await edit(api, f, { op: 'add', entries });
  return '';
}

async function setMap(api: RuntimeApi, args: string[]): Promise<string> {
  const [ref, key, ...rest] = args;
  if (ref === undefined || key === undefined || rest.length === 0) return "'set map' expects three parameters: map identifier, key and value.\n";
  const f = find(api.model(), ref);
  if (!f || f.kind !== 'map') return UNKNOWN.map;
  const n = await edit(api, f, { op: 'set', key, value: rest.join(' ') });
  return n ? '' : 'entry not found.\n';
}

async function del(api: RuntimeApi, kind: Kind, args: string[]): Promise<string> {
  const [ref, key] = args;
  if (ref === undefined || key === undefined) return `This command expects two parameters: ${IDENTIFIER[kind]} identifier and key.\n`;
  const f = find(api.model(), ref);
  // HAProxy names a map here for both kinds.
  if (!f || !usedBy(f, kind)) return UNKNOWN.map;
  const n = await edit(api, f, { op: 'del', key });
  return n ? '' : 'Key not found.\n';
}

async function clear(api: RuntimeApi, kind: Kind, args: string[]): Promise<string> {
  const [ref] = args;
  if (ref === undefined) return `Missing ${IDENTIFIER[kind]} identifier.\n`;
  const f = find(api.model(), ref);
  if (!f || !usedBy(f, kind)) return UNKNOWN[kind];
  await edit(api, f, { op: 'clear' });
  return '';
}
