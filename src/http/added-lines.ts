/**
 * The header lines rules and modules add to a message (`Name: value\r\n` each, the
 * exchange's `reqExtras`/`resExtras`, src/http/exchange.ts) read and edited as
 * headers: later rules and fetches see them after the head's own kept headers, as
 * HAProxy's rules see earlier rules' edits. Only called when some line was added:
 * a message nobody edited costs nothing here. Rules with a header name and header
 * fetches ask the message's AddedNames filter first and walk the lines only when it
 * says that name may be there: the usual rule set (set-header X after add-header Y,
 * an ACL on Host) edits and reads without a walk, a substring or a flattened string.
 */

/** ASCII lower case of a char code (header names are ASCII tokens). */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

/** Two of 32 filter bits for a lower-case header name (FNV-1a of its chars). */
export function nameBits(lname: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < lname.length; i++) h = Math.imul(h ^ lname.charCodeAt(i), 0x01000193);
  return (1 << (h & 31)) | (1 << ((h >>> 5) & 31));
}

/** The filter bits of every line's name in `lines` (their names lower-cased as hashed). */
function namesMask(lines: string): number {
  let mask = 0;
  for (let s = 0; s < lines.length; s = nextLine(lines, s)) {
    let h = 0x811c9dc5;
    for (let i = s; i < lines.length; i++) {
      const c = lines.charCodeAt(i);
      if (c === 0x3a) break;
      h = Math.imul(h ^ lower(c), 0x01000193);
    }
    mask |= (1 << (h & 31)) | (1 << ((h >>> 5) & 31));
  }
  return mask;
}

/**
 * Which names one message's added lines may have: a 32-bit filter of their names, valid
 * for the lines it was computed on (`of`). Any writer may append to the lines (modules do
 * `ex.reqExtras += …`); the filter notices the lines are not the ones it describes and
 * computes itself again, so it never says "absent" wrongly. Rules that edit the lines
 * tell it (`edited`), so it stays valid through a rule set without a walk.
 */
export class AddedNames {
  private mask = 0;
  private of = '';

  /** False when `lines` certainly has no line whose name has these bits. */
  mayHave(lines: string, bits: number): boolean {
    if (lines !== this.of) {
      this.mask = namesMask(lines);
      this.of = lines;
    }
    return (this.mask & bits) === bits;
  }

  /** `after` is `before` with lines of names with `bits` added (0: lines only removed, their bits may stay). */
  edited(before: string, after: string, bits: number): void {
    if (before === '') this.mask = bits;
    else if (before === this.of) this.mask |= bits;
    else return;
    this.of = after;
  }
}

/** Whether the line starting at `s` has this lower-case name (the name, then `:`). */
function hasName(lines: string, s: number, lname: string): boolean {
  const n = lname.length;
  if (lines.charCodeAt(s + n) !== 0x3a) return false;
  for (let i = 0; i < n; i++) if (lower(lines.charCodeAt(s + i)) !== lname.charCodeAt(i)) return false;
  return true;
}

/** The start of the line after the one at `s` (`lines.length` after the last). */
function nextLine(lines: string, s: number): number {
  const lf = lines.indexOf('\n', s);
  return lf < 0 ? lines.length : lf + 1;
}

/** The start of the first added line at or after the line start `from` with this lower-case name, or -1. */
function findAdded(lines: string, lname: string, from: number): number {
  for (let s = from; s < lines.length; s = nextLine(lines, s)) if (hasName(lines, s, lname)) return s;
  return -1;
}

/** The value (trimmed) of the line at `s`, whose name has `nameLength` characters. */
function valueAt(lines: string, s: number, nameLength: number): string {
  const lf = lines.indexOf('\n', s);
  return lines.slice(s + nameLength + 1, lf < 0 ? lines.length : lf).trim();
}

/** The value of the last added line with this lower-case name, or undefined. */
export function lastAdded(lines: string, lname: string): string | undefined {
  let last = -1;
  for (let s = findAdded(lines, lname, 0); s >= 0; s = findAdded(lines, lname, nextLine(lines, s))) last = s;
  return last < 0 ? undefined : valueAt(lines, last, lname.length);
}

/** Appends to `out` the value of every added line with this lower-case name, in order. */
export function addedValues(lines: string, lname: string, out: string[]): void {
  for (let s = findAdded(lines, lname, 0); s >= 0; s = findAdded(lines, lname, nextLine(lines, s))) out.push(valueAt(lines, s, lname.length));
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
  let s = findAdded(lines, lname, 0);
  if (s < 0) return lines;
  let out = lines.slice(0, s);
  for (;;) {
    const after = nextLine(lines, s);
    s = findAdded(lines, lname, after);
    if (s < 0) return out + lines.slice(after);
    out += lines.slice(after, s);
  }
}
