import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, approve, codexHeaders, makeApprover, postTurn, propose, simpleTurn, waitUntil } from './helpers/e2e-client.ts';

/**
 * Issue 4 ("governance") against a running gateway: allow-lists enforced before any upstream hop,
 * dry run, signed approvals hot-loaded, audit chain and request_audit after real traffic, and a
 * tampered stored version refused by the running process and at its next start.
 */

const PRICE = { input: 1.25, cached_input: 0.125, output: 10 };
const platformLead = makeApprover('platform-lead', ['platform']);
const researchLead = makeApprover('research-lead', ['research']);
const root = makeApprover('root', ['*']);

const KEYS = { platform: 'vk_gov_platform', research: 'vk_gov_research', researchCheap: 'vk_gov_research_cheap', sandbox: 'vk_gov_sandbox' };

function policy(): Record<string, unknown> {
  return {
    models: {
      'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: PRICE },
      'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
      'o3-pro': { provider: 'openai', upstream: 'o3-pro', price: PRICE },
      'claude-sonnet': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: PRICE },
    },
    cost_centers: {
      // claude-sonnet is on the model list but its provider is not: a direct request or a fallback there is refused.
      platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini', 'claude-sonnet'], allowed_providers: ['openai'], fallback: { 'gpt-5.5': ['claude-sonnet'], 'gpt-5.1-mini': ['o3-pro'] } },
      research: { allowed_models: ['gpt-5.5'] },
      sandbox: { allowed_models: ['gpt-5.1-mini'], dry_run: true },
    },
    rules: [{ id: 'research-cheap-to-mini', cost_centers: ['research'], when: { requested_models: ['gpt-5.5'], developer_tags: ['cheap'] }, route_to: 'gpt-5.1-mini' }],
    keys: [
      { key: KEYS.platform, developer: 'pat', cost_center: 'platform', identity: 'pat@example.com' },
      { key: KEYS.research, developer: 'rita', cost_center: 'research', identity: 'rita@example.com' },
      { key: KEYS.researchCheap, developer: 'ria', cost_center: 'research', tags: ['cheap'] },
      { key: KEYS.sandbox, developer: 'sam', cost_center: 'sandbox' },
    ],
    approvers: [platformLead.policyEntry(), researchLead.policyEntry(), root.policyEntry()],
  };
}

describe('governance end to end on a running gateway (issue 4)', () => {
  let openai: FakeResponsesUpstream;
  let anthropic: FakeUpstream;
  let gatehouse: TestGatehouse;
  let dataDir: string;

  const providers = () => ({ openai: { type: 'openai', base_url: openai.url, api_key: 'sk_test' }, anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_test' } });
  const spansOf = (requestId: string) =>
    waitForRows<Record<string, any>>(gatehouse, `SELECT * FROM gatehouse.spans WHERE request_id = '${requestId}'`, 1);
  const upstreamModels = () => openai.requests.map((request) => request.body.model);

  beforeAll(async () => {
    openai = await startFakeResponsesUpstream((body) => {
      if (JSON.stringify(body.input).includes('FAIL-PRIMARY')) return { output: [], fail: { status: 500, message: 'primary is down' } };
      return { output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 100, output_tokens: 10 } };
    });
    anthropic = await startFakeUpstream('anthropic');
    gatehouse = await startTestGatehouse({ providers: providers(), policy: policy() });
    dataDir = gatehouse.dataDir;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await openai?.close();
    await anthropic?.close();
    if (dataDir) rmSync(dirname(dataDir), { recursive: true, force: true });
  });

  it('refuses a model outside the allow-list with 403 before any upstream request, naming cost center, model and allowed models', async () => {
    const before = openai.requests.length;
    const answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'));
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatchObject({ code: 'model_not_allowed', type: expect.any(String), param: 'model', policy_version: 1 });
    expect(answer.body.error.request_id).toBe(answer.headers['x-gatehouse-request-id']);
    expect(answer.body.error.message).toContain('"o3-pro"');
    expect(answer.body.error.message).toContain('"platform"');
    expect(answer.body.error.message).toContain('gpt-5.5, gpt-5.1-mini, claude-sonnet');
    expect(openai.requests.length).toBe(before);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('denies in the caller\'s protocol: Anthropic-shaped on /v1/messages, OpenAI-shaped on /v1/chat/completions, same 403', async () => {
    const before = openai.requests.length;
    const messages = await postTurn(gatehouse.url, KEYS.platform, { model: 'o3-pro', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, {}, '/v1/messages');
    expect(messages.status).toBe(403);
    expect(messages.body).toMatchObject({ type: 'error', error: { type: expect.any(String), code: 'model_not_allowed' }, request_id: messages.headers['x-gatehouse-request-id'], policy_version: 1 });
    expect(messages.body.error.message).toContain('allowed for platform: gpt-5.5, gpt-5.1-mini, claude-sonnet');
    const chat = await postTurn(gatehouse.url, KEYS.platform, { model: 'o3-pro', messages: [{ role: 'user', content: 'hi' }] }, {}, '/v1/chat/completions');
    expect(chat.status).toBe(403);
    expect(chat.body.error).toMatchObject({ code: 'model_not_allowed', param: 'model', policy_version: 1 });
    expect(chat.headers['x-gatehouse-policy-version']).toBe('1');
    expect(openai.requests.length).toBe(before);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('refuses a model of a provider outside allowed_providers with 403 provider_not_allowed, no upstream request', async () => {
    const answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('claude-sonnet'));
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('provider_not_allowed');
    expect(answer.body.error.message).toContain('"anthropic"');
    expect(answer.body.error.message).toContain('"platform"');
    expect(answer.body.error.message).toContain('allowed providers: openai');
    expect(anthropic.requests).toHaveLength(0);
  });

  it('refuses a routing rule that routes into a disallowed model with 403 before any upstream request', async () => {
    const before = openai.requests.length;
    const answer = await postTurn(gatehouse.url, KEYS.researchCheap, simpleTurn('gpt-5.5'));
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('model_not_allowed');
    expect(answer.body.error.message).toContain('"gpt-5.1-mini"');
    expect(answer.body.error.message).toContain('"research"');
    expect(answer.body.error.message).toContain('allowed for research: gpt-5.5');
    expect(answer.body.error.message).toContain('rule "research-cheap-to-mini"');
    expect(openai.requests.length).toBe(before);
    // The same cost center without the rule's tag is served.
    const served = await postTurn(gatehouse.url, KEYS.research, simpleTurn('gpt-5.5'));
    expect(served.status).toBe(200);
    expect(upstreamModels().at(-1)).toBe('gpt-5.5');
  });

  it('never falls back into a disallowed provider: 403 provider_not_allowed, the fallback upstream sees nothing, one span per request', async () => {
    const before = openai.requests.length;
    const answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('gpt-5.5', { input: 'FAIL-PRIMARY please' }));
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('provider_not_allowed');
    expect(answer.body.error.message).toContain('"claude-sonnet"');
    expect(answer.body.error.message).toContain('"platform"');
    expect(openai.requests.length - before).toBeGreaterThanOrEqual(1); // the primary was tried
    expect(anthropic.requests).toHaveLength(0);
    const requestId = String(answer.headers['x-gatehouse-request-id']);
    const rows = await spansOf(requestId);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await waitForRows<Record<string, any>>(gatehouse, `SELECT status_code, error_code FROM gatehouse.spans WHERE request_id = '${requestId}'`, 1);
    expect(rows.length).toBe(1);
    expect(again).toEqual([{ status_code: 403, error_code: 'provider_not_allowed' }]);
  });

  it('never falls back into a disallowed model: 403 model_not_allowed, that model is never sent upstream', async () => {
    const answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('gpt-5.1-mini', { input: 'FAIL-PRIMARY now' }));
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('model_not_allowed');
    expect(answer.body.error.message).toContain('"o3-pro"');
    expect(answer.body.error.message).toContain('allowed for platform: gpt-5.5, gpt-5.1-mini, claude-sonnet');
    expect(upstreamModels().at(-1)).toBe('gpt-5.1-mini');
    expect(upstreamModels()).not.toContain('o3-pro');
    const rows = await waitForRows<Record<string, any>>(gatehouse, `SELECT status_code, error_code FROM gatehouse.spans WHERE request_id = '${String(answer.headers['x-gatehouse-request-id'])}'`, 1);
    expect(rows).toEqual([{ status_code: 403, error_code: 'model_not_allowed' }]);
  });

  it('cost-center dry run: logs "would deny" on the span and serves the request', async () => {
    const answer = await postTurn(gatehouse.url, KEYS.sandbox, simpleTurn('gpt-5.5'));
    expect(answer.status).toBe(200);
    expect(answer.headers['x-gatehouse-served-model']).toBe('gpt-5.5');
    expect(upstreamModels().at(-1)).toBe('gpt-5.5');
    const [row] = await spansOf(String(answer.headers['x-gatehouse-request-id']));
    expect(row?.dry_run_decision).toContain('would deny model_not_allowed');
    expect(row?.status_code).toBe(200);
  });

  it('records request.denied once per turn although the client retries it; Codex gets the denial as 400', async () => {
    const sessionId = 'gov-dedup-session';
    const answers = [];
    for (let attempt = 0; attempt < 4; attempt += 1) answers.push(await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'), codexHeaders(sessionId, 'turn-1')));
    await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'), codexHeaders(sessionId, 'turn-2'));
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.headers['x-gatehouse-denied-status']).toBe('403');
      expect(answer.body.error.code).toBe('model_not_allowed');
    }
    const spans = await waitForRows<{ n: number }>(gatehouse, `SELECT request_id FROM gatehouse.spans WHERE session_id = '${sessionId}'`, 5);
    expect(spans).toHaveLength(5); // every request is a span …
    const denied = await waitForRows<{ turn: string }>(
      gatehouse,
      `SELECT JSONExtractString(details, 'turn_id') AS turn FROM gatehouse.audit_log WHERE action = 'request.denied' AND JSONExtractString(details, 'session_id') = '${sessionId}' ORDER BY seq`,
      2,
    );
    expect(denied.map((row) => row.turn)).toEqual(['turn-1', 'turn-2']); // … but one audit event per turn
  });

  describe('propose → approve → hot-load', () => {
    let servedAfterChange = '';

    it('refuses an approver whose scopes do not cover the change; nothing changes', async () => {
      const proposal = await propose(gatehouse.url, { cost_centers: { platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini', 'claude-sonnet', 'o3-pro'] } } }, 'platform needs o3-pro for hard refactors');
      const refused = await approve(gatehouse.url, proposal, researchLead);
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('research-lead');
      const tampered = await admin(gatehouse.url, 'POST', `/admin/policy/proposals/${proposal.id}/approve`, { approver: platformLead.id, signature: root.sign(proposal.digest) });
      expect(tampered.status).toBe(403); // signed by someone else's key
      const still = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'));
      expect(still.status).toBe(403);
      expect(still.headers['x-gatehouse-policy-version']).toBe('1');

      // The in-scope approver signs the same digest: the running gateway serves under version 2 at once.
      const approved = await approve(gatehouse.url, proposal, platformLead);
      expect(approved.status).toBe(200);
      expect(approved.body.version).toBe(2);
      const started = Date.now();
      let answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'));
      while (answer.status !== 200 && Date.now() - started < 2_000) answer = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'));
      const millis = Date.now() - started;
      console.info(`[governance-e2e] first request served under version 2 ${millis} ms after the approval answered`);
      expect(answer.status).toBe(200);
      expect(millis).toBeLessThanOrEqual(2_000);
      expect(answer.headers['x-gatehouse-policy-version']).toBe('2');
      expect(answer.headers['x-gatehouse-served-model']).toBe('o3-pro');
      expect(upstreamModels().at(-1)).toBe('o3-pro');
      servedAfterChange = String(answer.headers['x-gatehouse-request-id']);
      const policyNow = await admin(gatehouse.url, 'GET', '/admin/policy');
      expect(policyNow.body).toMatchObject({ version: 2, approved_by: 'platform-lead' });
    });

    it('request_audit answers who asked, what was served, under which policy, approved by whom for that request (analyst SQL)', async () => {
      await waitForRows(gatehouse, `SELECT 1 FROM gatehouse.spans WHERE request_id = '${servedAfterChange}'`, 1);
      // The analyst asks over the admin API, as a reviewer would; later tests check spans still land after it.
      const answer = await admin(
        gatehouse.url,
        'POST',
        '/admin/sql',
        { query: `SELECT developer, identity, cost_center, requested_model, served_model, provider, policy_version, approved_by FROM gatehouse.request_audit WHERE request_id = '${servedAfterChange}'` },
        TEST_ANALYST_TOKEN,
      );
      expect(answer.status).toBe(200);
      expect(answer.body.rows).toEqual([{ developer: 'pat', identity: 'pat@example.com', cost_center: 'platform', requested_model: 'o3-pro', served_model: 'o3-pro', provider: 'openai', policy_version: 2, approved_by: 'platform-lead' }]);
    });

    it('a policy-level dry_run (approved by a * approver) logs "would deny" and passes', async () => {
      const narrow = await propose(gatehouse.url, { dry_run: true }, 'warm-up week: observe only');
      expect((await approve(gatehouse.url, narrow, platformLead)).status).toBe(403); // dry_run touches every cost center
      expect((await approve(gatehouse.url, narrow, root)).status).toBe(200);
      const answer = await postTurn(gatehouse.url, KEYS.research, simpleTurn('gpt-5.1-mini'));
      expect(answer.status).toBe(200);
      expect(answer.headers['x-gatehouse-policy-version']).toBe('3');
      expect(upstreamModels().at(-1)).toBe('gpt-5.1-mini');
      const [row] = await spansOf(String(answer.headers['x-gatehouse-request-id']));
      expect(row?.dry_run_decision).toContain('would deny model_not_allowed');
      // The rule into a disallowed model is only noted, too.
      const routed = await postTurn(gatehouse.url, KEYS.researchCheap, simpleTurn('gpt-5.5'));
      expect(routed.status).toBe(200);
      expect(upstreamModels().at(-1)).toBe('gpt-5.5');
      const [routedRow] = await spansOf(String(routed.headers['x-gatehouse-request-id']));
      expect(routedRow).toMatchObject({ rule_id: 'research-cheap-to-mini', rule_dry_run: true });
      expect(routedRow?.dry_run_decision).toContain('rule research-cheap-to-mini would route gpt-5.5 -> gpt-5.1-mini (would deny model_not_allowed)');
    });
  });

  it('the audit chain verifies over the admin API after real traffic with denials', async () => {
    await waitUntil('denials and approvals in the audit log', async () => {
      await gatehouse.governance.audit.flush();
      await gatehouse.writer.flush();
      const exported = await admin(gatehouse.url, 'GET', '/admin/audit');
      return exported.text.includes('"request.denied"') && exported.text.includes('"policy.approved"');
    });
    const exported = await admin(gatehouse.url, 'GET', '/admin/audit');
    const actions = exported.text.trim().split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
    expect(actions).toContain('policy.activated');
    expect(actions.filter((action) => action === 'request.denied').length).toBeGreaterThanOrEqual(5);
    const verified = await admin(gatehouse.url, 'GET', '/admin/audit/verify');
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ ok: true, firstBroken: null });
    expect(verified.body.rows).toBe(actions.length);
  });

  it('a stored version altered in place is refused by the running gateway (audited once) and again at the next start', async () => {
    await gatehouse.clickhouse.command({
      query: `ALTER TABLE gatehouse.policy_versions UPDATE document = replaceOne(document, '"allowed_models":["gpt-5.5"]', '"allowed_models":["gpt-5.5","gpt-5.1-mini"]') WHERE version = 3`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    await waitUntil('the running gateway to notice', async () => {
      const ready = await admin(gatehouse.url, 'GET', '/readyz');
      return JSON.stringify(ready.body).includes('does not match its hash');
    });
    const served = await postTurn(gatehouse.url, KEYS.research, simpleTurn('gpt-5.5'));
    expect(served.status).toBe(200);
    expect(served.headers['x-gatehouse-policy-version']).toBe('3'); // the verified copy in memory stays in force
    const policyView = await admin(gatehouse.url, 'GET', '/admin/policy');
    expect(policyView.body.refusal).toMatch(/version 3: document does not match its hash/);
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // a poll or two more
    const refusals = await waitForRows<{ details: string }>(gatehouse, `SELECT details FROM gatehouse.audit_log WHERE action = 'policy.refused'`, 1);
    expect(refusals).toHaveLength(1);

    // A restart loads the newest version that still verifies (2) and audits the refusal at load.
    await gatehouse.close();
    gatehouse = await startTestGatehouse({ providers: providers(), policy: policy(), dataDir });
    const afterRestart = await postTurn(gatehouse.url, KEYS.platform, simpleTurn('o3-pro'));
    expect(afterRestart.status).toBe(200);
    expect(afterRestart.headers['x-gatehouse-policy-version']).toBe('2');
    const researchDenied = await postTurn(gatehouse.url, KEYS.research, simpleTurn('gpt-5.1-mini'));
    expect(researchDenied.status).toBe(403); // version 3's dry run is not in force any more
    const ready = await admin(gatehouse.url, 'GET', '/readyz');
    expect(JSON.stringify(ready.body)).toContain('version 3: document does not match its hash');
    const refusedAgain = await waitForRows<{ details: string }>(gatehouse, `SELECT details FROM gatehouse.audit_log WHERE action = 'policy.refused' ORDER BY seq`, 2);
    expect(refusedAgain).toHaveLength(2);
    expect(JSON.parse(refusedAgain[1]!.details)).toMatchObject({ version: 3 });
    const verified = await admin(gatehouse.url, 'GET', '/admin/audit/verify');
    expect(verified.body.ok).toBe(true);
  });
});
