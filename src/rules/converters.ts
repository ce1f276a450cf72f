/**
 * The converter keyword table (`hdr(host),lower`): each row transforms a fetched
 * sample before it is matched. The ACL parser validates names and arity against it.
 */
import type { Sample } from './fetches';

export interface ConverterDefinition {
  name: string;
  minArgs: number;
  maxArgs: number;
  convert(sample: Sample, args: string[]): Sample;
}

function mapStrings(sample: Sample, fn: (s: string) => string): Sample {
  if (sample === undefined) return undefined;
  if (Array.isArray(sample)) return sample.map(fn);
  return fn(String(sample));
}

const definitions: ConverterDefinition[] = [
  { name: 'lower', minArgs: 0, maxArgs: 0, convert: (s) => mapStrings(s, (v) => v.toLowerCase()) },
  { name: 'upper', minArgs: 0, maxArgs: 0, convert: (s) => mapStrings(s, (v) => v.toUpperCase()) },
  // Binary samples (ssl_c_sha1, ssl_c_serial) are latin1 strings, as the data path decodes bytes.
  { name: 'hex', minArgs: 0, maxArgs: 0, convert: (s) => mapStrings(s, (v) => Buffer.from(v, 'latin1').toString('hex').toUpperCase()) },
];

export const converters: ReadonlyMap<string, ConverterDefinition> = new Map(definitions.map((d) => [d.name, d]));
