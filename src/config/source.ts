/**
 * A config file as parsed YAML, with the means to turn a key path into a
 * line:column, and the collector of errors, warnings and pending features.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { PendingFeature, SourceRef } from './model';

export type Seg = string | number;

/** `backends[2].servers[0].port` */
export function formatPath(segs: readonly Seg[]): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

export class SourceFile {
  readonly lineCounter = new LineCounter();
  readonly doc: Document;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lineCounter, uniqueKeys: true, prettyErrors: false });
  }

  /** Line/column (1-based) of the node at `segs`, or of the deepest existing parent; the key itself when `key`. */
  position(segs: readonly Seg[], key = false): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      let next: unknown;
      let keyOffset: number | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (pair) {
          next = pair.value;
          keyOffset = (pair.key as Node | null)?.range?.[0];
        }
      } else if (isSeq(node) && typeof seg === 'number') next = node.items[seg];
      if (next === undefined && keyOffset === undefined) break;
      const isLast = i === segs.length - 1;
      if (isLast && key && keyOffset !== undefined) {
        offset = keyOffset;
        break;
      }
      const r = (next as Node | null)?.range;
      offset = r ? r[0] : (keyOffset ?? offset);
      node = next;
    }
    const p = this.lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  }
}

/** Where something is: a file and a key path in it. */
export interface Where {
  src: SourceFile;
  segs: Seg[];
  /** Point at the key rather than its value (unknown keys). */
  key?: boolean;
}

export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export class Diagnostics {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  readonly pending: PendingFeature[] = [];
  private readonly seen = new Set<string>();

  issue(w: Where, message: string, severity: 'error' | 'warning'): void {
    const pos = w.src.position(w.segs, w.key);
    const path = formatPath(w.segs);
    const id = `${severity}|${w.src.file}|${path}|${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    (severity === 'error' ? this.errors : this.warnings).push({ file: w.src.file, line: pos.line, column: pos.column, path, message, severity });
  }

  error(w: Where, message: string): void {
    this.issue(w, message, 'error');
  }

  warn(w: Where, message: string): void {
    this.issue(w, message, 'warning');
  }

  /** A field accepted and carried into the model whose feature a later issue implements. */
  /** `message` adds what the key path alone does not say (which keyword, which option); may be empty. */
  pendingFeature(w: Where, area: string, message: string, value: unknown): void {
    const path = formatPath(w.segs);
    this.pending.push({ area, path, message: message || path, value });
    this.warn(w, `${message ? message + ': ' : ''}${area}, not implemented yet`);
  }

  sourceRef(w: Where): SourceRef {
    const pos = w.src.position(w.segs);
    return { file: w.src.file, line: pos.line, column: pos.column, path: formatPath(w.segs) };
  }
}
