/**
 * deny: a request is answered with the rule's status (`PR` in the log); a response
 * is replaced by a 502 whatever the rule's status, as HAProxy does (`PH`).
 */
import type { HttpAction } from '../../config/model';
import type { RuleAction } from './index';

export function denyAction(a: Extract<HttpAction, { action: 'deny' }>, response: boolean): RuleAction {
  if (response) {
    return (ex) => {
      ex.fe.counters.deniedResp++;
      ex.backend!.counters.deniedResp++;
      return ex.answer(502, true, 'PH');
    };
  }
  const status = a.status;
  return (ex) => {
    ex.fe.counters.deniedReq++;
    if (ex.backend) ex.backend.counters.deniedReq++;
    return ex.answer(status, true, 'PR');
  };
}
