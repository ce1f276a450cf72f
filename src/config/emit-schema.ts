/** Writes the config file's JSON Schema: `node dist/src/config/emit-schema.js config/tslb.schema.json`. */
import { writeFileSync } from 'node:fs';
import { ConfigFileSchema } from './schema';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: emit-schema <output.json>\n');
  process.exit(2);
}
const schema = { $schema: 'http://json-schema.org/draft-07/schema#', ...ConfigFileSchema };
writeFileSync(out, JSON.stringify(schema, null, 2) + '\n');
