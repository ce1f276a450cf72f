/**
 * Schema of the HTTP rules of a frontend or backend (`http_request`, `http_response`,
 * `http_after_response`: one action each, HAProxy's http-request/http-response lines)
 * and of `use_backend`. Apart from the proxies' schemas because the action list is long
 * and grows with every L7 feature; src/config/http-actions.ts builds from it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Condition, Size, Time, lits, multi, obj, opt } from './schema-values';

export const RedirectCode = lits([301, 302, 303, 307, 308]);
const RedirectSchema = obj({
  scheme: opt(Type.String()),
  location: opt(Type.String()),
  prefix: opt(Type.String()),
  code: opt(RedirectCode),
  drop_query: opt(Type.Boolean()),
  append_slash: opt(Type.Boolean()),
});
const HeaderSchema = obj({ name: Type.String({ minLength: 1 }), value: Type.String({ description: 'log-format: text and %[fetch,converter] samples' }) });
const ReplaceHeaderSchema = obj({ name: Type.String({ minLength: 1 }), regex: Type.String(), replace: Type.String({ description: 'log-format, with \\1… for the groups' }) });
export const Status = Type.Integer({ minimum: 200, maximum: 599 });
const answerFields = {
  content_type: opt(Type.String()),
  string: opt(Type.String()),
  lf_string: opt(Type.String({ description: 'log-format body' })),
  file: opt(Type.String({ description: 'body file, sent as it is' })),
  lf_file: opt(Type.String({ description: 'a file whose text is a log-format body, evaluated per answer' })),
  errorfile: opt(Type.String({ description: 'a raw HTTP response file, sent as written (the connection closed after it)' })),
  default_errorfiles: opt(Type.Boolean({ description: 'the proxy’s page for the status' })),
  errorfiles: opt(Type.String({ description: 'an http_errors section: its page for the status' })),
  headers: opt(Type.Record(Type.String(), Type.String(), { description: 'header name: log-format value' })),
};
const AnswerSchema = obj({ status: opt(Status), ...answerFields });
const LogFormat = Type.String({ description: 'log-format: text and %[fetch,converter] samples' });
export const HttpRuleSchema = obj(
  {
    redirect: opt(RedirectSchema),
    allow: opt(Type.Literal(true)),
    deny: opt(AnswerSchema),
    return: opt(AnswerSchema),
    set_header: opt(HeaderSchema),
    add_header: opt(HeaderSchema),
    del_header: opt(
      multi<string | { name: string; match?: 'str' | 'beg' | 'end' | 'sub' | 'reg' }>(
        ['string', 'object'],
        { properties: { name: { type: 'string', minLength: 1 }, match: { enum: ['str', 'beg', 'end', 'sub', 'reg'] } }, required: ['name'], additionalProperties: false },
        'a header name, or { name, match: str|beg|end|sub|reg }',
      ),
    ),
    replace_header: opt(ReplaceHeaderSchema),
    replace_value: opt(ReplaceHeaderSchema),
    set_method: opt(LogFormat),
    set_path: opt(LogFormat),
    set_query: opt(LogFormat),
    set_uri: opt(LogFormat),
    replace_path: opt(obj({ regex: Type.String(), replace: Type.String() })),
    set_var: opt(obj({ name: Type.String({ description: 'txn.x, req.x, res.x or sess.x' }), expr: Type.String({ description: 'sample expression, e.g. req.hdr(host),lower' }) })),
    unset_var: opt(Type.String()),
    auth: opt(obj({ realm: opt(Type.String()) })),
    capture: opt(obj({ sample: Type.String({ description: 'sample expression, e.g. req.hdr(user-agent)' }), len: Type.Integer({ minimum: 1, maximum: 65535 }) }, 'logged in %hr of httplog')),
    tarpit: opt(obj({ status: opt(Status) }, 'hold the request for timeouts.tarpit, then answer (500 by default)')),
    set_status: opt(obj({ status: Type.Integer({ minimum: 100, maximum: 599 }), reason: opt(Type.String()) })),
    cache_use: opt(Type.String({ description: 'http_request: answer from this cache (a caches: name) when it holds the object' })),
    cache_store: opt(Type.String({ description: 'http_response: store a cacheable response in this cache (a caches: name)' })),
    wait_for_body: opt(obj({ time: Time, at_least: opt(Size) }, 'http_request: the next rules run once the body is in (complete, tune.bufsize full, or at_least bytes), 408 after time (HAProxy wait-for-body)')),
    if: opt(Condition),
    unless: opt(Condition),
  },
  'one action (redirect, allow, deny, return, set_header, add_header, del_header, replace_header, replace_value, set_method, set_path, set_query, set_uri, replace_path, set_var, unset_var, set_status, auth, tarpit, capture, cache_use, cache_store, wait_for_body) with an optional if/unless condition',
);

export const UseBackendSchema = obj({
  backend: Type.String({ minLength: 1, description: 'a backend name, or one built per request: "%[req.hdr(host),lower,map(hosts.map,www)]"' }),
  if: opt(Condition),
  unless: opt(Condition),
});

export type HttpRuleInput = Static<typeof HttpRuleSchema>;
export type AnswerInput = Static<typeof AnswerSchema>;
