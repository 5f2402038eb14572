import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, fillStrippedSourceCache, strippedSourcePath } from '../../bin/stripped-sources.mjs';
import { TEST_KEY } from '../helpers/start-test-gatehouse.ts';
import { startGatehouseChild } from './gatehouse-child.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const HOOKS = pathToFileURL(join(ROOT, 'bin/stripped-sources.mjs')).href;
const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-stripped-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Whether this process has loaded Node's TypeScript stripper (amaro): Node lists the internal modules it loaded. */
const AMARO_LOADED = `process.moduleLoadList.some((name) => name.includes('amaro'))`;

/** A fresh Node.js process (the bundled 24) that registers the hook, imports `entry` and prints what it saw. */
function runWithHook(options: { root?: string; cacheDir: string; entry: string; then?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = [
    `import { serveStrippedSources } from ${JSON.stringify(HOOKS)};`,
    `serveStrippedSources({ root: ${JSON.stringify(options.root ?? ROOT)}, cacheDir: ${JSON.stringify(options.cacheDir)} });`,
    `const loaded = await import(${JSON.stringify(pathToFileURL(options.entry).href)});`,
    options.then ?? '',
    `console.log(JSON.stringify({ amaro: ${AMARO_LOADED} }));`,
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

const lastLine = (output: string) => JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { amaro: boolean };

describe('TypeScript sources served already stripped (bin/stripped-sources.mjs)', () => {
  it('the CLI loads without Node\'s type stripper once the cache holds its sources; the first load fills it', async () => {
    const cacheDir = join(scratch, 'cli-cache');
    const cold = await runWithHook({ cacheDir, entry: join(ROOT, 'cli/main.ts') });
    expect(cold.code, cold.stderr).toBe(0);
    expect(lastLine(cold.stdout).amaro).toBe(true);
    expect(cold.stderr).not.toContain('ExperimentalWarning');
    const kept = readdirSync(cacheDir).filter((name) => name.endsWith('.js'));
    expect(kept.length).toBeGreaterThan(50);
    expect(kept.some((name) => name.endsWith('.partial'))).toBe(false);
    const warm = await runWithHook({ cacheDir, entry: join(ROOT, 'cli/main.ts') });
    expect(warm.code, warm.stderr).toBe(0);
    expect(lastLine(warm.stdout).amaro).toBe(false);
  }, 60_000);

  it('an edited file is served as edited, and an error points at the right line and column of the .ts file', async () => {
    const root = join(scratch, 'project');
    const cacheDir = join(scratch, 'project-cache');
    mkdirSync(join(root, 'lib'), { recursive: true });
    const module = join(root, 'lib/answer.ts');
    const version = (answer: number) =>
      [
        'interface Shape {',
        '  answer: number;',
        '}',
        `export const shape: Shape = { answer: ${answer} };`,
        'export function fail(reason: string): never {',
        '  throw new Error(reason);',
        '}',
      ].join('\n');
    const then = `console.log(JSON.stringify({ answer: loaded.shape.answer, stack: (() => { try { loaded.fail('x'); } catch (error) { return error.stack; } })() }));`;
    writeFileSync(module, version(1));
    const first = await runWithHook({ root, cacheDir, entry: module, then });
    expect(first.code, first.stderr).toBe(0);
    const firstSeen = JSON.parse(first.stdout.trim().split('\n')[0] ?? '{}') as { answer: number; stack: string };
    expect(firstSeen.answer).toBe(1);
    expect(firstSeen.stack).toContain(`${pathToFileURL(module).href}:6:9`);
    expect(existsSync(strippedSourcePath(cacheDir, version(1)))).toBe(true);

    writeFileSync(module, version(2));
    const edited = await runWithHook({ root, cacheDir, entry: module, then });
    expect(JSON.parse(edited.stdout.trim().split('\n')[0] ?? '{}')).toMatchObject({ answer: 2 });

    // Old versions go once the cache holds more entries than allowed; the current one stays.
    expect(fillStrippedSourceCache({ root, cacheDir, pruneAbove: 1 })).toEqual({ files: 1, strippedNow: 0, writable: true });
    expect(readdirSync(cacheDir)).toEqual([basename(strippedSourcePath(cacheDir, version(2)))]);
  }, 60_000);

  it('an unwritable cache still runs: the process strips in memory, as Node would have', async () => {
    const blocker = join(scratch, 'not-a-folder');
    writeFileSync(blocker, '');
    const result = await runWithHook({ cacheDir: join(blocker, 'cache'), entry: join(ROOT, 'cli/main.ts'), then: 'console.log(typeof loaded.main);' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('function');
    expect(lastLine(result.stdout).amaro).toBe(true);
  }, 60_000);

  it('a real `gatehouse start` server never loads the stripper: the launcher strips what the cache lacks before it replaces itself', async () => {
    // One source the server loads is taken out of the (shared) cache; another process meanwhile just strips it again.
    const entry = strippedSourcePath(defaultCacheDir(), readFileSync(join(ROOT, 'cli/main.ts'), 'utf8'));
    rmSync(entry, { force: true });
    const report = `process.on('exit', () => process.stderr.write('[amaro loaded: ' + ${AMARO_LOADED} + ']'));`;
    const gatehouse = await startGatehouseChild({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } },
      policy: { models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 4 } } }, cost_centers: { platform: { allowed_models: ['gpt-5.5'] } }, keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }] },
      env: { NODE_OPTIONS: `--import=data:text/javascript;base64,${Buffer.from(report).toString('base64')}` },
    });
    await gatehouse.stop();
    expect(existsSync(entry)).toBe(true);
    expect(gatehouse.output().match(/\[amaro loaded: \w+\]/g)).toEqual(['[amaro loaded: false]']);
  }, 120_000);
});
