/**
 * Model types of ACL conditions: the parsed expression tree, its samples, and the pattern
 * files (and runtime-editable pattern lists) its matches read.
 */
/**
 * An ACL expression, parsed (src/rules/acl-parser.ts). `acl` leaves name a fetch
 * from the fetch registry (src/rules/fetches.ts); the compiler turns the tree into
 * one plain function per rule.
 */
export type Condition =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'not'; expr: Condition }
  | { kind: 'and'; terms: Condition[] }
  | { kind: 'or'; terms: Condition[] }
  | {
      kind: 'match';
      /** Fetch name as written, e.g. `hdr`, `path_beg`, `src`, `ssl_fc_sni`. */
      fetch: string;
      /** Fetch arguments, e.g. `['host']` for `hdr(host)`. */
      args: string[];
      /** Converters applied to the fetched sample, e.g. `[{name:'lower',args:[]}]`. */
      converters: { name: string; args: string[] }[];
      /** Match method: explicit `-m x` or implied by the fetch suffix (`path_beg` → `beg`). */
      method: MatchMethod;
      ignoreCase: boolean;
      patterns: string[];
      /** Pattern files (`-f FILE`), by name as written: Model.patternFiles holds their entries. */
      files?: string[];
      /** `-M`: the files are maps, and their keys are the patterns. */
      mapFiles?: boolean;
      /** The text this leaf was parsed from, for logs and errors. */
      text: string;
    };

/** A sample expression `fetch(args),converter(args),…` as parsed (src/rules/acl-parser.ts). */
export interface ParsedSample {
  fetch: string;
  args: string[];
  converters: { name: string; args: string[] }[];
}

/**
 * A pattern file (`acl … -f FILE`) or map file (`map(FILE)`), read by the config loader:
 * workers get its entries here and never read the file. The runtime API edits the
 * primary's copy and every worker's (src/rules/patterns.ts), so a respawned worker
 * starts with the edits; a reload reads the file again, as HAProxy does.
 */
export interface PatternFile {
  /** HAProxy's unique id (`show acl #<id>`), in order of first use. */
  id: number;
  /** The file name as written in the config: the name the runtime API takes. */
  name: string;
  /** The file read (resolved against the config file naming it). */
  path: string;
  /** `acl`: one pattern per line; `map`: `key value` per line. */
  kind: 'acl' | 'map';
  /** How the file is used (ACL matches, map converters), to check added entries and for `get acl|map`. */
  uses: PatternUse[];
  entries: PatternEntry[];
  /** Id of the next entry added (HAProxy prints an entry's address; tslb a stable id). */
  nextEntryId: number;
  /** Where it is first used, for `show acl|map`. */
  usedAt?: { file: string; line: number };
}

export interface PatternUse {
  /** `acl` (an ACL match, map files with -M) or `map` (a map converter). */
  by: 'acl' | 'map';
  method: MatchMethod;
  ignoreCase: boolean;
}

export interface PatternEntry {
  id: number;
  key: string;
  /** The map value; absent in pattern files. */
  value?: string;
}

export type MatchMethod =
  | 'found'
  | 'bool'
  | 'int'
  | 'ip'
  | 'str'
  | 'beg'
  | 'end'
  | 'sub'
  | 'dir'
  | 'dom'
  | 'reg'
  | 'len'
  /** The sample's bytes against a hex pattern (binary fetches: ssl_c_sha1, ssl_c_serial). */
  | 'bin';
