import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { HashChainAuditLog } from '../../shared/audit/hash-chain-audit-log.ts';
import { PolicyStore } from '../../shared/policy-store/policy-store.ts';
import { GovernanceService } from '../../shared/governance/governance-service.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { basePolicy, newApprover, newWriter, openChdb, systemKeyIn, type ChdbFixture } from './helpers/governance-fixture.ts';

const alice = newApprover('alice', ['platform']);
const root = newApprover('root', ['*']);
const issuer = 'https://login.example.com';
const audience = 'gatehouse';

let fixture: ChdbFixture;
let writer: BatchWriter;
let store: PolicyStore;
let governance: GovernanceService;
let jwksServer: Server;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

function idToken(subject: string, options: { audience?: string; key?: CryptoKey; expiresIn?: string } = {}): Promise<string> {
  return new SignJWT({ email: `${subject}@example.com` })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(issuer)
    .setAudience(options.audience ?? audience)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(options.key ?? signingKey);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const port = (jwksServer.address() as AddressInfo).port;

  fixture = await openChdb('oidc');
  ({ writer } = newWriter(fixture.client, fixture.database, join(fixture.dataDir, 'spool')));
  const audit = await HashChainAuditLog.open({ client: fixture.client, database: fixture.database, writer });
  const policy = basePolicy([alice, root]);
  policy.approvers = [
    { id: 'alice', public_key: alice.keys.publicKeyPem, scopes: ['platform'], oidc_subject: 'sub-alice' },
    { id: 'root', public_key: root.keys.publicKeyPem, scopes: ['*'], oidc_subject: 'sub-root' },
  ];
  policy.oidc = { issuer, audience, jwks_url: `http://127.0.0.1:${port}/jwks` };
  store = await PolicyStore.open({ client: fixture.client, database: fixture.database, systemKey: systemKeyIn(fixture.dataDir), audit, bootstrapDocument: policy, pollIntervalMillis: 60_000 });
  governance = new GovernanceService({ client: fixture.client, database: fixture.database, store, audit });
});

afterAll(async () => {
  await store?.close();
  await writer?.shutdown();
  await fixture?.cleanup();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

describe('approval with an OIDC identity', () => {
  it('requires a verified ID token whose subject maps to the signing approver', async () => {
    const proposal = await governance.createProposal({ patch: { cost_centers: { platform: { retry_cap: 4 } } }, justification: 'x', author: 'dana' });
    const signature = alice.sign(proposal.digest);
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature })).rejects.toThrow(/requires an OIDC ID token/);
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature, id_token: await idToken('sub-alice', { audience: 'other-app' }) })).rejects.toThrow(/does not verify/);
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature, id_token: await idToken('sub-alice', { key: strangerKey }) })).rejects.toThrow(/does not verify/);
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature, id_token: await idToken('sub-alice', { expiresIn: '-1m' }) })).rejects.toThrow(/does not verify/);
    await expect(governance.approveProposal(proposal.id, { approver: 'alice', signature, id_token: await idToken('sub-root') })).rejects.toThrow(/is approver root, not alice/);
    await expect(governance.approveProposal(proposal.id, { signature, id_token: await idToken('sub-nobody') })).rejects.toThrow(/not an approver/);
    expect(store.current().version).toBe(1);
    // The ID token alone names the approver; the Ed25519 signature still has to be theirs.
    await expect(governance.approveProposal(proposal.id, { signature: root.sign(proposal.digest), id_token: await idToken('sub-alice') })).rejects.toThrow(/does not verify/);
    const approved = await governance.approveProposal(proposal.id, { signature, id_token: await idToken('sub-alice') });
    expect(approved.version).toBe(2);
    expect(store.current().approvedBy).toBe('alice');
  });
});
