import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

describe('people sign in to the admin API with an OIDC ID token', () => {
  let jwks: Server;
  let issuerKey: CryptoKey;
  let strangerKey: CryptoKey;
  let gatehouse: TestGatehouse;
  const issuer = 'https://idp.example.test';
  const audience = 'gatehouse-console';

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    issuerKey = pair.privateKey;
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const approverKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } },
      policy: testPolicy({
        oidc: { issuer, audience, jwks_url: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` },
        approvers: [{ id: 'priya', public_key: approverKey, scopes: ['*'], oidc_subject: 'user-priya' }],
      }),
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const token = (subject: string, key = issuerKey, audienceClaim = audience) =>
    new SignJWT({ email: `${subject}@example.test` }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject(subject).setIssuer(issuer).setAudience(audienceClaim).setIssuedAt().setExpirationTime('5m').sign(key);
  const whoami = async (bearer: string) => {
    const response = await fetch(`${gatehouse.url}/admin/whoami`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: response.status, body: (await response.json()) as { name?: string; role?: string } };
  };

  it('maps an approver subject to the approver role and anyone else to analyst', async () => {
    expect(await whoami(await token('user-priya'))).toEqual({ status: 200, body: { name: 'priya', role: 'approver' } });
    expect(await whoami(await token('user-sam'))).toEqual({ status: 200, body: { name: 'oidc:user-sam', role: 'analyst' } });
  });

  it('refuses tokens signed by another key or for another audience, and gives OIDC users no admin powers', async () => {
    expect((await whoami(await token('user-priya', strangerKey))).status).toBe(401);
    expect((await whoami(await token('user-priya', issuerKey, 'someone-else'))).status).toBe(401);
    const createKey = await fetch(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${await token('user-priya')}`, 'content-type': 'application/json' }, body: JSON.stringify({ developer: 'x', cost_center: 'platform' }) });
    expect(createKey.status).toBe(403);
  });
});
