/** http-response set-status N [reason R]: the status line the client gets (reason: the status's own when not given). */
import { STATUS_CODES } from 'node:http';
import type { HttpAction } from '../../config/model';
import { CONTINUE } from '../pipeline';
import type { RuleAction } from './index';

export function setStatusAction(a: Extract<HttpAction, { action: 'set-status' }>): RuleAction {
  const status = a.status;
  const reason = a.reason ?? STATUS_CODES[status] ?? 'Unknown';
  return (ex) => {
    ex.res.setStatusLine(status, reason);
    return CONTINUE;
  };
}
