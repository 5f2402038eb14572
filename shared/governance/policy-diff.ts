import { canonicalJson } from '../signing/canonical-json.ts';
import type { PolicyDocument } from '../policy/policy-schema.ts';
import { isPlainObject } from './merge-patch.ts';

/** One change between two policy documents. */
export interface PolicyChange {
  op: 'add' | 'remove' | 'replace';
  /** Dotted path; array items with an `id` appear as `rules[id=r1]`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

/** The reviewable difference between two policies: JSON changes, readable text, affected scopes. */
export interface PolicyDiff {
  changes: PolicyChange[];
  /** One line per change, `+` add, `-` remove, `~` replace. */
  text: string;
  /** Cost centers the change touches; `*` when it touches the whole gateway (approvers, OIDC, global flags, unscoped rules or models). */
  cost_centers: string[];
}

type Segment = string;

/** Structural diff of two policy documents (parsed form, defaults applied). */
export function diffPolicies(before: PolicyDocument, after: PolicyDocument): PolicyDiff {
  const changes: PolicyChange[] = [];
  const raw: { op: PolicyChange['op']; path: Segment[]; before?: unknown; after?: unknown }[] = [];
  diffValue(plain(before), plain(after), [], raw);
  const touched = new Set<string>();
  for (const change of raw) {
    changes.push({ op: change.op, path: change.path.join('.').replaceAll('.[', '['), ...pick(change) });
    for (const center of touchedBy(change.path, change.before, change.after, before, after)) touched.add(center);
  }
  const text = changes.map((change) => renderChange(change)).join('\n');
  const costCenters = touched.has('*') ? ['*', ...[...touched].filter((c) => c !== '*').sort()] : [...touched].sort();
  return { changes, text, cost_centers: costCenters };
}

function pick(change: { op: string; before?: unknown; after?: unknown }): { before?: unknown; after?: unknown } {
  const result: { before?: unknown; after?: unknown } = {};
  if (change.op !== 'add') result.before = change.before;
  if (change.op !== 'remove') result.after = change.after;
  return result;
}

function plain(value: unknown): unknown {
  return JSON.parse(canonicalJson(value)) as unknown;
}

function isIdList(value: unknown): value is { id: string }[] {
  return Array.isArray(value) && value.every((item) => isPlainObject(item) && typeof item.id === 'string');
}

function diffValue(
  before: unknown,
  after: unknown,
  path: Segment[],
  out: { op: PolicyChange['op']; path: Segment[]; before?: unknown; after?: unknown }[],
): void {
  if (before === undefined && after === undefined) return;
  if (before === undefined) return void out.push({ op: 'add', path, after });
  if (after === undefined) return void out.push({ op: 'remove', path, before });
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) diffValue(before[key], after[key], [...path, key], out);
    return;
  }
  if (isIdList(before) && isIdList(after)) {
    const beforeById = new Map(before.map((item) => [item.id, item]));
    const afterById = new Map(after.map((item) => [item.id, item]));
    const ids = [...new Set([...beforeById.keys(), ...afterById.keys()])];
    for (const id of ids) diffValue(beforeById.get(id), afterById.get(id), [...path, `[id=${id}]`], out);
    const beforeOrder = before.map((item) => item.id).filter((id) => afterById.has(id));
    const afterOrder = after.map((item) => item.id).filter((id) => beforeById.has(id));
    // Rule order decides which rule matches first, so a pure reorder is a change too.
    if (beforeOrder.join('\u0000') !== afterOrder.join('\u0000')) out.push({ op: 'replace', path: [...path, '(order)'], before: beforeOrder, after: afterOrder });
    return;
  }
  if (canonicalJson(before) !== canonicalJson(after)) out.push({ op: 'replace', path, before, after });
}

function renderChange(change: PolicyChange): string {
  const show = (value: unknown) => {
    const text = canonicalJson(value);
    return text.length > 240 ? `${text.slice(0, 237)}...` : text;
  };
  if (change.op === 'add') return `+ ${change.path}: ${show(change.after)}`;
  if (change.op === 'remove') return `- ${change.path}: ${show(change.before)}`;
  return `~ ${change.path}: ${show(change.before)} -> ${show(change.after)}`;
}

/** Cost centers whose behaviour a change at `path` can alter. */
function touchedBy(path: Segment[], beforeValue: unknown, afterValue: unknown, before: PolicyDocument, after: PolicyDocument): string[] {
  const [top, second] = path;
  if (top === 'cost_centers') return second === undefined ? ['*'] : [second];
  if (top === 'models') {
    if (second === undefined) return ['*'];
    const users = new Set<string>();
    for (const document of [before, after]) {
      for (const [name, center] of Object.entries(document.cost_centers)) {
        const referenced =
          center.allowed_models.includes(second) ||
          Object.entries(center.downgrade).some(([from, to]) => from === second || to === second) ||
          Object.entries(center.fallback).some(([from, chain]) => from === second || chain.includes(second));
        if (referenced) users.add(name);
      }
    }
    return users.size > 0 ? [...users] : ['*'];
  }
  if (top === 'rules') {
    const ruleCenters = (value: unknown): string[] => {
      if (isPlainObject(value) && Array.isArray(value.cost_centers)) return value.cost_centers.length > 0 ? (value.cost_centers as string[]) : ['*'];
      return ['*'];
    };
    if (second === undefined || second === '(order)' || path.length === 1) {
      const all = new Set<string>();
      for (const rule of [...before.rules, ...after.rules]) for (const c of ruleCenters(rule)) all.add(c);
      return all.size > 0 ? [...all] : ['*'];
    }
    const id = second.slice('[id='.length, -1);
    const ruleBefore = before.rules.find((rule) => rule.id === id);
    const ruleAfter = after.rules.find((rule) => rule.id === id);
    return [...new Set([...(ruleBefore ? ruleCenters(ruleBefore) : []), ...(ruleAfter ? ruleCenters(ruleAfter) : [])])];
  }
  if (top === 'keys') {
    const centersOf = (value: unknown): string[] =>
      Array.isArray(value) ? value.flatMap((item) => (isPlainObject(item) && typeof item.cost_center === 'string' ? [item.cost_center] : [])) : [];
    const beforeKeys = new Map((Array.isArray(beforeValue) ? beforeValue : []).map((item) => [canonicalJson(item), item]));
    const afterKeys = new Map((Array.isArray(afterValue) ? afterValue : []).map((item) => [canonicalJson(item), item]));
    const changed = [...[...beforeKeys].filter(([text]) => !afterKeys.has(text)), ...[...afterKeys].filter(([text]) => !beforeKeys.has(text))].map(([, item]) => item);
    const centers = centersOf(changed);
    return centers.length > 0 ? centers : ['*'];
  }
  // approvers, oidc, alerts, dry_run and anything new: gateway-wide.
  return ['*'];
}

/**
 * Why `scopes` may not approve a diff touching `costCenters`, or null when it may.
 * `*` in the diff (approvers, gateway-wide settings) needs `*` in the scopes.
 */
export function scopeRefusal(scopes: string[], costCenters: string[]): string | null {
  if (scopes.includes('*')) return null;
  if (costCenters.includes('*')) return 'the change is gateway-wide (approvers, global settings, unscoped rules or models) and needs scope "*"';
  const missing = costCenters.filter((center) => !scopes.includes(center));
  return missing.length > 0 ? `the change touches cost center(s) ${missing.join(', ')} outside the approver's scopes (${scopes.join(', ')})` : null;
}
