/**
 * A backend's health check: the `health_check` field (an option string or an object per
 * check type) and the `http-check` / `tcp-check` / `external-check` lines applied over it.
 */
import { parseCheckLine, parseHttpchkArgs } from './check-syntax';
import { parseOption } from './option-syntax';
import type { HealthCheck } from './model';
import type { OptionSet } from './option-lines';
import type { HealthCheckInput } from './schema-backend';
import type { Diagnostics, Seg, Where } from './source';

/** The `health_check` object fields each check type takes besides `type`. */
const CHECK_FIELDS: Record<HealthCheckInput['type'], (keyof HealthCheckInput)[]> = {
  tcp: [],
  http: ['method', 'uri', 'version', 'headers', 'body', 'expect_status', 'expect', 'connect'],
  'tcp-check': ['steps'],
  mysql: ['user', 'post_41'],
  pgsql: ['user'],
  redis: [],
  smtp: ['hello'],
  'ssl-hello': [],
  ldap: [],
  external: ['command', 'path'],
};

/** A backend's `health_check`: the check and the directive lines its object form implies (expect, steps, command). */
export function nativeHealthCheck(v: string | HealthCheckInput, segs: Seg[], at: (segs: Seg[]) => Where, diag: Diagnostics): { check: HealthCheck; lines: OptionSet['checkLines'] } | undefined {
  if (typeof v === 'string') {
    const r = parseOption(v);
    if (r.kind === 'check') return { check: r.check, lines: [] };
    diag.error(at(segs), r.kind === 'error' ? r.error : `"${v}" is not a health check option (httpchk, tcp-check, mysql-check …)`);
    return undefined;
  }
  for (const key of Object.keys(v) as (keyof HealthCheckInput)[]) {
    if (key !== 'type' && !CHECK_FIELDS[v.type].includes(key)) {
      diag.error(at([...segs, key]), `${key} does not apply to a ${v.type} check${CHECK_FIELDS[v.type].length ? ` (it takes ${CHECK_FIELDS[v.type].join(', ')})` : ''}`);
    }
  }
  const text = JSON.stringify(v);
  const lines: OptionSet['checkLines'] = [];
  const line = (written: string, lineSegs: Seg[]) => {
    const r = parseCheckLine(written);
    if (r.error !== undefined) diag.error(at(lineSegs), r.error);
    else lines.push({ line: r.value, where: at(lineSegs) });
  };
  switch (v.type) {
    case 'http': {
      const spec = parseHttpchkArgs([v.method ?? 'OPTIONS', v.uri ?? '/', v.version ?? 'HTTP/1.0']);
      if (spec.error !== undefined) {
        diag.error(at(segs), spec.error);
        return undefined;
      }
      const http = spec.value;
      for (const [name, value] of Object.entries(v.headers ?? {})) http.headers.push({ name, value });
      if (v.body !== undefined) http.body = v.body;
      if (v.expect_status !== undefined && v.expect !== undefined) diag.error(at([...segs, 'expect']), 'give expect or expect_status, not both');
      if (v.expect_status !== undefined) http.expect = { kind: 'status', negate: false, value: v.expect_status };
      if (v.connect !== undefined) line(`http-check connect ${v.connect}`, [...segs, 'connect']);
      if (v.expect !== undefined) line(`http-check expect ${v.expect}`, [...segs, 'expect']);
      return { check: { kind: 'http', http, text }, lines };
    }
    case 'tcp-check':
      (v.steps ?? []).forEach((step, i) => line(`tcp-check ${step}`, [...segs, 'steps', i]));
      return { check: { kind: 'tcp-check', tcpSteps: [], text }, lines };
    case 'smtp': {
      if (v.hello === undefined) return { check: { kind: 'smtp', text }, lines };
      const r = parseOption(`smtpchk ${v.hello}`);
      if (r.kind === 'check') return { check: { ...r.check, text }, lines };
      diag.error(at([...segs, 'hello']), r.kind === 'error' ? r.error.replace('option smtpchk', 'hello') : 'bad hello');
      return undefined;
    }
    case 'external':
      if (v.command !== undefined) lines.push({ line: { kind: 'external-command', command: v.command }, where: at([...segs, 'command']) });
      if (v.path !== undefined) lines.push({ line: { kind: 'external-path', path: v.path }, where: at([...segs, 'path']) });
      return { check: { kind: 'external', text }, lines };
  }
  if ((v.type === 'pgsql' || (v.type === 'mysql' && v.post_41)) && !v.user) {
    diag.error(at([...segs, 'user']), `${v.type} check needs a user`);
  }
  return { check: { kind: v.type, user: v.user, mysqlPost41: v.type === 'mysql' ? (v.post_41 ?? false) : undefined, text }, lines };
}

/** The check with its directive lines applied, as a copy (a defaults check is shared by every backend). */
export function applyCheckLines(base: HealthCheck, lines: OptionSet['checkLines'], checkWhere: Where, diag: Diagnostics): HealthCheck {
  const check: HealthCheck = structuredClone(base);
  let expectAt: Where | undefined;
  let sendOrExpect = false;
  for (const { line, where } of lines) {
    if (line.kind === 'http-send' || line.kind === 'http-expect' || line.kind === 'http-connect') {
      if (check.kind !== 'http' || !check.http) {
        diag.error(where, `http-check lines need option httpchk (this backend's check is ${check.kind})`);
        continue;
      }
      const http = check.http;
      if (line.kind === 'http-connect') {
        // tslb runs one HTTP exchange per check: one connect, which (as in HAProxy) starts the rule set.
        if (http.connect) diag.error(where, 'only one http-check connect per backend (tslb runs one HTTP exchange per check)');
        else if (sendOrExpect) diag.error(where, 'http-check connect must come before http-check send and expect (it starts the rule set, as in HAProxy)');
        http.connect = line.connect;
        continue;
      }
      sendOrExpect = true;
      if (line.kind === 'http-expect') {
        if (http.expect) {
          const first = expectAt ? ` (first at line ${expectAt.src.position(expectAt.segs).line})` : ' (expect_status)';
          diag.error(where, `only one http-check expect per backend${first}`);
        }
        http.expect = line.expect;
        expectAt = where;
        continue;
      }
      http.method = line.method ?? http.method;
      http.uri = line.uri ?? http.uri;
      http.version = line.version ?? http.version;
      http.headers.push(...line.headers);
      if (line.body !== undefined) http.body = line.body;
    } else if (line.kind === 'tcp-step') {
      if (check.kind !== 'tcp-check') diag.error(where, `tcp-check steps need option tcp-check (this backend's check is ${check.kind})`);
      else (check.tcpSteps ??= []).push(line.step);
    } else if (check.kind !== 'external') {
      diag.error(where, `external-check lines need option external-check (this backend's check is ${check.kind})`);
    } else if (line.kind === 'external-command') {
      check.external = { ...check.external, command: line.command };
    } else check.external = { command: check.external?.command ?? '', path: line.path };
  }
  if (check.kind === 'external' && !check.external?.command) {
    diag.error(checkWhere, 'option external-check needs an "external-check command <path>" line (or command: in health_check)');
  }
  return check;
}
