import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { codexHeaders, postTurn } from '../e2e/helpers/e2e-client.ts';
import { HistoryScanCache, scanConversation } from '../../gateway/guardrails/history-scan.ts';
import { MAX_JSON_DEPTH, readJsonBody } from '../../gateway/inbound/read-json-body.ts';

/**
 * Issue 19 (guardrails): secrets in Codex-shaped tool outputs are redacted before the hop (the fake
 * upstream's received body is checked), blocked on a cross-provider fallback, recorded in the audit log
 * by rule and count without values, and each history item is scanned once per session.
 */
const alnum = (n: number, seed: string) => Array.from({ length: n }, (_, i) => seed[(i * 7 + 3) % seed.length]).join('');
const seed = randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, '') + 'aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zA';
const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

/** Real-looking credentials of 14 kinds, as `cat .env`, `env`, `kubectl get secret` or a repo would show them. */
const SECRETS: Record<string, { secret: string; line: (secret: string) => string; rule: string }> = {
  aws: { secret: `k9Jx2mQ7vR4tY8wZ1aB5cD3eF6gH0iJ2kL4m${alnum(4, seed)}`, line: (s) => `AWS_SECRET_ACCESS_KEY=${s}`, rule: 'aws-secret-access-key' },
  github: { secret: `ghp_${alnum(36, seed)}`, line: (s) => `GITHUB_TOKEN=${s}`, rule: 'github-token' },
  slack: { secret: `xoxb-1234567890123-1234567890123-${alnum(24, seed)}`, line: (s) => `SLACK_BOT_TOKEN=${s}`, rule: 'slack-token' },
  privateKey: { secret: pem.split('\n')[3]!, line: () => pem, rule: 'private-key' },
  openai: { secret: `sk-proj-${alnum(74, seed)}T3BlbkFJ${alnum(74, seed)}`, line: (s) => `OPENAI_API_KEY=${s}`, rule: 'openai-token' },
  anthropic: { secret: `sk-ant-api03-${alnum(93, seed)}AA`, line: (s) => `ANTHROPIC_API_KEY=${s}`, rule: 'anthropic-api-key' },
  npm: { secret: `npm_${alnum(36, seed)}`, line: (s) => `//registry.npmjs.org/:_authToken=${s}`, rule: 'npm-access-token' },
  gitlab: { secret: `glpat-${alnum(20, seed)}`, line: (s) => `GITLAB_TOKEN=${s}`, rule: 'gitlab-personal-access-token' },
  sendgrid: { secret: `SG.${alnum(22, seed)}.${alnum(43, seed)}`, line: (s) => `SENDGRID_API_KEY=${s}`, rule: 'sendgrid-key' },
  postgres: { secret: 'Sup3rS3cretPw', line: (s) => `DATABASE_URL=postgres://app:${s}@db.internal:5432/app`, rule: 'postgre-sql-connection' },
  basicAuth: { secret: 'Zx9Lq2Wp7', line: (s) => `curl -fsSL https://deploy:${s}@artifacts.internal.example.com/pkg.tgz`, rule: 'basic-auth' },
  shopify: { secret: `shpat_${randomBytes(16).toString('hex')}`, line: (s) => `SHOPIFY_TOKEN=${s}`, rule: 'shopify-key' },
  linear: { secret: `lin_api_${alnum(40, seed)}`, line: (s) => `LINEAR_API_KEY=${s}`, rule: 'linear-api-token' },
  internal: { secret: `acme_tok_${alnum(24, seed)}`, line: (s) => `ACME_TOKEN=${s}`, rule: 'acme-internal-token' },
};

const fixture = JSON.parse(readFileSync(new URL('../fixtures/inbound/codex-cli/responses-request-turn2.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> };
const toolOutput = (text: string) => `Chunk ID: 5e1a\nWall time: 0.2000 seconds\nProcess exited with code 0\nOriginal token count: 40\nOutput:\n${text}\n`;

/** A Codex turn whose history ends with `cat`s of files holding the given secrets (one tool call each). */
function codexTurn(model: string, kinds: string[]): Record<string, unknown> {
  const input = [...(fixture.body.input as unknown[])];
  kinds.forEach((kind, index) => {
    input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: `cat config/${kind}.env` }), call_id: `call_${kind}_${index}` });
    input.push({ type: 'function_call_output', call_id: `call_${kind}_${index}`, output: toolOutput(`# ${kind}\n${SECRETS[kind]!.line(SECRETS[kind]!.secret)}\nLOG_LEVEL=info`) });
  });
  return { ...fixture.body, model, input, stream: false };
}

const ALL = Object.keys(SECRETS);
const PATTERNS = [{ id: 'acme-internal-token', regex: 'acme_tok_[A-Za-z0-9]{24}' }];

describe('secret guardrail before every upstream hop', () => {
  let primary: FakeResponsesUpstream;
  let backup: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let folder: string;
  let primaryFails = false;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-guardrail-'));
    const answer = () => ({ output: [{ type: 'message' as const, text: 'done' }], usage: { input_tokens: 100, output_tokens: 5 } });
    primary = await startFakeResponsesUpstream(() => (primaryFails ? { output: [], fail: { status: 500, message: 'primary down' } } : answer()));
    backup = await startFakeResponsesUpstream(answer);
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: primary.url, api_key: 'sk_test' }, other: { type: 'openai', base_url: backup.url, api_key: 'sk_other' } },
      policy: {
        models: {
          'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 1 } },
          'other-model': { provider: 'other', upstream: 'other-model', price: { input: 1, output: 1 } },
        },
        cost_centers: {
          redacting: { allowed_models: ['gpt-5.5'], guardrails: { secrets: 'redact', patterns: PATTERNS } },
          blocking: { allowed_models: ['gpt-5.5'], guardrails: { secrets: 'block' } },
          crossing: { allowed_models: ['gpt-5.5', 'other-model'], fallback: { 'gpt-5.5': ['other-model'] }, guardrails: { secrets: 'redact', cross_provider: 'block', patterns: PATTERNS } },
          open: { allowed_models: ['gpt-5.5'] },
        },
        keys: [
          { key: 'vk_guard_redact', developer: 'rita', cost_center: 'redacting' },
          { key: 'vk_guard_block', developer: 'bob', cost_center: 'blocking' },
          { key: 'vk_guard_cross', developer: 'cris', cost_center: 'crossing' },
          { key: 'vk_guard_open', developer: 'olga', cost_center: 'open' },
        ],
      },
      dataDir: join(folder, 'data'),
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await primary?.close();
    await backup?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const spanOf = async (requestId: unknown) =>
    (await waitForRows<{ guardrail_findings: number; status_code: number; error_code: string }>(gatehouse, `SELECT guardrail_findings, status_code, error_code FROM gatehouse.spans WHERE request_id = '${String(requestId)}'`, 1))[0]!;
  const auditOf = async (action: string, minimum: number) =>
    waitForRows<{ action: string; details: string; cost_center: string }>(gatehouse, `SELECT action, details, cost_center FROM gatehouse.audit_log WHERE action = '${action}' ORDER BY seq`, minimum);

  it('redacts 14 kinds of secrets in tool outputs before the hop: the upstream sees stable placeholders, never a value', async () => {
    const answer = await postTurn(gatehouse.url, 'vk_guard_redact', codexTurn('gpt-5.5', ALL), codexHeaders('guard-redact', 'turn-1'));
    expect(answer.status).toBe(200);
    const sent = primary.requests.at(-1)!.rawBody.toString('utf8');
    for (const kind of ALL) {
      expect(sent, kind).not.toContain(SECRETS[kind]!.secret);
      expect(sent, kind).toContain(`«secret:${SECRETS[kind]!.rule}:`);
    }
    // What is not a secret still arrives: the commands, the other lines, the Codex instructions.
    expect(sent).toContain('LOG_LEVEL=info');
    expect(sent).toContain('cat config/github.env');
    expect(primary.requests.at(-1)!.body.instructions).toBe(fixture.body.instructions);
    expect((await spanOf(answer.headers['x-gatehouse-request-id'])).guardrail_findings).toBeGreaterThanOrEqual(ALL.length);

    const [event] = await auditOf('guardrail.redacted', 1);
    const details = JSON.parse(event!.details) as { rules: Record<string, number>; new_rules: Record<string, number>; locations: string[]; provider: string };
    expect(event!.cost_center).toBe('redacting');
    for (const kind of ALL) expect(details.rules[SECRETS[kind]!.rule], kind).toBeGreaterThanOrEqual(1);
    expect(details.provider).toBe('openai');
    const everyAuditRow = JSON.stringify(await waitForRows(gatehouse, 'SELECT * FROM gatehouse.audit_log', 1));
    for (const kind of ALL) expect(everyAuditRow, kind).not.toContain(SECRETS[kind]!.secret);
  });

  it('the next turn of the session re-applies the redaction to the resent history without scanning it again, and audits only what is new', async () => {
    const first = codexTurn('gpt-5.5', ['github']);
    await postTurn(gatehouse.url, 'vk_guard_redact', first, codexHeaders('guard-session', 'turn-1'));
    const input = [...(first.input as unknown[]), { type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls"}', call_id: 'call_ls' }, { type: 'function_call_output', call_id: 'call_ls', output: toolOutput('README.md\nsrc') }];
    const auditsBefore = (await auditOf('guardrail.redacted', 1)).length;
    const second = await postTurn(gatehouse.url, 'vk_guard_redact', { ...first, input }, codexHeaders('guard-session', 'turn-2'));
    expect(second.status).toBe(200);
    const sent = primary.requests.at(-1)!.rawBody.toString('utf8');
    expect(sent).not.toContain(SECRETS.github!.secret);
    expect(sent).toContain('«secret:github-token:');
    expect((await spanOf(second.headers['x-gatehouse-request-id'])).guardrail_findings).toBe(1);
    await gatehouse.writer.flush();
    expect((await auditOf('guardrail.redacted', auditsBefore)).length).toBe(auditsBefore);

    // The scan memory itself: the second turn scanned only its two new items.
    const cache = new HistoryScanCache();
    const firstScan = await scanConversation(cache, 's', 'openai-responses', first, []);
    const secondScan = await scanConversation(cache, 's', 'openai-responses', { ...first, input }, []);
    expect(firstScan.scannedItems).toBe((first.input as unknown[]).length);
    expect(secondScan.scannedItems).toBe(2);
    expect(secondScan.rules).toEqual({ 'github-token': 1 });
    expect(secondScan.newRules).toEqual({});
    // An edited history (the flagged item changed) is scanned afresh.
    const edited = [...input];
    edited[edited.length - 3] = { type: 'function_call_output', call_id: 'x', output: toolOutput(`GITHUB_TOKEN=ghp_${alnum(36, 'Zz9Yy8Xx7Ww6Vv5Uu4')}`) };
    expect((await scanConversation(cache, 's', 'openai-responses', { ...first, input: edited }, [])).scannedItems).toBe(edited.length);

    // A secret pasted into an earlier, clean item of a resent history (the last item unchanged) is found:
    // the memory covers the whole scanned prefix, on the client's bytes as the gateway reads them.
    const asRead = (body: Record<string, unknown>) => readJsonBody(Buffer.from(JSON.stringify(body)), MAX_JSON_DEPTH);
    const bytesCache = new HistoryScanCache();
    await scanConversation(bytesCache, 'b', 'openai-responses', asRead({ ...first, input }), []);
    const tampered = [...input];
    tampered[1] = { type: 'message', role: 'user', content: [{ type: 'input_text', text: `SLACK_BOT_TOKEN=${SECRETS.slack!.secret}` }] };
    const rescanned = await scanConversation(bytesCache, 'b', 'openai-responses', asRead({ ...first, input: tampered }), []);
    expect(rescanned.rules['slack-token']).toBe(1);
    expect(rescanned.redactedRaw?.toString('utf8')).not.toContain(SECRETS.slack!.secret);
    // Without a session of its own a request is scanned whole and not remembered.
    const sizeBefore = bytesCache.size;
    expect((await scanConversation(bytesCache, undefined, 'openai-responses', asRead({ ...first, input }), [])).scannedItems).toBe(input.length);
    expect(bytesCache.size).toBe(sizeBefore);
  });

  it('block: a structured 400 that names the rule and the item, never the value, and nothing reaches the upstream', async () => {
    const before = primary.requests.length;
    const answer = await postTurn(gatehouse.url, 'vk_guard_block', codexTurn('gpt-5.5', ['aws']), codexHeaders('guard-block', 'turn-1'));
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('secret_detected');
    expect(answer.body.error.message).toMatch(/aws-secret-access-key in input\[\d+\]/);
    expect(answer.body.error.message).toContain('cost center "blocking"');
    expect(JSON.stringify(answer.body)).not.toContain(SECRETS.aws!.secret);
    expect(primary.requests.length).toBe(before);
    expect(await spanOf(answer.headers['x-gatehouse-request-id'])).toMatchObject({ error_code: 'secret_detected' });
    const [event] = await auditOf('guardrail.blocked', 1);
    expect(event!.details).not.toContain(SECRETS.aws!.secret);
  });

  it('cross_provider: block stops a secret from crossing to a second provider on a fallback hop, while the first provider got it redacted', async () => {
    primaryFails = true;
    try {
      const backupBefore = backup.requests.length;
      const answer = await postTurn(gatehouse.url, 'vk_guard_cross', codexTurn('gpt-5.5', ['internal', 'slack']), codexHeaders('guard-cross', 'turn-1'));
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('secret_detected');
      expect(answer.body.error.message).toMatch(/provider "other" \(guardrails\.cross_provider: block\)/);
      expect(backup.requests.length).toBe(backupBefore);
      const toPrimary = primary.requests.at(-1)!.rawBody.toString('utf8');
      expect(toPrimary).toContain('«secret:acme-internal-token:');
      expect(toPrimary).not.toContain(SECRETS.slack!.secret);
      const blocked = await auditOf('guardrail.blocked', 2);
      expect(JSON.parse(blocked.at(-1)!.details)).toMatchObject({ provider: 'other', cross_provider: true });
    } finally {
      primaryFails = false;
    }
  });

  it('a cost center without a guardrail sends the body byte for byte', async () => {
    const body = codexTurn('gpt-5.5', ['github']);
    const answer = await postTurn(gatehouse.url, 'vk_guard_open', body, codexHeaders('guard-open', 'turn-1'));
    expect(answer.status).toBe(200);
    expect(primary.requests.at(-1)!.rawBody.toString('utf8')).toContain(SECRETS.github!.secret);
  });
});
