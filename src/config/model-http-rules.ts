/**
 * Model types of HTTP rules: http-request / http-response actions, the answers of `return`,
 * deny and error pages, and a compiled rule.
 */
import type { Condition, SourceRef } from './model';
import type { StickCounterAction } from './model-stick';

/**
 * A page tslb answers a status with: a raw HTTP/1 response as written in an errorfile
 * (an empty one closes without a response), or an http-error reply built like
 * `return`'s (status, content-type, body, hdr lines).
 */
export type ErrorPage = string | { status: number; answer: AnswerSpec };

/** What tslb answers with for `return` and a deny with a body (HAProxy's `content-type … string|lf-string|file|lf-file … hdr …`). */
export interface AnswerSpec {
  contentType?: string;
  string?: string;
  /** A log-format body. */
  lfString?: string;
  /** A file with the body, sent as it is; a full path once loaded. */
  file?: string;
  /** A file whose text is a log-format body (`lf-file`), evaluated per answer; a full path once loaded. */
  lfFile?: string;
  /** A raw HTTP response file sent as written (`errorfile F`), the connection closed after it. */
  errorfile?: string;
  /** `default-errorfiles`: the proxy's page for the status (errorfile, http-error, or the built-in one). */
  defaultErrorfiles?: true;
  /** `errorfiles NAME`: that http-errors section's page for the status, set in `page` by the loader (else the proxy's page). */
  errorfiles?: string;
  page?: ErrorPage;
  /** `hdr NAME VALUE` lines; values are log-format. */
  headers: { name: string; value: string }[];
}

type RedirectCode = 301 | 302 | 303 | 307 | 308;
/** A prefix or scheme redirect's URI: without its query (`drop-query`), then ending in `/` (`append-slash`). */
interface RedirectUri {
  dropQuery?: boolean;
  appendSlash?: boolean;
}

/**
 * An `http-request` / `http-response` action. Values named `value`, `replace`,
 * `location` are log-format (`%[fetch,conv]`), `expr` a sample expression.
 */
export type HttpAction =
  | ({ action: 'redirect-scheme'; scheme: string; code: RedirectCode } & RedirectUri)
  | { action: 'redirect-location'; location: string; code: RedirectCode }
  | ({ action: 'redirect-prefix'; prefix: string; code: RedirectCode } & RedirectUri)
  | { action: 'allow' }
  | { action: 'deny'; status: number; answer?: AnswerSpec }
  | { action: 'tarpit'; status: number }
  | { action: 'return'; status: number; answer: AnswerSpec }
  | { action: 'set-header'; name: string; value: string }
  | { action: 'add-header'; name: string; value: string }
  | { action: 'del-header'; name: string; match?: 'str' | 'beg' | 'end' | 'sub' | 'reg' }
  | { action: 'replace-header'; name: string; regex: string; replace: string }
  | { action: 'replace-value'; name: string; regex: string; replace: string }
  | { action: 'set-method'; value: string }
  | { action: 'set-path'; value: string }
  | { action: 'set-query'; value: string }
  | { action: 'set-uri'; value: string }
  | { action: 'replace-path'; regex: string; replace: string }
  | { action: 'set-var'; name: string; expr: string }
  | { action: 'unset-var'; name: string }
  /** `set-src EXPR`: the exchange's source address (ACLs, stick keys, logs, balance source, X-Forwarded-For) becomes the sample's when it is an IP. */
  | { action: 'set-src'; expr: string }
  | { action: 'set-status'; status: number; reason?: string }
  | { action: 'auth'; realm?: string }
  /** `capture SAMPLE len N`: the frontend's capture slot `slot` (in rule order), shown by %hr. */
  | { action: 'capture'; expr: string; len: number; slot: number }
  /** Stick counters: as the tcp-request ones. */
  | StickCounterAction
  | { action: 'normalize-uri'; mode: 'path-merge-slashes' | 'path-strip-dotdot' | 'percent-decode-unreserved'; full?: boolean; strict?: boolean }
  /** HAProxy's `http-request cache-use NAME`: answer from the cache `cache` (a `caches:` entry) when it holds the object. */
  | { action: 'cache-use'; cache: string }
  /** HAProxy's `http-response cache-store NAME`: store a cacheable response in the cache `cache`. */
  | { action: 'cache-store'; cache: string }
  /** HAProxy's `http-request wait-for-body time T [at-least N]`: the next rules run once the body is in (`time` ms, 0: no limit; `atLeast` bytes, 0: none). */
  | { action: 'wait-for-body'; time: number; atLeast: number };

export interface HttpRule {
  /** `after-response`: every response, tslb's own answers (errors, redirects, returns) too. */
  when: 'request' | 'response' | 'after-response';
  act: HttpAction;
  /** Absent means always. */
  condition?: Condition;
  text: string;
  source?: SourceRef;
}
