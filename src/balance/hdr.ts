/**
 * hdr(NAME) [use_domain_only]: sdbm of request header NAME's value; requests
 * without it (or with it empty) go round robin. `use_domain_only` hashes only the
 * label before the last dot (`www.example.com` → `example`), for Host headers.
 */
import { sdbm } from './hash';
import { hashDefinition } from './hashing';

/** Hash of the label before the last dot of `value` (the whole value when no dot). */
export function domainHash(value: string): number {
  const last = value.lastIndexOf('.');
  if (last < 0) return sdbm(value, 0, value.length);
  const before = value.lastIndexOf('.', last - 1);
  return sdbm(value, before + 1, last);
}

export const hdr = hashDefinition({
  name: 'hdr',
  checkArgs: (args) => {
    if (args.length === 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(args[0]))
      return 'hdr needs a header name, as in hdr(host)';
    if (args.length > 2 || (args.length === 2 && args[1] !== 'use_domain_only'))
      return `hdr(${args[0]}) takes only the option use_domain_only (got "${args.slice(1).join(' ')}")`;
    return undefined;
  },
  hasher: (args) => {
    const name = args[0].toLowerCase();
    const domainOnly = args[1] === 'use_domain_only';
    return (key) => {
      const v = key.header(name);
      if (!v) return -1;
      return domainOnly ? domainHash(v) : sdbm(v, 0, v.length);
    };
  },
  layer7: true,
});
