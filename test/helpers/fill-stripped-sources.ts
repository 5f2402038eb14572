import { fillStrippedSourceCache } from '../../bin/stripped-sources.mjs';

/**
 * Vitest global setup: the stripped-source cache is filled once, before any test starts a Gatehouse child, instead
 * of by every child a fresh clone's first tests start at once (each would strip the same files).
 */
export function setup(): void {
  fillStrippedSourceCache({ alsoFolders: ['bench', 'test'] });
}
