import { describe, expect, it } from 'vitest';
import { coolDown, guardRollbacks, rolledBackRecently, ROLLBACK_COOLDOWN_DAYS } from '../../optimizer/rollback-orchestration.ts';
import type { OptimizerProposal } from '../../optimizer/proposal.ts';
import type { PolicyVersionRow } from '../../shared/governance/policy-version-row.ts';
import type { RoutingRule } from '../../shared/policy/policy-schema.ts';

/**
 * The cool-down after an automatic rollback (rollback-orchestration.ts), on stored versions: the
 * change a system-signed rollback took out is not proposed again for 14 days; another change — a
 * different target, or the same route at a lowered effort — is.
 */
const rule: RoutingRule = { id: 'opt-platform-mini', cost_centers: ['platform'], when: { requested_models: ['gpt-5.5'] }, route_to: 'gpt-5.1-mini', dry_run: false, proposal_id: 'opt_1' };
const document = (rules: RoutingRule[]) => JSON.stringify({ models: {}, cost_centers: {}, rules });
const at = (millis: number) => new Date(millis).toISOString().replace('T', ' ').replace('Z', '');

function row(version: number, parent: number, rules: RoutingRule[], proposalId: string, createdMillis: number): PolicyVersionRow {
  return { version, hash: `h${version}`, parent_hash: parent === 0 ? '' : `h${parent}`, document: document(rules), signature: '', signed_by: 'system', approved_by: 'system', proposal_id: proposalId, justification: '', status: 'active', created_at: at(createdMillis), updated_at: at(createdMillis) };
}

const proposal = (proposed: RoutingRule) => ({ status: 'proposal', costCenter: 'platform', proposalId: 'opt_2', summary: 's', rule: proposed, diff: [], document: {}, math: { requestedModel: 'gpt-5.5', targetModel: proposed.route_to } }) as unknown as OptimizerProposal;

describe('cool-down after an automatic rollback', () => {
  const now = Date.now();
  const versions = [row(1, 0, [], 'bootstrap', now - 3 * 86_400_000), row(2, 1, [rule], 'prop_1', now - 2 * 86_400_000), row(3, 2, [], 'rollback_abc', now - 86_400_000)];

  it('finds the rule a rollback took out, and turns the same change back into no_improvement with the date it may return', () => {
    const rollbacks = guardRollbacks(versions, new Date(now - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ fromVersion: 2, rule: { id: rule.id } });
    const cooled = coolDown(proposal({ ...rule, id: 'opt-again', proposal_id: 'opt_2' }), rollbacks);
    expect(cooled).toMatchObject({ status: 'no_improvement', reason: 'rolled_back_recently' });
    expect(cooled.summary).toContain(`gpt-5.5 → gpt-5.1-mini was rolled back by the rollback guard`);
    expect(cooled.summary).toContain(`rule ${rule.id} of version 2`);
  });

  it('leaves other changes alone: another target, the same route at a lowered effort, a rollback older than the cool-down', () => {
    const rollbacks = guardRollbacks(versions, new Date(now - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    expect(coolDown(proposal({ ...rule, route_to: 'gpt-5.1-nano' }), rollbacks).status).toBe('proposal');
    expect(coolDown(proposal({ ...rule, reasoning_effort: 'medium' }), rollbacks).status).toBe('proposal');
    expect(rolledBackRecently({ ...rule, reasoning_effort: 'medium' }, rollbacks)).toBeUndefined();
    expect(guardRollbacks(versions, new Date(now))).toEqual([]);
    // An effort rule the guard rolled back is cooled down as itself.
    const effortRule = { ...rule, id: 'opt-effort', route_to: 'gpt-5.5', reasoning_effort: 'low' as const };
    const effortVersions = [row(1, 0, [], 'bootstrap', now - 3 * 86_400_000), row(2, 1, [effortRule], 'prop_1', now - 2 * 86_400_000), row(3, 2, [], 'rollback_def', now - 86_400_000)];
    const effortRollbacks = guardRollbacks(effortVersions, new Date(now - ROLLBACK_COOLDOWN_DAYS * 86_400_000));
    expect(rolledBackRecently({ ...effortRule, id: 'opt-effort-2' }, effortRollbacks)?.fromVersion).toBe(2);
    expect(rolledBackRecently({ ...effortRule, reasoning_effort: 'medium' }, effortRollbacks)).toBeUndefined();
  });
});
