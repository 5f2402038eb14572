import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { HashChainAuditLog } from '../../shared/audit/hash-chain-audit-log.ts';
import { PolicyStore } from '../../shared/policy-store/policy-store.ts';
import { GovernanceService } from '../../shared/governance/governance-service.ts';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import { spanRow } from '../helpers/span-row.ts';
import { toClickHouseTime } from '../../shared/clickhouse/clickhouse-time.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { basePolicy, newApprover, newWriter, openChdb, queryRows, systemKeyIn, type ChdbFixture } from './helpers/governance-fixture.ts';

const alice = newApprover('alice', ['platform']);
let fixture: ChdbFixture;
let writer: BatchWriter;
let store: PolicyStore;
let governance: GovernanceService;

function span(overrides: Partial<SpanRow>): SpanRow {
  return spanRow({
    ts: toClickHouseTime(new Date()),
    request_id: 'req_x',
    developer: 'dana',
    identity: 'dana@example.com',
    repo: 'acme/api',
    requested_model: 'gpt-5.1',
    served_model: 'gpt-5.1',
    input_tokens: 1000,
    cached_input_tokens: 0,
    output_tokens: 100,
    reasoning_tokens: 0,
    cost_usd: 0.01,
    ...overrides,
  });
}

beforeAll(async () => {
  fixture = await openChdb('request-audit');
  ({ writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool')));
  const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
  store = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey: systemKeyIn(fixture.dataDir), audit, bootstrapDocument: basePolicy([alice]), pollIntervalMillis: 60_000 });
  governance = new GovernanceService({ client: fixture.client, database: fixture.database, store, audit });
});

afterAll(async () => {
  await store?.close();
  await writer?.shutdown();
  await fixture?.cleanup();
});

describe('gatehouse.request_audit', () => {
  it('answers who asked, what was served, under which policy, approved by whom', async () => {
    const proposal = await governance.createProposal({ patch: { cost_centers: { platform: { allowed_models: ['gpt-5.1', 'gpt-5.1-mini'], downgrade: { 'gpt-5.1': 'gpt-5.1-mini' } } } }, justification: 'downgrade near budget', author: 'dana' });
    const { version } = await governance.approveProposal(proposal.id, { approver: 'alice', signature: alice.sign(proposal.digest) });
    expect(version).toBe(2);
    await fixture.client.insert({
      table: 'gatehouse.spans',
      format: 'JSONEachRow',
      values: [
        span({ request_id: 'req_before', policy_version: 1 }),
        span({ request_id: 'req_after', policy_version: 2, served_model: 'gpt-5.1-mini', downgraded_from: 'gpt-5.1', budget_stage: 'downgrade' }),
        span({ request_id: 'req_old', policy_version: 2, ts: toClickHouseTime(new Date(Date.now() - 91 * 86_400_000)) }),
      ],
    });
    const rows = await queryRows<Record<string, unknown>>(
      fixture.client,
      `SELECT request_id, requested_model, served_model, provider, cost_center, developer, identity, policy_version, approved_by
       FROM gatehouse.request_audit ORDER BY request_id`,
    );
    expect(rows).toEqual([
      { request_id: 'req_after', requested_model: 'gpt-5.1', served_model: 'gpt-5.1-mini', provider: 'openai', cost_center: 'platform', developer: 'dana', identity: 'dana@example.com', policy_version: 2, approved_by: 'alice' },
      { request_id: 'req_before', requested_model: 'gpt-5.1', served_model: 'gpt-5.1', provider: 'openai', cost_center: 'platform', developer: 'dana', identity: 'dana@example.com', policy_version: 1, approved_by: 'system' },
    ]);
  });
});
