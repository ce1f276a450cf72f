/**
 * Pattern files (`acl … -f FILE`) and map files (`map(FILE)`): how their text reads,
 * how the runtime API edits them, and (in a worker) the live copies the compiled
 * matchers and map converters look up.
 *
 * The config loader parses the files into the model (Model.patternFiles). The runtime
 * API applies an edit to the primary's copy and then to every worker's through
 * `editPatterns`, the same `applyPatternEdit` on both sides, so entry ids agree. A
 * worker keeps its copies here, one per process like HAProxy's pattern references;
 * each edit bumps a version, and what was compiled over a file rebuilds its index on
 * its next use.
 */
import type { PatternEntry, PatternFile } from '../config/model';

/** One line of a pattern file: the pattern (or map key), the map value, and the line number. */
export interface PatternLine {
  key: string;
  value?: string;
  line: number;
}

/**
 * HAProxy's reading: a line starting with `#` is a comment, leading blanks are cut,
 * empty lines are skipped. A pattern is the rest of the line; a map line is a key (up
 * to the first blank) and a value (the rest, trailing blanks cut, possibly empty).
 */
export function parsePatternText(text: string, kind: PatternFile['kind']): PatternLine[] {
  const out: PatternLine[] = [];
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.startsWith('#')) continue;
    const line = raw.replace(/^[ \t]+/, '');
    if (line === '') continue;
    if (kind === 'acl') {
      out.push({ key: line, line: i + 1 });
      continue;
    }
    const m = /^(\S+)[ \t]*(.*?)[ \t]*$/.exec(line)!;
    out.push({ key: m[1], value: m[2], line: i + 1 });
  }
  return out;
}

/** An edit of the runtime API. `key` may be `#<id>` (an entry's id as `show acl|map` prints it). */
export type PatternEdit =
  | { op: 'add'; entries: { key: string; value?: string }[] }
  | { op: 'set'; key: string; value: string }
  | { op: 'del'; key: string }
  | { op: 'clear' };

/** An entry's id as `show acl|map` prints it (HAProxy prints the entry's address). */
export function entryIdText(id: number): string {
  return `0x${id.toString(16)}`;
}

function byKeyOrId(key: string): (e: PatternEntry) => boolean {
  const id = /^#0x[0-9a-f]+$/i.test(key) ? parseInt(key.slice(3), 16) : -1;
  return id >= 0 ? (e) => e.id === id : (e) => e.key === key;
}

/** Applies `edit` to `file`; returns how many entries it added, changed or removed. */
export function applyPatternEdit(file: PatternFile, edit: PatternEdit): number {
  switch (edit.op) {
    case 'add':
      for (const e of edit.entries) file.entries.push(e.value === undefined ? { id: file.nextEntryId++, key: e.key } : { id: file.nextEntryId++, key: e.key, value: e.value });
      return edit.entries.length;
    case 'set': {
      const hit = byKeyOrId(edit.key);
      let n = 0;
      for (const e of file.entries) if (hit(e)) (e.value = edit.value), n++;
      return n;
    }
    case 'del': {
      const hit = byKeyOrId(edit.key);
      const before = file.entries.length;
      file.entries = file.entries.filter((e) => !hit(e));
      return before - file.entries.length;
    }
    case 'clear': {
      const n = file.entries.length;
      file.entries = [];
      return n;
    }
  }
}

/** The edit as the words the primary sends to the workers (a runtime API query's arguments). */
export function editWords(name: string, edit: PatternEdit): string[] {
  switch (edit.op) {
    case 'add':
      return [name, 'add', ...edit.entries.flatMap((e) => (e.value === undefined ? [e.key] : [e.key, e.value]))];
    case 'set':
      return [name, 'set', edit.key, edit.value];
    case 'del':
      return [name, 'del', edit.key];
    case 'clear':
      return [name, 'clear'];
  }
}

/** The edit `editWords` made; added entries are keys (pattern files) or key, value pairs (maps). */
function editOf(words: string[], kind: PatternFile['kind']): PatternEdit | undefined {
  const [, op, key, value] = words;
  if (op === 'add') {
    const entries: { key: string; value?: string }[] = [];
    for (let i = 2; i < words.length; i += kind === 'map' ? 2 : 1) entries.push(kind === 'map' ? { key: words[i], value: words[i + 1] ?? '' } : { key: words[i] });
    return { op, entries };
  }
  if (op === 'set' && key !== undefined && value !== undefined) return { op, key, value };
  if (op === 'del' && key !== undefined) return { op, key };
  if (op === 'clear') return { op };
  return undefined;
}

// ------------------------------------------------------------------ a worker's live copies

/** A worker's copy of a pattern file; `version` changes with every edit. */
export interface PatternRef {
  readonly file: PatternFile;
  version: number;
}

const refs = new Map<string, PatternRef>();
let edits = 0;

/** A new config generation: its files replace the previous ones. */
export function loadPatternFiles(files: readonly PatternFile[] | undefined): void {
  refs.clear();
  for (const file of files ?? []) refs.set(file.name, { file, version: 0 });
}

export function patternRef(name: string): PatternRef | undefined {
  return refs.get(name);
}

/** Applies an edit sent by the primary (`editWords`); returns the entries touched, or -1 for an unknown file. */
export function editPatterns(words: string[]): number {
  const ref = refs.get(words[0]);
  const edit = ref && editOf(words, ref.file.kind);
  if (!ref || !edit) return -1;
  const n = applyPatternEdit(ref.file, edit);
  ref.version = ++edits;
  return n;
}

/** Changes whenever one of `list` is edited. */
export function versionOf(list: readonly PatternRef[]): number {
  let v = 0;
  for (let i = 0; i < list.length; i++) if (list[i].version > v) v = list[i].version;
  return v;
}
