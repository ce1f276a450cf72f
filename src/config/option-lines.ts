/**
 * A section's `options:` list sorted by what each line configures: `option …` flags and
 * checks, HAProxy keyword lines (checks, rules, protection, monitor, compression, error
 * pages, server templates, backend keywords), each kept with its place for later errors.
 */
import type { RuleSet } from './http-actions';
import { isCheckLine, parseCheckLine, type CheckLine } from './check-syntax';
import { parseOption, type OptionResult } from './option-syntax';
import { splitWords } from './haproxy-syntax';
import { PROTECTION_LINE, type ProtectionLine } from './protection';
import { MONITOR_LINE, type MonitorLine } from './http-features';
import { COMPRESSION_LINE, type CompressionLine } from './compression';
import { ERROR_PAGE_LINE, type ErrorPageLine } from './error-pages';
import type { Diagnostics, Seg, Where } from './source';

/** The lines of one section's options list (or the defaults', applied before each section's own). */
export interface OptionSet {
  texts: string[];
  parsed: { result: OptionResult; where: Where }[];
  /** Backend keyword lines given among the options (the seed's one `option` string can only carry them there). */
  backendLines: { text: string; where: Where }[];
  /** `http-check` / `tcp-check <step>` / `external-check` lines, applied to the section's health check. */
  checkLines: { line: CheckLine; where: Where }[];
  /** `stick-table`, `tcp-request`, `rate-limit` lines (./protection.ts). */
  protectionLines: ProtectionLine[];
  /** `server-template` lines (the words after the keyword). */
  templates: { text: string; where: Where }[];
  /** `http-request …` / `http-response …` lines, in the order written. */
  ruleLines: { when: RuleSet; words: string[]; segs: Seg[] }[];
  /** `monitor-uri` / `monitor fail` lines of a frontend (./http-features.ts). */
  monitorLines: MonitorLine[];
  /** `compression …` lines (./compression.ts). */
  compressionLines: CompressionLine[];
  /** `errorfile`, `errorfiles`, `errorloc…`, `http-error` lines, in the order written (./error-pages.ts). */
  errorLines: ErrorPageLine[];
}

/** HAProxy backend keywords (not `option`s) accepted in an options list. */
export const BACKEND_LINE = /^\s*(cookie|stick on|hash-type)\s/;

/** The lines of `list` (at `segs`: defaults, a frontend or a backend), each line misplaced for its section reported. */
export function optionLines(list: string[] | undefined, segs: Seg[], at: (segs: Seg[]) => Where, diag: Diagnostics): OptionSet {
  const set: OptionSet = { texts: [], parsed: [], backendLines: [], checkLines: [], protectionLines: [], templates: [], ruleLines: [], monitorLines: [], compressionLines: [], errorLines: [] };
  (list ?? []).forEach((written, i) => {
    const where = at([...segs, i]);
    // HAProxy lines may keep their `option` keyword.
    const text = written.replace(/^\s*option\s+/, '');
    if (isCheckLine(text)) {
      if (segs[0] === 'frontends') diag.error(where, `"${text.trim()}" is a check directive: put it in a backend`);
      const r = parseCheckLine(text);
      if (r.error !== undefined) diag.error(where, r.error);
      else set.checkLines.push({ line: r.value, where });
      return;
    }
    if (ERROR_PAGE_LINE.test(text)) {
      set.errorLines.push({ text: text.trim(), where, segs: [...segs, i] });
      return;
    }
    const rule = /^\s*http-(request|response|after-response)\s+(.*)$/.exec(text);
    if (rule) {
      if (segs[0] === 'defaults') diag.error(where, `http-${rule[1]} rules go in a frontend or backend`);
      else set.ruleLines.push({ when: rule[1] as RuleSet, words: splitWords(rule[2]), segs: [...segs, i] });
      return;
    }
    if (PROTECTION_LINE.test(text)) {
      const kw = PROTECTION_LINE.exec(text)![1];
      if (segs[0] === 'defaults') diag.error(where, `"${text.trim()}": put ${kw} lines in a frontend${kw === 'stick-table' ? ' or backend' : ''}`);
      else if (segs[0] === 'backends' && kw !== 'stick-table') diag.error(where, `"${text.trim()}" is a frontend keyword: put it in a frontend`);
      set.protectionLines.push({ text: text.trim(), where });
      return;
    }
    if (MONITOR_LINE.test(text)) {
      if (segs[0] !== 'frontends') diag.error(where, `"${text.trim()}" is a frontend keyword: put it in a frontend`);
      else set.monitorLines.push({ text: text.trim(), segs: [...segs, i] });
      return;
    }
    if (COMPRESSION_LINE.test(text)) {
      set.compressionLines.push({ text: text.trim(), where });
      return;
    }
    const template = /^\s*server-template\s+(.*)$/.exec(text);
    if (template) {
      if (segs[0] !== 'backends') diag.error(where, '"server-template" makes servers: put it in a backend');
      else set.templates.push({ text: template[1], where });
      return;
    }
    if (BACKEND_LINE.test(text)) {
      if (segs[0] !== 'backends') diag.error(where, `"${text.trim()}" is a backend keyword: put it in a backend`);
      set.backendLines.push({ text: text.trim(), where });
      return;
    }
    const result = parseOption(text);
    if (result.kind === 'error') diag.error(where, result.error);
    else if (result.kind === 'pending') diag.pendingFeature(where, result.area, `option ${result.name}`, text);
    set.texts.push(text);
    set.parsed.push({ result, where });
  });
  return set;
}
