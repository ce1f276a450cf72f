/** Every check kind by name: `HealthCheck.kind` values, plus `agent` for agent-check. */
import { agentCheck } from './agent';
import { externalCheck } from './external';
import { httpCheck } from './http';
import { ldapCheck } from './ldap';
import { mysqlCheck } from './mysql';
import { pgsqlCheck } from './pgsql';
import { redisCheck } from './redis';
import { smtpCheck } from './smtp';
import { sslHelloCheck } from './ssl-hello';
import { tcpCheck } from './tcp';
import { tcpCheckSequence } from './tcp-check';
import type { CheckKind } from './types';

export const checkKinds: ReadonlyMap<string, CheckKind> = new Map(
  [
    tcpCheck,
    httpCheck,
    tcpCheckSequence,
    mysqlCheck,
    pgsqlCheck,
    redisCheck,
    smtpCheck,
    sslHelloCheck,
    ldapCheck,
    agentCheck,
    externalCheck,
  ].map((k) => [k.name, k]),
);
