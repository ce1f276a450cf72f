/** Schema validation with ajv, turning every error into a positioned, readable issue. */
import Ajv, { type ErrorObject } from 'ajv';
import { ConfigFileSchema, type ConfigFile } from './schema';
import type { Diagnostics, Seg, SourceFile } from './source';
import { didYouMean } from './suggest';

const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
const check = ajv.compile<ConfigFile>(ConfigFileSchema);

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a map',
  array: 'a list',
  null: 'null',
};

/** JSON pointer → key path, using the data to tell list indexes from map keys. */
function pointerSegs(pointer: string, data: unknown): Seg[] {
  const segs: Seg[] = [];
  let cur = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      segs.push(Number(key));
      cur = cur[Number(key)];
    } else {
      segs.push(key);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return segs;
}

function describe(e: ErrorObject): string {
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  switch (e.keyword) {
    case 'type': {
      const types = Array.isArray(parent.type) ? (parent.type as string[]) : [String(parent.type)];
      const base = `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
      return parent.description && types.length > 1 ? `${base}: ${parent.description}` : base;
    }
    case 'minimum':
    case 'maximum': {
      const range =
        typeof parent.minimum === 'number' && typeof parent.maximum === 'number'
          ? `must be ${parent.minimum}..${parent.maximum}`
          : e.keyword === 'minimum'
            ? `must be >= ${parent.minimum}`
            : `must be <= ${parent.maximum}`;
      // The unit of a time or size, or the other form of a field that also takes a word.
      return parent.description ? `${range}: ${parent.description}` : range;
    }
    case 'enum':
      return `must be one of: ${(parent.enum as unknown[]).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(parent.const)}`;
    case 'pattern':
      return parent.description ? `must be ${parent.description}` : `must match ${parent.pattern}`;
    case 'minItems':
      return `must have at least ${parent.minItems} item${parent.minItems === 1 ? '' : 's'}`;
    case 'minLength':
      return 'must not be empty';
    default:
      return e.message ?? 'is invalid';
  }
}

/** Validates one file's data; reports every error; returns whether it is valid. */
export function validateFile(data: unknown, src: SourceFile, diag: Diagnostics): data is ConfigFile {
  if (check(data)) return true;
  const errors = check.errors ?? [];
  for (const e of errors) {
    const segs = pointerSegs(e.instancePath, data);
    if (e.keyword === 'additionalProperties') {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const parent = (e.parentSchema ?? {}) as { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> };
      const allowed = Object.keys(parent.properties ?? {});
      const msg = parent.patternProperties
        ? `key "${key}" must match ${Object.keys(parent.patternProperties).join(' or ')}`
        : `unknown key "${key}"${didYouMean(key, allowed)}`;
      diag.error({ src, segs: [...segs, key], key: true }, msg);
      continue;
    }
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      diag.error({ src, segs: [...segs, missing] }, 'is required');
      continue;
    }
    diag.error({ src, segs }, describe(e));
  }
  return false;
}
