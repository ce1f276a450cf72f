/**
 * Schema of the one-field HTTP features of a proxy: forwardfor, https_redirect, hsts,
 * compression and security_headers (built by src/config/build.ts, compression.ts and
 * http-features.ts). Apart from the frontend and backend schemas, which both use some.
 */
import { Type } from '@sinclair/typebox';
import { MAX_INT } from './limits';
import { Port, Size, lits, multi, obj, opt } from './schema-values';

export interface ForwardForInput {
  header?: string;
  if_none?: boolean;
  except?: string[];
}
export const ForwardForSchema = multi<boolean | ForwardForInput>(
  ['boolean', 'object'],
  {
    properties: { header: { type: 'string' }, if_none: { type: 'boolean' }, except: { type: 'array', items: { type: 'string' } } },
    additionalProperties: false,
  },
  'option forwardfor: true, or {header, if_none, except}',
);

export const HttpsRedirectSchema = multi<boolean | { code?: 301 | 302 | 303 | 307 | 308; port?: number }>(
  ['boolean', 'object'],
  { properties: { code: { enum: [301, 302, 303, 307, 308] }, port: Port }, additionalProperties: false },
  "redirect plain-HTTP requests to https: true, or {code (301), port (the frontend's first TLS bind's)}",
);
export const HstsSchema = obj(
  {
    max_age: Type.Integer({ minimum: 0, maximum: MAX_INT, description: 'seconds' }),
    include_subdomains: opt(Type.Boolean()),
    preload: opt(Type.Boolean()),
  },
  'Strict-Transport-Security on every response over TLS',
);

/** HTTP response compression (HAProxy `compression …` lines; src/config/compression.ts). */
export const CompressionSchema = obj(
  {
    algos: opt(Type.Array(lits(['gzip', 'deflate', 'raw-deflate', 'br', 'zstd']), { minItems: 1, description: 'content codings offered, in order of preference on equal q-values (HAProxy compression algo); zstd needs Node 22.15+' })),
    types: opt(Type.Array(Type.String({ pattern: '^\\S+$' }), { minItems: 1, description: 'Content-Type prefixes compressed, e.g. text/html (HAProxy compression type); absent: every type but multipart' })),
    min_size: opt(Size),
    level: opt(Type.Integer({ minimum: 1, maximum: 9, description: 'compression level 1..9 (HAProxy tune.comp.maxlevel, default 1)' })),
    offload: opt(Type.Boolean({ description: 'remove Accept-Encoding from requests to the server (HAProxy compression offload)' })),
  },
  'HTTP response compression: {algos, types, min_size, level, offload} (see config/README.md)',
);

export interface SecurityHeadersInput {
  preset: 'strict' | 'basic';
  x_content_type_options?: string | false;
  x_frame_options?: string | false;
  referrer_policy?: string | false;
  content_security_policy?: string | false;
  permissions_policy?: string | false;
  hsts?: boolean;
  remove?: string[];
}
const HeaderValueOrOff = { type: ['string', 'boolean'], not: { const: true } };
export const SecurityHeadersSchema = multi<'strict' | 'basic' | SecurityHeadersInput>(
  ['string', 'object'],
  {
    pattern: '^(strict|basic)$',
    properties: {
      preset: { enum: ['strict', 'basic'] },
      x_content_type_options: HeaderValueOrOff,
      x_frame_options: HeaderValueOrOff,
      referrer_policy: HeaderValueOrOff,
      content_security_policy: HeaderValueOrOff,
      permissions_policy: HeaderValueOrOff,
      hsts: { type: 'boolean' },
      remove: { type: 'array', items: { type: 'string' } },
    },
    required: ['preset'],
    additionalProperties: false,
  },
  'security headers preset: strict or basic, or {preset, a value (or false) per header, hsts: false, remove: [headers]} (see config/README.md)',
);
