/**
 * Schema of error pages: `errorfiles` and `http_error` of defaults and proxies, and the
 * named `http_errors` sections they may point to (src/config/error-pages.ts builds them).
 * Apart because defaults, frontends and backends all carry them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name, multi, obj, opt } from './schema-values';
import { Status } from './schema-http-rules';

export const ErrorFiles = Type.Record(Type.String({ pattern: '^[1-5][0-9][0-9]$' }), Type.String(), {
  description: 'status → path of a raw HTTP response file (HAProxy errorfile)',
});

export const ErrorReplySchema = obj(
  {
    status: opt(Status),
    content_type: opt(Type.String()),
    default_errorfiles: opt(Type.Boolean({ description: 'forget this proxy’s page for the status (the frontend’s or the built-in one then applies)' })),
    errorfile: opt(Type.String({ description: 'a raw HTTP response file' })),
    errorfiles: opt(Type.String({ description: 'an http_errors section: its page for the status (all of its pages when status is left out)' })),
    string: opt(Type.String()),
    lf_string: opt(Type.String({ description: 'log-format body' })),
    file: opt(Type.String({ description: 'body file' })),
    lf_file: opt(Type.String({ description: 'a file whose text is a log-format body, evaluated per answer' })),
    headers: opt(Type.Record(Type.String(), Type.String(), { description: 'header name: log-format value' })),
  },
  'HAProxy http-error: the page tslb answers a status with',
);
export const HttpErrorsSchema = obj(
  {
    name: Name,
    errorfiles: multi<Record<string, string> | string[]>(
      ['object', 'array'],
      { patternProperties: { '^[1-5][0-9][0-9]$': { type: 'string' } }, additionalProperties: false, items: { type: 'string' } },
      'status → raw HTTP response file, or HAProxy lines "errorfile <code> <file>"',
    ),
  },
  'HAProxy http-errors section',
);

export type HttpErrorsInput = Static<typeof HttpErrorsSchema>;
export type ErrorReplyInput = Static<typeof ErrorReplySchema>;
