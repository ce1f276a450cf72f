/**
 * Loads one or more config files (native format and/or the seed's `proxy:`
 * shape) into the Model, reporting every error and warning with its file,
 * line, column and key path.
 */
import { readFileSync } from 'node:fs';
import { ModelBuilder, type Locate } from './build';
import type { Model } from './model';
import type { NativeConfig } from './schema';
import { adaptSeed } from './seed';
import { Diagnostics, SourceFile, type ConfigIssue, type Seg } from './source';
import { validateFile } from './validate';

export type { ConfigIssue } from './source';

export interface LoadResult {
  model?: Model;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** A native config and where its keys come from (a file as written, or the seed adapter's output). */
export interface Fragment {
  config: NativeConfig;
  locate: Locate;
}

/** `lb.yaml:12:7: backends[2].servers[0].port: must be 1..65535` */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.severity === 'warning' ? 'warning: ' : ''}${i.path ? i.path + ': ' : ''}${i.message}`;
}

export function loadConfig(files: string[]): LoadResult {
  const diag = new Diagnostics();
  const fragments: Fragment[] = [];
  const extras: Record<string, unknown> = {};
  let sourcesOk = files.length > 0;
  if (files.length === 0) diag.errors.push({ file: '', line: 0, column: 0, path: '', message: 'no configuration file given', severity: 'error' });
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      diag.errors.push({ file, line: 0, column: 0, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, severity: 'error' });
      sourcesOk = false;
      continue;
    }
    const src = new SourceFile(file, text);
    if (src.doc.errors.length) {
      for (const e of src.doc.errors) {
        const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
        diag.errors.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}`, severity: 'error' });
      }
      sourcesOk = false;
      continue;
    }
    for (const w of src.doc.warnings) {
      const pos = w.linePos?.[0] ?? { line: 0, col: 0 };
      diag.warnings.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML: ${w.message.split('\n')[0]}`, severity: 'warning' });
    }
    const data: unknown = src.doc.toJS({ maxAliasCount: 1000 }) ?? {};
    if (!validateFile(data, src, diag)) {
      sourcesOk = false;
      continue;
    }
    const { proxy, ...native } = data;
    // The seed part first, so native keys in the same file can override it.
    if (proxy) {
      const seed = adaptSeed(proxy, src, diag);
      fragments.push(seed.fragment);
      Object.assign(extras, seed.extras);
    }
    // Pushed even when empty: messages about the whole config need a file to point at.
    fragments.push({ config: native, locate: (segs) => ({ src, segs }) });
  }
  if (!sourcesOk || diag.errors.length) return { errors: diag.errors, warnings: diag.warnings };
  const merged = mergeFragments(fragments);
  const model = new ModelBuilder(merged.config, merged.locate, diag).build(files, extras);
  if (diag.errors.length) return { errors: diag.errors, warnings: diag.warnings };
  return { model, errors: [], warnings: diag.warnings };
}

const LIST_KEYS = ['frontends', 'backends', 'resolvers', 'peers'] as const;

/**
 * Several files: frontends, backends, resolvers and peers lists are concatenated; maps are merged
 * key by key, later scalars (and lists inside maps) winning.
 */
function mergeFragments(fragments: Fragment[]): Fragment {
  const config: Record<string, unknown> = {};
  const origins: Record<string, { frag: Fragment; index: number }[]> = Object.fromEntries(LIST_KEYS.map((k) => [k, []]));
  for (const frag of fragments) {
    for (const [key, value] of Object.entries(frag.config)) {
      if ((LIST_KEYS as readonly string[]).includes(key)) {
        const list = (config[key] ??= []) as unknown[];
        (value as unknown[]).forEach((item, index) => {
          list.push(item);
          origins[key].push({ frag, index });
        });
      } else config[key] = deepMerge(config[key], value);
    }
  }
  const locate: Locate = (segs: Seg[]) => {
    const [top, index, ...rest] = segs;
    if (typeof top === 'string' && typeof index === 'number' && origins[top]?.[index]) {
      const o = origins[top][index];
      return o.frag.locate([top, o.index, ...rest]);
    }
    for (let i = fragments.length - 1; i >= 0; i--) if (hasPath(fragments[i].config, segs)) return fragments[i].locate(segs);
    const owner = [...fragments].reverse().find((f) => top !== undefined && hasPath(f.config, [top])) ?? fragments[0];
    return owner.locate(segs);
  };
  return { config: config as NativeConfig, locate };
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return b;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasPath(data: unknown, segs: Seg[]): boolean {
  let cur = data;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object' || !(String(s) in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[String(s)];
  }
  return true;
}
