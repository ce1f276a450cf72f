/**
 * The rules of a proxy: its named ACLs, the if/unless conditions that use them (checked for
 * their stage and the stick tables they may read), and its http-request/-response rules
 * from YAML and from HAProxy lines.
 */
import type { Stage } from '../rules/context';
import { fetches } from '../rules/fetches';
import { parseCondition, parseCriterion, type RuleScope } from '../rules/acl-parser';
import type { Locate } from './build';
import type { ErrorPages } from './error-pages';
import { actionFromYaml, actionText, checkAction, parseActionWords, YAML_ACTIONS, type RuleSet } from './http-actions';
import type { Condition, HttpAction, HttpRule, Mode } from './model';
import type { OptionSet } from './option-lines';
import { stickReferenceError, trackError, type TableScope } from './protection';
import type { RuleRefs } from './rule-refs';
import type { FrontendInput } from './schema-frontend';
import type { HttpRuleInput } from './schema-http-rules';
import type { Diagnostics, Seg, Where } from './source';
import { didYouMean } from './suggest';

export class ProxyRules {
  /** Names of the `cache` sections, for cache-use / cache-store. */
  cacheNames = new Set<string>();
  /** The stick tables the conditions of the proxy being built may read (./protection.ts). */
  tableScope: TableScope = { tables: new Set(), own: undefined, checkDefault: false };
  /** The stick table of the backend being built: its http-request track-sc rules default to it, as HAProxy's. */
  backendTable: string | undefined;

  constructor(
    private readonly at: Locate,
    private readonly diag: Diagnostics,
    /** Pattern/map files and proxies the rules name. */
    private readonly refs: RuleRefs,
    private readonly errorPages: ErrorPages,
  ) {}

  /** Named ACLs, parsed in the widest stage of the frontend; each use re-checks its own stage. */
  acls(f: FrontendInput, base: Seg[], mode: Mode): Map<string, Condition> {
    const named = new Map<string, Condition>();
    const stage: Stage = mode === 'http' ? 'response' : 'connection';
    for (const [name, value] of Object.entries(f.acls ?? {})) {
      const texts = typeof value === 'string' ? [value] : value;
      const terms: Condition[] = [];
      texts.forEach((text, i) => {
        const r = parseCriterion(text, stage);
        const where = this.at(typeof value === 'string' ? [...base, 'acls', name] : [...base, 'acls', name, i]);
        if (r.error) this.diag.error(where, `acl ${name}: ${r.error}`);
        else {
          this.refs.condition(r.condition!, where);
          terms.push(r.condition!);
        }
      });
      if (terms.length) named.set(name, terms.length === 1 ? terms[0] : { kind: 'or', terms });
    }
    return named;
  }

  /** `if` / `unless` of a rule as a Condition; absent means always. */
  condition(
    r: { if?: string; unless?: string },
    stage: Stage,
    named: Map<string, Condition>,
    segs: Seg[],
    scope: RuleScope = {},
  ): { condition: Condition; text: string } | undefined {
    if (r.if !== undefined && r.unless !== undefined) {
      this.diag.error(this.at(segs), 'a rule takes "if" or "unless", not both');
      return undefined;
    }
    const key = r.if !== undefined ? 'if' : 'unless';
    const text = r.if ?? r.unless;
    if (text === undefined) return { condition: { kind: 'true' }, text: '' };
    const parsed = this.parseRuleCondition(text, stage, named, this.at([...segs, key]), scope);
    if (!parsed) return undefined;
    const condition: Condition = key === 'unless' ? { kind: 'not', expr: parsed } : parsed;
    return { condition, text: `${key} ${text}` };
  }

  /** An if/unless condition (not yet negated), checked for its stage and the stick tables it reads; errors at `where`. */
  parseRuleCondition(text: string, stage: Stage, named: Map<string, Condition>, where: Where, scope: RuleScope = {}): Condition | undefined {
    const parsed = parseCondition(text, stage, named, scope);
    if (parsed.error) {
      this.diag.error(where, parsed.error);
      return undefined;
    }
    this.refs.condition(parsed.condition!, where);
    const misplaced = misplacedFetch(parsed.condition!, stage);
    if (misplaced) {
      this.diag.error(where, `fetch "${misplaced}" (used by a named acl) is not available at the ${stage} stage`);
      return undefined;
    }
    const tableError = stickReferenceError(parsed.condition!, this.tableScope);
    if (tableError) {
      this.diag.error(where, tableError);
      return undefined;
    }
    return parsed.condition;
  }

  httpRules(
    list: HttpRuleInput[] | undefined,
    when: RuleSet,
    mode: Mode,
    named: Map<string, Condition>,
    segs: Seg[],
    lines: OptionSet['ruleLines'],
    scope: RuleScope = {},
  ): HttpRule[] {
    const own = lines.filter((l) => l.when === when);
    if (!list?.length && !own.length) return [];
    const stage: Stage = when === 'request' ? 'request' : 'response';
    let captureSlots = 0;
    if (mode !== 'http') {
      this.diag.error(this.at(list?.length ? segs : own[0].segs), `http-${when} rules need mode http`);
      return [];
    }
    const rules: HttpRule[] = [];
    const add = (action: HttpAction | string, r: { if?: string; unless?: string }, rs: Seg[], actionSegs: Seg[]): void => {
      if (typeof action === 'string') {
        this.diag.error(this.at(actionSegs), action);
        return;
      }
      // A native rule's mistake points at its field (set_header.value), a line's at the line.
      const native = actionSegs !== rs;
      for (const e of checkAction(action, stage)) this.diag.error(this.at(native && e.field ? [...actionSegs, e.field] : actionSegs), e.message);
      if ((action.action === 'deny' || action.action === 'return') && action.answer) {
        this.errorPages.resolveAnswerPage(action.status, action.answer, this.at(actionSegs), (field) => this.at(native ? [...actionSegs, field] : actionSegs));
      }
      if (action.action === 'capture') {
        if (segs[0] !== 'frontends') this.diag.error(this.at(actionSegs), 'capture (without id) goes in a frontend, whose log shows it');
        action.slot = captureSlots++;
      }
      if ((action.action === 'cache-use' || action.action === 'cache-store') && !this.cacheNames.has(action.cache)) {
        return this.diag.error(this.at(actionSegs), `${action.action}: no cache named "${action.cache}"${didYouMean(action.cache, this.cacheNames)}`);
      }
      if (action.action === 'track-sc') {
        // A backend's rule defaults to the backend's table; the frontends' pipelines count and end its counters (Frontend.backendsTrack).
        const scope = this.tableScope.checkDefault ? this.tableScope : { ...this.tableScope, own: this.backendTable };
        const err = trackError(action, stage, scope);
        if (err) return this.diag.error(this.at(actionSegs), err);
        action.table ||= scope.own!;
      }
      const cond = this.condition(r, stage, named, rs, scope);
      if (!cond) return;
      const text = `http-${when} ${actionText(action)}${cond.text ? ' ' + cond.text : ''}`;
      rules.push({ when, act: action, condition: r.if === undefined && r.unless === undefined ? undefined : cond.condition, text, source: this.diag.sourceRef(this.at(rs)) });
    };
    (list ?? []).forEach((r, i) => {
      const rs = [...segs, i];
      const kinds = YAML_ACTIONS.filter((k) => r[k] !== undefined);
      if (kinds.length !== 1) {
        this.diag.error(this.at(rs), kinds.length === 0 ? `a rule needs one action: ${YAML_ACTIONS.join(', ')}` : `a rule takes one action, found ${kinds.join(', ')}`);
        return;
      }
      add(actionFromYaml(r, kinds[0], when), r, rs, [...rs, kinds[0]]);
    });
    for (const l of own) {
      const condAt = l.words.findIndex((w) => w === 'if' || w === 'unless');
      const words = condAt >= 0 ? l.words.slice(0, condAt) : l.words;
      const cond = condAt >= 0 ? { [l.words[condAt]]: l.words.slice(condAt + 1).join(' ') } : {};
      add(parseActionWords(words, when), cond, l.segs, l.segs);
    }
    return rules;
  }
}

/** The first fetch in a condition not valid at `stage` (named acls are parsed in a wider stage). */
function misplacedFetch(c: Condition, stage: Stage): string | undefined {
  switch (c.kind) {
    case 'match':
      return fetches.get(c.fetch)?.stages.includes(stage) ? undefined : c.fetch;
    case 'not':
      return misplacedFetch(c.expr, stage);
    case 'and':
    case 'or':
      for (const t of c.terms) {
        const m = misplacedFetch(t, stage);
        if (m) return m;
      }
      return undefined;
    default:
      return undefined;
  }
}
