import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../shared/signing/canonical-json.ts';
import { hashCanonical, sha256Hex } from '../../shared/signing/hash.ts';
import { generateEd25519KeyPair, signText, verifyText } from '../../shared/signing/ed25519.ts';
import { loadOrCreateSystemKey } from '../../shared/signing/system-key.ts';
import { applyMergePatch } from '../../shared/governance/merge-patch.ts';
import { diffPolicies, scopeRefusal } from '../../shared/governance/policy-diff.ts';
import { approvalDigest } from '../../shared/governance/approval-digest.ts';
import { parsePolicyDocument } from '../../shared/config/load-config.ts';
import { basePolicy, newApprover } from './helpers/governance-fixture.ts';

describe('canonical JSON', () => {
  it('sorts keys at every depth by UTF-16 code units and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined }, A: null })).toBe('{"A":null,"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
    // RFC 8785 §3.2.3 example ordering: code units, not code points or locale
    expect(canonicalJson({ '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, '1': 4, '\u00f6': 5 })).toBe('{"\\r":2,"1":4,"ö":5,"€":1,"😀":3}');
    expect(canonicalJson([1e21, 0.1, -0, 'é\u2028'])).toBe('[1e+21,0.1,0,"é\u2028"]');
  });

  it('gives equal text (and hash) for equal values built in any key order', () => {
    expect(hashCanonical({ x: 1, y: [1, 2] })).toBe(hashCanonical({ y: [1, 2], x: 1 }));
    expect(hashCanonical({ x: 1 })).toBe(sha256Hex('{"x":1}'));
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/non-finite number at \.x/);
  });
});

describe('Ed25519', () => {
  it('verifies its own signatures and nothing else', () => {
    const pair = generateEd25519KeyPair();
    const other = generateEd25519KeyPair();
    const signature = signText(pair.privateKeyPem, 'digest ü');
    expect(Buffer.from(signature, 'base64')).toHaveLength(64);
    expect(verifyText(pair.publicKeyPem, 'digest ü', signature)).toBe(true);
    expect(verifyText(pair.publicKeyPem, 'digest u', signature)).toBe(false);
    expect(verifyText(other.publicKeyPem, 'digest ü', signature)).toBe(false);
    expect(verifyText(pair.publicKeyPem, 'digest ü', 'not base64!')).toBe(false);
    expect(verifyText('not a key', 'digest ü', signature)).toBe(false);
  });

  it('creates the system key once (0600) and loads the same key afterwards', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-syskey-'));
    const first = loadOrCreateSystemKey({ dataDir });
    expect(first.file).toBe(join(dataDir, 'system-key.pem'));
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, 'system-key.pub.pem'), 'utf8')).toBe(first.publicKeyPem);
    const second = loadOrCreateSystemKey({ dataDir });
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(verifyText(second.publicKeyPem, 'x', first.sign('x'))).toBe(true);
    // A given relative system_key_file lives with the config, not in the data dir (issue #14).
    const configDir = mkdtempSync(join(tmpdir(), 'gatehouse-syskey-config-'));
    const custom = loadOrCreateSystemKey({ dataDir, systemKeyFile: 'keys/other.pem', baseDir: configDir });
    expect(custom.file).toBe(join(configDir, 'keys/other.pem'));
    expect(custom.publicKeyPem).not.toBe(first.publicKeyPem);
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  it('follows the RFC examples', () => {
    expect(applyMergePatch({ a: 'b' }, { a: 'c' })).toEqual({ a: 'c' });
    expect(applyMergePatch({ a: 'b' }, { b: 'c' })).toEqual({ a: 'b', b: 'c' });
    expect(applyMergePatch({ a: 'b' }, { a: null })).toEqual({});
    expect(applyMergePatch({ a: ['b'] }, { a: 'c' })).toEqual({ a: 'c' });
    expect(applyMergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } })).toEqual({ a: { b: 'd' } });
    expect(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] })).toEqual({ a: [1] });
    expect(applyMergePatch(['a', 'b'], ['c', 'd'])).toEqual(['c', 'd']);
    expect(applyMergePatch({ e: null }, { a: 1 })).toEqual({ e: null, a: 1 });
  });
});

describe('policy diff and approver scope', () => {
  const alice = newApprover('alice', ['platform']);
  const base = parsePolicyDocument(basePolicy([alice]));
  const change = (patch: unknown) => diffPolicies(base, parsePolicyDocument(applyMergePatch(JSON.parse(canonicalJson(base)), patch)));

  it('reports changed paths and the cost centers they touch', () => {
    const diff = change({ cost_centers: { research: { retry_cap: 5 } } });
    expect(diff.changes).toEqual([{ op: 'replace', path: 'cost_centers.research.retry_cap', before: 3, after: 5 }]);
    expect(diff.cost_centers).toEqual(['research']);
    expect(diff.text).toBe('~ cost_centers.research.retry_cap: 3 -> 5');
  });

  it('maps model price changes to the cost centers using the model, rules to their cost centers', () => {
    expect(change({ models: { 'gpt-5.1': { price: { output: 12 } } } }).cost_centers).toEqual(['platform', 'research']);
    expect(change({ models: { 'gpt-5.1-mini': { price: { output: 3 } } } }).cost_centers).toEqual(['*']); // used nowhere: gateway-wide
    const rule = change({ rules: [{ id: 'small', cost_centers: ['platform'], when: { input_tokens: { max: 8000 } }, route_to: 'gpt-5.1-mini' }] });
    expect(rule.changes[0]).toMatchObject({ op: 'add', path: 'rules[id=small]' });
    expect(rule.cost_centers).toEqual(['platform']);
    expect(change({ rules: [{ id: 'all', route_to: 'gpt-5.1-mini' }] }).cost_centers).toEqual(['*']);
    expect(change({ keys: [{ key: 'vk_test_123456', developer: 'd', cost_center: 'research' }] }).cost_centers).toEqual(['research']);
  });

  it('treats approvers, oidc and global switches as gateway-wide', () => {
    expect(change({ dry_run: true }).cost_centers).toEqual(['*']);
    expect(change({ approvers: [] }).cost_centers).toEqual(['*']);
  });

  it('admits an approver only when every touched cost center is in scope', () => {
    expect(scopeRefusal(['platform'], ['platform'])).toBeNull();
    expect(scopeRefusal(['platform'], ['platform', 'research'])).toMatch(/research/);
    expect(scopeRefusal(['platform', 'research'], ['*'])).toMatch(/needs scope "\*"/);
    expect(scopeRefusal(['*'], ['*', 'platform'])).toBeNull();
  });

  it('binds proposal, base and document in the digest', () => {
    const digest = approvalDigest({ proposalId: 'prop_1', baseHash: 'aa', documentHash: 'bb' });
    expect(digest).toBe('gatehouse-policy-approval/v1\nproposal: prop_1\nbase: aa\ndocument: bb');
    expect(approvalDigest({ proposalId: 'prop_2', baseHash: 'aa', documentHash: 'bb' })).not.toBe(digest);
  });
});
