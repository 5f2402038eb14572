import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'gatehouse.mjs');

describe('output into a pipe that closes early (`gatehouse --help | head -1`)', () => {
  it('stops quietly: no stack trace, no error exit', async () => {
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The reader is gone before the command writes (it closed its end as `head` does once satisfied;
    // closed at once here, so every run writes into a closed pipe).
    child.stdout.destroy();
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).not.toContain('Unhandled');
    expect(code).toBe(0);
  });
});
