/**
 * What rules name outside themselves, checked and gathered by the config loader: the
 * pattern files of ACLs (`-f FILE`, `-M`) and the map files of map converters (in
 * conditions and dynamic `use_backend` names), read once per file name into the model
 * (workers never read them), the proxies that `nbsrv`, `be_conn` and `fe_conn` name, and
 * the userlists of `http_auth`.
 */
import type { Condition, PatternFile, PatternUse, ParsedSample } from './model';
import type { Diagnostics, Where } from './source';
import { parseNameTemplate } from '../rules/acl-parser';
import type { Stage } from '../rules/context';
import { converters } from '../rules/converters';
import { fetches } from '../rules/fetches';
import { patternError } from '../rules/pattern-index';
import { parsePatternText } from '../rules/patterns';
import { didYouMean } from './suggest';

/** Reads a file named in the config, relative to the config file naming it (errors reported). */
export type ReadConfigFile = (file: string, where: Where) => { path: string; text: string } | undefined;

type Leaf = Extract<Condition, { kind: 'match' }>;

export class RuleRefs {
  /** null: the file could not be read (reported once). */
  private readonly files = new Map<string, PatternFile | null>();
  /** Each entry's line in its file, for errors. */
  private readonly lineNumbers = new Map<string, number[]>();

  constructor(
    private readonly diag: Diagnostics,
    private readonly read: ReadConfigFile,
    private readonly proxies: { backends: ReadonlySet<string>; frontends: ReadonlySet<string>; userlists: ReadonlySet<string> },
  ) {}

  /** The files every rule so far uses, in order of first use. */
  patternFiles(): PatternFile[] {
    return [...this.files.values()].filter((f): f is PatternFile => f !== null);
  }

  /** Checks and gathers what the leaves of `cond` name. */
  condition(cond: Condition, where: Where): void {
    switch (cond.kind) {
      case 'not':
        return this.condition(cond.expr, where);
      case 'and':
      case 'or':
        for (const t of cond.terms) this.condition(t, where);
        return;
      case 'match':
        return this.leaf(cond, where);
    }
  }

  /** A name built per request (a dynamic `use_backend`), its samples checked and gathered; undefined after an error. */
  nameTemplate(text: string, stage: Stage, where: Where): (string | ParsedSample)[] | undefined {
    const parsed = parseNameTemplate(text, stage);
    if (parsed.error !== undefined) {
      this.diag.error(where, parsed.error);
      return undefined;
    }
    for (const p of parsed.parts!) if (typeof p !== 'string') this.sample(p, where);
    return parsed.parts;
  }

  /** Checks and gathers what a sample expression names. */
  sample(expr: ParsedSample, where: Where): void {
    const def = fetches.get(expr.fetch);
    const named = expr.args[0];
    if (def?.names && named !== undefined) {
      const known = def.names === 'backend' ? this.proxies.backends : def.names === 'userlist' ? this.proxies.userlists : this.proxies.frontends;
      if (!known.has(named)) this.diag.error(where, `${expr.fetch}: unknown ${def.names} "${named}"${didYouMean(named, known)}`);
    }
    for (const c of expr.converters) {
      const method = converters.get(c.name)?.mapMethod;
      if (method) this.use(c.args[0], 'map', { by: 'map', method, ignoreCase: false }, where);
    }
  }

  private leaf(leaf: Leaf, where: Where): void {
    this.sample(leaf, where);
    if (leaf.method === 'found' || leaf.method === 'bool') return;
    for (const name of leaf.files ?? []) this.use(name, leaf.mapFiles ? 'map' : 'acl', { by: 'acl', method: leaf.method, ignoreCase: leaf.ignoreCase }, where);
  }

  /** Reads `name` on its first use; checks its entries against each new way it is matched. */
  private use(name: string, kind: PatternFile['kind'], use: PatternUse, where: Where): void {
    let file = this.files.get(name);
    if (file === null) return;
    if (file === undefined) {
      const got = this.read(name, where);
      if (!got) {
        this.files.set(name, null);
        return;
      }
      const lines = parsePatternText(got.text, kind);
      const source = this.diag.sourceRef(where);
      file = {
        id: this.files.size,
        name,
        path: got.path,
        kind,
        uses: [],
        entries: lines.map((l, i) => (l.value === undefined ? { id: i + 1, key: l.key } : { id: i + 1, key: l.key, value: l.value })),
        nextEntryId: lines.length + 1,
        usedAt: { file: source.file, line: source.line },
      };
      this.files.set(name, file);
      this.lineNumbers.set(name, lines.map((l) => l.line));
    } else if (file.kind !== kind) {
      this.diag.error(where, `${name} is used as a map and as an ACL pattern file (an ACL matches a map's keys with -M)`);
      return;
    }
    if (file.uses.some((u) => u.by === use.by && u.method === use.method && u.ignoreCase === use.ignoreCase)) return;
    file.uses.push(use);
    const bad = file.entries.map((e, i) => ({ i, error: patternError(use.method, e.key) })).filter((b) => b.error !== undefined);
    if (bad.length) {
      const line = this.lineNumbers.get(name)![bad[0].i];
      this.diag.error(where, `${name}:${line}: ${bad[0].error}${bad.length > 1 ? ` (and ${bad.length - 1} more line(s))` : ''}`);
    }
  }
}

