import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDER_ADAPTERS } from '../../../gateway/providers/registry.ts';

// STYLE §2: every adapter folder has exactly the same file set, and the registry knows each one.
const FILES = ['capabilities.ts', 'classify-error.ts', 'from-wire-stream.ts', 'index.ts', 'map-finish-reason.ts', 'map-usage.ts', 'to-wire-request.ts', 'wire-schema.ts'];

describe('adapter folders', () => {
  const root = new URL('../../../gateway/providers/', import.meta.url);
  const folders = readdirSync(root, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();

  it('match the registry', () => {
    expect(folders).toEqual(Object.keys(PROVIDER_ADAPTERS).sort());
    for (const [id, adapter] of Object.entries(PROVIDER_ADAPTERS)) expect(adapter.id).toBe(id);
  });

  it.each(folders)('%s has exactly the STYLE §2 files', (folder) => {
    expect(readdirSync(new URL(`${folder}/`, root)).sort()).toEqual([...FILES, `${folder}-adapter.ts`].sort());
  });
});
