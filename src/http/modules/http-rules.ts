/**
 * http-request and http-response rules of a frontend or backend: two modules, each
 * built only when its proxy has rules of its kind. A rule's condition is compiled
 * once (src/rules/compile.ts) and its action into a function (../actions); the rules
 * run in order and the first that answers (deny, redirect, return) ends the exchange;
 * `allow` ends the rule set only.
 */
import type { HttpRule } from '../../config/model';
import { buildHead } from '../../http1/rewrite';
import { compileCondition, type CompiledCondition } from '../../rules/compile';
import { compileAction, HOLD_RULES, STOP_RULES, type RuleAction } from '../actions';
import type { HttpExchange } from '../exchange';
import { CONTINUE, DONE, type HttpModule, type ModuleDefinition, type ModuleScope } from '../pipeline';

interface CompiledRule {
  test: CompiledCondition | undefined;
  run: RuleAction;
}

function compileRules(scope: ModuleScope, when: HttpRule['when']): CompiledRule[] {
  const out: CompiledRule[] = [];
  const stage = when === 'request' ? 'request' : 'response';
  for (const r of scope.config.httpRules) {
    if (r.when !== when) continue;
    out.push({ test: r.condition ? compileCondition(r.condition, stage) : undefined, run: compileAction(r.act, stage === 'response') });
  }
  return out;
}

function runRules(rules: readonly CompiledRule[], ex: HttpExchange, from = 0): number {
  const ctx = ex.ctx;
  for (let i = from; i < rules.length; i++) {
    const r = rules[i];
    if (r.test !== undefined && !r.test(ctx)) continue;
    const verdict = r.run(ex);
    if (verdict === CONTINUE) continue;
    if (verdict === STOP_RULES) return CONTINUE;
    // wait-for-body holds the request: the rules go on from the next one when it ends.
    if (verdict === HOLD_RULES) ex.ruleResume = i + 1;
    return DONE;
  }
  return CONTINUE;
}

class RequestRules implements HttpModule {
  constructor(private readonly rules: CompiledRule[]) {}
  request(ex: HttpExchange): number {
    const from = ex.ruleResume;
    ex.ruleResume = 0;
    return runRules(this.rules, ex, from);
  }
}

class ResponseRules implements HttpModule {
  constructor(private readonly rules: CompiledRule[]) {}
  upstreamResponse(ex: HttpExchange): number {
    return runRules(this.rules, ex);
  }
}

/**
 * http-after-response rules: on the server's response after every other response
 * function of the proxy, and on each answer tslb makes itself, whose head is parsed
 * into the exchange's response head for them and rebuilt when they are done.
 */
class AfterResponseRules implements HttpModule {
  constructor(private readonly rules: CompiledRule[]) {}
  response(ex: HttpExchange): number {
    runRules(this.rules, ex);
    return CONTINUE;
  }

  localResponse(ex: HttpExchange, msg: Buffer): Buffer {
    const res = ex.res;
    const headEnd = res.parse(msg, 0, msg.length);
    if (headEnd <= 0) return msg;
    ex.ctx.stage = 'response';
    const kept = ex.resExtras;
    ex.resExtras = '';
    runRules(this.rules, ex);
    // The parser set Connection aside as hop-by-hop: the answer keeps its own.
    const extras = ex.resExtras + (res.connClose ? 'Connection: close\r\n' : '');
    ex.resExtras = kept;
    return Buffer.concat([buildHead(res, extras), msg.subarray(headEnd)]);
  }
}

export const httpRequestRules: ModuleDefinition = {
  name: 'http-request',
  create(scope) {
    const rules = compileRules(scope, 'request');
    return rules.length ? new RequestRules(rules) : null;
  },
};

export const httpResponseRules: ModuleDefinition = {
  name: 'http-response',
  create(scope) {
    const rules = compileRules(scope, 'response');
    return rules.length ? new ResponseRules(rules) : null;
  },
};

export const httpAfterResponseRules: ModuleDefinition = {
  name: 'http-after-response',
  create(scope) {
    const rules = compileRules(scope, 'after-response');
    return rules.length ? new AfterResponseRules(rules) : null;
  },
};
