/**
 * url_param NAME: sdbm of the value of query parameter NAME (first occurrence,
 * case-sensitive name); requests without it go round robin. HAProxy's
 * `check_post` (looking into the body) is refused: the body is not inspected.
 */
import { sdbm } from './hash';
import { hashDefinition } from './hashing';

/** Hash of parameter `name`'s value in `uri`'s query, or -1 when absent. */
export function urlParamHash(uri: string, name: string): number {
  const q = uri.indexOf('?');
  if (q < 0) return -1;
  let end = uri.indexOf('#', q);
  if (end < 0) end = uri.length;
  let p = q + 1;
  while (p < end) {
    let amp = uri.indexOf('&', p);
    if (amp < 0 || amp > end) amp = end;
    if (amp - p > name.length && uri.charCodeAt(p + name.length) === 61 /* = */ && uri.startsWith(name, p))
      return sdbm(uri, p + name.length + 1, amp);
    p = amp + 1;
  }
  return -1;
}

export const urlParam = hashDefinition({
  name: 'url_param',
  checkArgs: (args) => {
    if (args.length === 0 || args[0] === '') return 'url_param needs a parameter name';
    if (args.length > 1)
      return args[1] === 'check_post'
        ? 'url_param check_post is not supported (tslb does not hash the request body)'
        : `url_param takes one parameter name (got "${args.join(' ')}")`;
    return undefined;
  },
  hasher: (args) => {
    const name = args[0];
    return (key) => urlParamHash(key.uri, name);
  },
  layer7: true,
});
