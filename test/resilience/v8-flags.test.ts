import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LEAN_V8_FLAGS, SPEED_V8_FLAGS, v8FlagsFor } from '../../bin/v8-flags.ts';
import { TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild } from './gatehouse-child.ts';

const policy = {
  models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 4 } } },
  cost_centers: { platform: { allowed_models: ['gpt-5.5'] } },
  keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
};

/** The command line the kernel reports for the running server (after the launcher's execve). */
async function serverCommandLine(env: Record<string, string>): Promise<string[]> {
  const gatehouse = await startGatehouseChild({ providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } }, policy, env });
  try {
    return readFileSync(`/proc/${gatehouse.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    await gatehouse.stop();
  }
}

describe('V8 flags of a server process (bin/gatehouse.mjs, docs/RESILIENCE.md "Memory")', () => {
  it('picks the profile\'s flags, and GATEHOUSE_V8_FLAGS over both (empty: none)', () => {
    expect(v8FlagsFor({})).toEqual([SPEED_V8_FLAGS]);
    expect(v8FlagsFor({ GATEHOUSE_MEMORY_PROFILE: 'lean' })).toEqual(LEAN_V8_FLAGS.split(' '));
    expect(v8FlagsFor({ GATEHOUSE_V8_FLAGS: '--max-semi-space-size=8  --single-threaded-gc' })).toEqual(['--max-semi-space-size=8', '--single-threaded-gc']);
    expect(v8FlagsFor({ GATEHOUSE_V8_FLAGS: '', GATEHOUSE_MEMORY_PROFILE: 'lean' })).toEqual([]);
  });

  it('a real `gatehouse start` runs with them: speed by default, lean on request, none when emptied', async () => {
    const speed = await serverCommandLine({});
    expect(speed).toContain('--external-memory-accounted-in-global-limit');
    expect(speed).not.toContain('--memory-saver-mode');
    const lean = await serverCommandLine({ GATEHOUSE_MEMORY_PROFILE: 'lean' });
    expect(lean).toEqual(expect.arrayContaining(['--max-semi-space-size=1', '--memory-saver-mode']));
    expect(lean).not.toContain('--external-memory-accounted-in-global-limit');
    const none = await serverCommandLine({ GATEHOUSE_V8_FLAGS: '' });
    expect(none.filter((argument) => argument.startsWith('--') && argument !== '--config')).toEqual([]);
  }, 120_000);
});
