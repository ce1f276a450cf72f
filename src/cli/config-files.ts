/** Loading config files for the CLI's commands, reporting every issue the way `tslb -c` does. */
import { loadConfig, formatIssue } from '../config/load';
import type { Model } from '../config/model';

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
