import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startTestGatehouse, testPolicy, TEST_ADMIN_TOKEN, TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild } from '../resilience/gatehouse-child.ts';
import { checkAdminTokens, EXAMPLE_ADMIN_TOKEN, WeakAdminTokenError } from '../../shared/config/admin-token-rules.ts';
import { sha256Hex } from '../../shared/signing/hash.ts';

const providers = { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } };
const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function modelsStatus(url: string): Promise<number> {
  const response = await request(`${url}/v1/models`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
  await response.body.arrayBuffer();
  return response.statusCode;
}

describe('a revoked bootstrap key stays revoked', () => {
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-boot-revoke-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('across a restart, and keys list reports the policy entry as revoked', async () => {
    const bootId = `boot_${sha256Hex(TEST_KEY).slice(0, 12)}`;
    const first = await startTestGatehouse({ providers, dataDir });
    expect(await modelsStatus(first.url)).toBe(200);
    const revoked = await request(`${first.url}/admin/keys/${bootId}`, { method: 'DELETE', headers: adminHeaders });
    expect(revoked.statusCode).toBe(200);
    await revoked.body.arrayBuffer();
    expect(await modelsStatus(first.url)).toBe(401);
    await first.stop({ keepData: true });

    // The same policy file still lists the key: revocation wins.
    const second = await startTestGatehouse({ providers, dataDir });
    try {
      expect(await modelsStatus(second.url)).toBe(401);
      const listed = (await (await request(`${second.url}/admin/keys`, { headers: adminHeaders })).body.json()) as { keys: { id: string; source: string; revoked_at: string | null }[] };
      const entry = listed.keys.find((key) => key.id === bootId);
      expect(entry).toMatchObject({ source: 'bootstrap' });
      expect(entry?.revoked_at).toEqual(expect.any(String));
      // A policy reload that lists it again does not bring it back either.
      await second.context.keys.applyPolicyKeys(second.context.policy.current().document);
      expect(await modelsStatus(second.url)).toBe(401);
    } finally {
      await second.stop({ keepData: true });
    }
  }, 120_000);
});

describe('admin token strength', () => {
  const weak = [
    { name: 'example', token: EXAMPLE_ADMIN_TOKEN },
    { name: 'short', token: 'x'.repeat(31) },
  ];

  it('refuses the example token or one shorter than 32 characters off loopback, naming the fix', () => {
    for (const entry of weak) {
      for (const host of ['0.0.0.0', '::', '10.1.2.3', 'gateway.internal']) {
        expect(() => checkAdminTokens([entry], host)).toThrow(WeakAdminTokenError);
      }
    }
    expect(() => checkAdminTokens([weak[0]!], '0.0.0.0')).toThrow(/admin token "example" is the example token .* binds 0\.0\.0\.0.*openssl rand -base64 32/);
  });

  it('warns on loopback, and says nothing about a strong token or a hashed one', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(checkAdminTokens(weak, host)).toHaveLength(2);
    expect(checkAdminTokens([{ name: 'strong', token: 'x'.repeat(32) }, { name: 'hashed' }], '0.0.0.0')).toEqual([]);
  });

  it('start refuses before opening anything when bound to a network address', async () => {
    await expect(startTestGatehouse({ providers, configure: (config) => (config.server.host = '0.0.0.0') })).rejects.toThrow(WeakAdminTokenError);
  });

  it('the start banner shows a placeholder, never a key, and warns about the short loopback token', async () => {
    const child = await startGatehouseChild({ providers, policy: testPolicy() });
    try {
      // The banner is printed in a few writes after "listening on": wait for its last line.
      await new Promise<void>((resolve) => {
        const check = () => {
          if (!child.output().includes('Health http')) return;
          child.child.stdout?.off('data', check);
          resolve();
        };
        child.child.stdout?.on('data', check);
        check();
      });
      const output = child.output();
      expect(output).toContain('export GATEHOUSE_KEY=<your virtual key>');
      expect(output).not.toContain(TEST_KEY);
      expect(output).toMatch(/admin token \\?"test-admin\\?" is 27 characters .*accepted only because the server binds loopback/);
    } finally {
      await child.stop();
    }
  }, 60_000);
});
