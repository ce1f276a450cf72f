/**
 * The header lines rules and modules add to a message (`Name: value\r\n` each, the
 * exchange's `reqExtras`/`resExtras`, src/http/exchange.ts) read and edited as
 * headers: later rules and fetches see them after the head's own kept headers, as
 * HAProxy's rules see earlier rules' edits. Only called when some line was added:
 * a message nobody edited costs nothing here.
 */

/** Whether the line `lines[s..colon)` has this lower-case name. */
function named(lines: string, s: number, colon: number, lname: string): boolean {
  if (colon - s !== lname.length) return false;
  for (let i = 0; i < lname.length; i++) if ((lines.charCodeAt(s + i) | 0x20) !== lname.charCodeAt(i)) return false;
  return true;
}

/** The value of the last added line with this lower-case name, or undefined. */
export function lastAdded(lines: string, lname: string): string | undefined {
  let found: string | undefined;
  for (let s = 0; s < lines.length; ) {
    const eol = lines.indexOf('\r\n', s);
    const colon = lines.indexOf(':', s);
    if (named(lines, s, colon, lname)) found = lines.slice(colon + 1, eol).trim();
    s = eol + 2;
  }
  return found;
}

/** Appends to `out` the value of every added line with this lower-case name, in order. */
export function addedValues(lines: string, lname: string, out: string[]): void {
  for (let s = 0; s < lines.length; ) {
    const eol = lines.indexOf('\r\n', s);
    const colon = lines.indexOf(':', s);
    if (named(lines, s, colon, lname)) out.push(lines.slice(colon + 1, eol).trim());
    s = eol + 2;
  }
}

/** Whether some added line has this lower-case name (no string is made). */
function hasAdded(lines: string, lname: string): boolean {
  for (let s = 0; s < lines.length; ) {
    const colon = lines.indexOf(':', s);
    if (named(lines, s, colon, lname)) return true;
    s = lines.indexOf('\r\n', colon) + 2;
  }
  return false;
}

/**
 * `lines` with each line's value replaced by what `edit(name, value)` returns for it:
 * undefined keeps the line as it is, null removes it.
 */
export function editAdded(lines: string, edit: (name: string, value: string) => string | null | undefined): string {
  let out = '';
  for (let s = 0; s < lines.length; ) {
    const eol = lines.indexOf('\r\n', s);
    const colon = lines.indexOf(':', s);
    const name = lines.slice(s, colon);
    const v = edit(name, lines.slice(colon + 1, eol).trim());
    if (v === undefined) out += lines.slice(s, eol + 2);
    else if (v !== null) out += `${name}: ${v}\r\n`;
    s = eol + 2;
  }
  return out;
}

/** `lines` without those of this lower-case name (`lines` itself when it has none). */
export function withoutAdded(lines: string, lname: string): string {
  return hasAdded(lines, lname) ? editAdded(lines, (name) => (name.toLowerCase() === lname ? null : undefined)) : lines;
}
