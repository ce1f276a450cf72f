/**
 * uri [whole] [len N] [depth N] [path-only]: sdbm of the request URI's path (the
 * query is ignored unless `whole`), cut to its first N characters (`len`) and/or
 * its first N directories (`depth`). Absolute-form targets (`http://host/p?q`)
 * always hash like their path, so HTTP/1 proxies' requests and origin-form ones
 * agree; `path-only` is therefore accepted and is the behaviour.
 */
import { positiveInt } from './args';
import { sdbm } from './hash';
import { hashDefinition } from './hashing';

interface UriOptions {
  whole: boolean;
  /** Characters hashed at most (0 = all). */
  len: number;
  /** Directories hashed at most (0 = all). */
  depth: number;
}

function parseUriArgs(args: string[]): UriOptions | string {
  const o: UriOptions = { whole: false, len: 0, depth: 0 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === 'whole') o.whole = true;
    else if (a === 'path-only') continue;
    else if (a === 'len' || a === 'depth') {
      const n = positiveInt(args[i + 1]);
      if (n === undefined) return `uri ${a} needs a positive integer (got "${args[i + 1] ?? ''}")`;
      o[a] = n;
      i++;
    } else return `unknown uri option "${a}" (expected whole, len N, depth N, path-only)`;
  }
  return o;
}

/** The hash of `uri` under `o`, without allocating. */
export function uriHash(uri: string, o: UriOptions): number {
  let start = 0;
  let end = uri.length;
  if (uri.charCodeAt(0) !== 47 /* / */) {
    const scheme = uri.indexOf('://');
    if (scheme > 0) {
      // Skip the authority: the path starts at the first '/' or '?' after it.
      start = scheme + 3;
      while (start < end) {
        const c = uri.charCodeAt(start);
        if (c === 47 || c === 63) break;
        start++;
      }
    }
  }
  if (o.len > 0 && end - start > o.len) end = start + o.len;
  let slashes = 0;
  let i = start;
  for (; i < end; i++) {
    const c = uri.charCodeAt(i);
    if (c === 47 /* / */) {
      if (o.depth > 0 && ++slashes > o.depth) break;
    } else if (c === 63 /* ? */ && !o.whole) break;
  }
  return sdbm(uri, start, i);
}

export const uri = hashDefinition({
  name: 'uri',
  checkArgs: (args) => {
    const o = parseUriArgs(args);
    return typeof o === 'string' ? o : undefined;
  },
  hasher: (args) => {
    const o = parseUriArgs(args) as UriOptions;
    return (key) => uriHash(key.uri, o);
  },
  layer7: true,
});
