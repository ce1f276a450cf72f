/**
 * auth [realm R]: a 401 asking for Basic credentials (HAProxy's 401 page with
 * `WWW-Authenticate: Basic realm="R"`; the realm defaults to the name of the proxy
 * whose rule it is). Usually `http-request auth realm R unless { http_auth(list) }`.
 */
import type { HttpAction } from '../../config/model';
import { defaultErrorResponse } from '../../http1/errors';
import type { RuleAction } from './index';

const PAGE = defaultErrorResponse(401).toString('latin1');
const STATUS_LINE_END = PAGE.indexOf('\r\n') + 2;

function challenge(realm: string, close: boolean): Buffer {
  const quoted = realm.replace(/["\\]/g, '\\$&');
  return Buffer.from(
    `${PAGE.slice(0, STATUS_LINE_END)}WWW-Authenticate: Basic realm="${quoted}"\r\n${close ? 'Connection: close\r\n' : ''}${PAGE.slice(STATUS_LINE_END)}`,
    'latin1',
  );
}

export function authAction(a: Extract<HttpAction, { action: 'auth' }>): RuleAction {
  if (a.realm === undefined) {
    return (ex) => {
      const close = ex.localCloses();
      return ex.answerWith(401, challenge(ex.backend ? ex.backend.name : ex.fe.name, close), close, 'PR');
    };
  }
  const forms = [challenge(a.realm, false), challenge(a.realm, true)];
  return (ex) => {
    const close = ex.localCloses();
    return ex.answerWith(401, forms[close ? 1 : 0], close, 'PR');
  };
}
