/** source: hash of the client address (after PROXY protocol), HAProxy's get_server_sh. */
import { noArguments } from './args';
import { addressHash } from './hash';
import { hashDefinition } from './hashing';

export const source = hashDefinition({
  name: 'source',
  checkArgs: noArguments('source'),
  hasher: () => (key) => addressHash(key.src),
  layer7: false,
});
