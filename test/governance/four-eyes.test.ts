import { afterEach, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, makeApprover } from '../e2e/helpers/e2e-client.ts';

/**
 * Four-eyes rule: whoever proposed a policy change may not approve it as well. The proposer is who
 * authenticated the proposal (an admin token's name, or the approver id an OIDC sign-in maps to),
 * not the free-text `author` label, which anyone can set.
 */
const platformLead = makeApprover('platform-lead', ['platform']);
const securityLead = makeApprover('security-lead', ['*']);
const PLATFORM_LEAD_TOKEN = 'platform-lead-token-0123456789';

describe('four-eyes rule on approvals', () => {
  let gatehouse: TestGatehouse | undefined;
  afterEach(async () => {
    await gatehouse?.stop();
  });

  const start = (governance?: Record<string, unknown>) =>
    startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } },
      policy: testPolicy({ approvers: [platformLead.policyEntry(), securityLead.policyEntry()] }),
      extraConfig: {
        admin: {
          tokens: [
            { name: 'test-admin', role: 'admin', token: TEST_ADMIN_TOKEN },
            { name: 'test-analyst', role: 'analyst', token: TEST_ANALYST_TOKEN },
            { name: 'platform-lead', role: 'approver', token: PLATFORM_LEAD_TOKEN },
          ],
        },
        ...(governance ? { governance } : {}),
      },
    });

  const proposeAsPlatformLead = (url: string) =>
    admin(url, 'POST', '/admin/policy/proposals', { patch: { cost_centers: { platform: { budgets: { developer: { daily_usd: 25 } } } } }, justification: 'cap daily spend', author: 'someone else entirely' }, PLATFORM_LEAD_TOKEN);
  const approveAs = (url: string, proposal: { id: string; digest: string }, approver: typeof platformLead) =>
    admin(url, 'POST', `/admin/policy/proposals/${proposal.id}/approve`, { approver: approver.id, signature: approver.sign(proposal.digest) });

  it('refuses the proposer as approver, whatever author label the proposal carries, and takes another approver', async () => {
    gatehouse = await start();
    const proposed = await proposeAsPlatformLead(gatehouse.url);
    expect(proposed.status).toBe(201);
    expect(proposed.body).toMatchObject({ author: 'someone else entirely', proposed_by: 'platform-lead' });
    const proposal = proposed.body as { id: string; digest: string };

    const own = await approveAs(gatehouse.url, proposal, platformLead);
    expect(own.status).toBe(403);
    expect(own.body.error).toMatchObject({ code: 'forbidden' });
    expect(own.body.error?.message).toContain('platform-lead proposed');
    expect(own.body.error?.message).toContain('governance.require_distinct_approver');

    const other = await approveAs(gatehouse.url, proposal, securityLead);
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ version: 2 });
  });

  it('lets the proposer approve when governance.require_distinct_approver is false', async () => {
    gatehouse = await start({ require_distinct_approver: false });
    const proposal = (await proposeAsPlatformLead(gatehouse.url)).body as { id: string; digest: string };
    const own = await approveAs(gatehouse.url, proposal, platformLead);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ version: 2 });
  });
});
