/** Loading config files for the CLI's commands, reporting every issue the way `tslb -c` does. */
import { loadConfig, formatIssue } from '../config/load';
import type { Model } from '../config/model';
import { applyInitAddr } from '../primary/init-addr';

/** The model, or undefined after printing why the files are invalid. Warnings go to stderr either way. */
export function loadReported(files: string[]): Model | undefined {
  const result = loadConfig(files);
  for (const w of result.warnings) process.stderr.write(`[WARNING] ${formatIssue(w)}\n`);
  for (const e of result.errors) process.stderr.write(`[ALERT] ${formatIssue(e)}\n`);
  if (!result.model || result.errors.length) {
    process.stderr.write(`Configuration file has ${result.errors.length} error(s).\n`);
    return undefined;
  }
  return result.model;
}

/**
 * Servers named by a host name get their first address (init-addr), as HAProxy does while
 * parsing; false after printing why one has none.
 */
export async function initAddressesReported(model: Model): Promise<boolean> {
  const issues = await applyInitAddr(model);
  for (const i of issues) process.stderr.write(`${i.severity === 'warning' ? '[NOTICE]' : '[ALERT]'} ${formatIssue(i)}\n`);
  if (!issues.some((i) => i.severity === 'error')) return true;
  process.stderr.write('Failed to initialize server(s) addr.\n');
  return false;
}
