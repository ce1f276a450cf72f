/**
 * `option tcp-check` with `tcp-check connect|send|send-binary|expect` steps, run
 * in order on one connection (a `connect` step opens a new one). Without a leading
 * `connect` an implicit one comes first, numbered step 0 as in HAProxy, so a
 * failing rule is reported "at step N of tcp-check".
 */
import type { TcpCheckStep } from '../config/model';
import { withSession } from './session';
import type { CheckKind, CheckResult } from './types';

type ExpectStep = Extract<TcpCheckStep, { step: 'expect' }>;

function describe(step: TcpCheckStep): string {
  switch (step.step) {
    case 'connect':
      return step.port ? ` (connect port ${step.port})` : ' (connect)';
    case 'send':
    case 'send-binary':
      return ' (send)';
    case 'expect':
      if (step.kind === 'string') return ` (expect string '${step.value}')`;
      if (step.kind === 'binary') return ` (expect binary '${step.value.toUpperCase()}')`;
      return ' (expect regex)';
  }
}

function matches(step: ExpectStep, data: Buffer): boolean {
  if (step.kind === 'string') return data.includes(Buffer.from(step.value, 'latin1'));
  if (step.kind === 'binary') return data.includes(Buffer.from(step.value, 'hex'));
  return new RegExp(step.value).test(data.toString('latin1'));
}

/** Enough data to decide: the pattern's length / min-recv reached, or a match. */
function decidable(step: ExpectStep, data: Buffer): boolean {
  if (step.minRecv !== undefined && step.minRecv > 0) return data.length >= step.minRecv;
  if (step.kind === 'string' && data.length < Buffer.byteLength(step.value, 'latin1')) return false;
  if (step.kind === 'binary' && data.length < step.value.length / 2) return false;
  return matches(step, data);
}

function mismatchInfo(step: ExpectStep, matched: boolean, id: number): string {
  const head = matched ? 'TCPCHK matched unwanted content' : 'TCPCHK did not match content';
  if (step.kind === 'string') return `${head} '${step.value}' at step ${id}`;
  if (step.kind === 'binary') return `${head} (binary) at step ${id}`;
  return `${head} (regex) at step ${id}`;
}

export const tcpCheckSequence: CheckKind = {
  name: 'tcp-check',
  run(ctx) {
    const given = ctx.spec.tcpSteps ?? [];
    const implicit = given[0]?.step !== 'connect';
    const steps: TcpCheckStep[] = implicit ? [{ step: 'connect' }, ...given] : given;
    return withSession(ctx, async (s): Promise<CheckResult> => {
      let last: TcpCheckStep | undefined;
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const id = implicit ? i : i + 1;
        s.where = id === 0 ? ' at initial connection step of tcp-check' : ` at step ${id} of tcp-check${describe(step)}`;
        last = step;
        switch (step.step) {
          case 'connect':
            await s.connect(step.port ?? ctx.target.port, step.ssl ?? ctx.target.tls);
            break;
          case 'send':
            s.clear();
            s.write(Buffer.from(step.data, 'latin1'));
            break;
          case 'send-binary':
            s.clear();
            s.write(Buffer.from(step.hex, 'hex'));
            break;
          case 'expect': {
            await s.read((data) => decidable(step, data));
            if (s.data.length === 0) return { status: 'L7RSP', desc: `TCPCHK got an empty response at step ${id}` };
            const matched = matches(step, s.data);
            if (matched === step.negate) return { status: 'L7RSP', desc: mismatchInfo(step, matched, id) };
          }
        }
      }
      if (last?.step === 'expect') return { status: 'L7OK', code: 0, desc: '' };
      if (last?.step === 'connect') return { status: s.tls ? 'L6OK' : 'L4OK', desc: implicit && steps.length === 1 ? '' : '(tcp-check)' };
      return { status: 'L7OK', code: 0, desc: '(tcp-check)' };
    });
  },
};
