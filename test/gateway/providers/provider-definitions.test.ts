import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDER_ADAPTERS, PROVIDER_DEFINITIONS, PROVIDER_TYPES } from '../../../gateway/providers/registry.ts';
import { ProviderConfigSchema, ProviderTypeSchema } from '../../../shared/config/config-schema.ts';

// Issue 20: a provider's type name is written in exactly one definition (providers/<type>/index.ts);
// the config enum, ProviderId, the registry and the conformance battery read it from there.
const root = new URL('../../../gateway/providers/', import.meta.url);
const folders = readdirSync(root, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
// The places that used to restate the list of providers by hand.
const DERIVED = ['registry.ts', 'provider-adapter.ts', '../../shared/config/config-schema.ts'];

describe('provider definitions', () => {
  it('one per adapter folder, each named by its folder', () => {
    expect(PROVIDER_DEFINITIONS.map((definition) => definition.type).sort()).toEqual(folders);
  });

  it.each(folders)('%s: its quoted type name is in its own definition and no other', (type) => {
    const holders = folders.filter((folder) => read(`${folder}/index.ts`).includes(`'${type}'`));
    expect(holders).toEqual([type]);
    for (const path of DERIVED) expect(read(path), path).not.toContain(`'${type}'`);
  });

  it('the config type enum, the registry and the type list are read from the definitions', () => {
    const types = PROVIDER_DEFINITIONS.map((definition) => definition.type);
    expect(ProviderTypeSchema.options).toEqual(types);
    expect(PROVIDER_TYPES).toEqual(types);
    expect(Object.keys(PROVIDER_ADAPTERS)).toEqual(types);
    for (const definition of PROVIDER_DEFINITIONS) {
      expect(definition.adapter.id).toBe(definition.type);
      expect(definition.capabilities).toBe(definition.adapter.capabilities);
    }
  });

  it('each declared config field exists in the provider config schema', () => {
    const fields = Object.keys(ProviderConfigSchema.shape);
    for (const definition of PROVIDER_DEFINITIONS) for (const field of definition.configFields) expect(fields, `${definition.type}.${field}`).toContain(field);
  });

  it('a definition with no default endpoint refuses a config without base_url, naming its example', () => {
    const result = ProviderConfigSchema.safeParse({ type: 'azure-openai', api_key: 'k' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('azure-openai needs base_url (https://<resource>.openai.azure.com): there is no default endpoint');
  });
});
