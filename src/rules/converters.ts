/**
 * The converter keyword table (`hdr(host),lower`, `map(hosts.map,www)`): each row
 * compiles its arguments once into a function that transforms a fetched sample. The
 * ACL parser validates names and arity against it.
 */
import type { Sample } from './fetches';
import { liveLookup } from './matchers';
import type { PatternMethod, Scalar } from './pattern-index';
import { patternRef } from './patterns';

export type Convert = (sample: Sample) => Sample;

export interface ConverterDefinition {
  name: string;
  minArgs: number;
  maxArgs: number;
  /** Map converters: the first argument names a map file, matched with this method. */
  mapMethod?: PatternMethod;
  compile(args: string[]): Convert;
}

function mapStrings(sample: Sample, fn: (s: string) => string): Sample {
  if (sample === undefined) return undefined;
  if (Array.isArray(sample)) return sample.map(fn);
  return fn(String(sample));
}

const lower: Convert = (s) => mapStrings(s, (v) => v.toLowerCase());
const upper: Convert = (s) => mapStrings(s, (v) => v.toUpperCase());
const hex: Convert = (s) => mapStrings(s, (v) => Buffer.from(v, 'latin1').toString('hex').toUpperCase());

/**
 * `map_<method>(file[,default])`: the value of the entry the sample matches (HAProxy's
 * choice: exact key, longest prefix or network, else the first in file order), else
 * the default, else no sample. A missing sample stays missing (the default is not used),
 * as in HAProxy. Each value of a multi-valued sample is mapped (ACLs iterate them).
 */
function compileMap(method: PatternMethod, args: string[]): Convert {
  const ref = patternRef(args[0]);
  const fallback = args[1];
  // The config check reads every map file into the model: only a hand-built model lacks one.
  if (!ref) return (s) => (s === undefined ? undefined : fallback);
  const current = liveLookup(method, false, [ref]);
  const one = (v: Scalar): string | undefined => {
    const i = current()(v);
    return i >= 0 ? ref.file.entries[i].value : fallback;
  };
  return (s) => {
    if (s === undefined) return undefined;
    if (!Array.isArray(s)) return one(s);
    const out: string[] = [];
    for (let i = 0; i < s.length; i++) {
      const v = one(s[i]);
      if (v !== undefined) out.push(v);
    }
    return out;
  };
}

/** HAProxy's map converters with string output: `map` is `map_str`. */
const MAPS: [string, PatternMethod][] = [
  ['map', 'str'],
  ['map_str', 'str'],
  ['map_beg', 'beg'],
  ['map_end', 'end'],
  ['map_sub', 'sub'],
  ['map_dir', 'dir'],
  ['map_dom', 'dom'],
  ['map_reg', 'reg'],
  ['map_int', 'int'],
  ['map_ip', 'ip'],
];

const definitions: ConverterDefinition[] = [
  { name: 'lower', minArgs: 0, maxArgs: 0, compile: () => lower },
  { name: 'upper', minArgs: 0, maxArgs: 0, compile: () => upper },
  // Binary samples (ssl_c_sha1, ssl_c_serial) are latin1 strings, as the data path decodes bytes.
  { name: 'hex', minArgs: 0, maxArgs: 0, compile: () => hex },
  ...MAPS.map(([name, method]): ConverterDefinition => ({ name, minArgs: 1, maxArgs: 2, mapMethod: method, compile: (args) => compileMap(method, args) })),
];

export const converters: ReadonlyMap<string, ConverterDefinition> = new Map(definitions.map((d) => [d.name, d]));

