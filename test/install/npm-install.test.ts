import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The Dockerfile's install steps, without Docker: for each stage, a scratch folder gets what the
 * stage COPYs before its `RUN npm ci …`, and that npm ci runs there (with --prefer-offline, so the
 * npm cache a previous `npm install` filled is enough; the registry is asked only for what it
 * lacks). `npm cache clean --force` after the production install is left out: it would empty the
 * machine's shared cache, and it only makes the image smaller.
 */
const ROOT = resolve(import.meta.dirname, '../..');
/** 1-2 min per install alone; 6-9 min each on the 2-core machine at load 26-40 (measured). */
const INSTALL_TIMEOUT_MILLIS = 900_000;
/** npx resolves the local package before running it: seconds alone, over a minute on a loaded 2-core machine. */
const NPX_TIMEOUT_MILLIS = 240_000;
const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-install-'));

// Two installs (~1.7 GB each, chDB's engine most of it) take a while to delete on a busy disk.
afterAll(() => rmSync(scratch, { recursive: true, force: true }), INSTALL_TIMEOUT_MILLIS);

interface Stage {
  name: string;
  /** Sources COPY'd before the install, relative to the repository. */
  copied: string[];
  /** The `npm ci …` command of the stage's install RUN. */
  install: string;
}

/** The Dockerfile's stages: what each copies before `RUN npm ci`, and that npm ci command. */
function dockerfileStages(): Stage[] {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'));
  const stages: Stage[] = [];
  let current: Stage | undefined;
  for (const line of lines) {
    if (line.startsWith('FROM ')) stages.push((current = { name: line.split(' AS ')[1] ?? line, copied: [], install: '' }));
    else if (current && !current.install && line.startsWith('COPY ') && !line.includes('--from=')) current.copied.push(...line.split(/\s+/).slice(1, -1).filter((part) => !part.startsWith('--')));
    else if (current && !current.install && /^RUN npm ci\b/.test(line)) current.install = line.slice('RUN '.length).split('&&').map((part) => part.trim()).find((part) => part.startsWith('npm ci')) ?? '';
  }
  return stages;
}

/** The user's shell: node_modules/.bin (where `node` is the bundled Node.js 24) is not on PATH. */
function userPath(): string {
  return (process.env.PATH ?? '').split(delimiter).filter((entry) => !entry.includes(`node_modules${'/'}.bin`) && !entry.includes('node-gyp-bin')).join(delimiter);
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string; stderr: string }> {
  const child = spawn('sh', ['-c', command], { cwd, env: { ...process.env, PATH: userPath(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
  });
  return new Promise((done) => child.on('close', (code) => done({ code, output, stderr })));
}

/** Whether `relative` (a path in the repository) is left out by a .dockerignore line (the patterns this repository uses). */
function matchesDockerignore(relative: string, pattern: string): boolean {
  if (pattern.startsWith('*')) return relative.endsWith(pattern.slice(1));
  return relative === pattern || relative.startsWith(`${pattern}/`);
}

/** A scratch folder holding what `stage` copies before its install. */
function prepare(stage: Stage): string {
  const folder = join(scratch, stage.name);
  mkdirSync(folder, { recursive: true });
  for (const source of stage.copied) cpSync(join(ROOT, source), join(folder, source), { recursive: true });
  return folder;
}

/** Only package-environment variables that would change what npm does are cleared (an `npm test` parent sets many). */
const CLEAN_NPM_ENV = Object.fromEntries(Object.keys(process.env).filter((name) => /^npm_(config|package|lifecycle)_/i.test(name)).map((name) => [name, undefined]));

describe('the Dockerfile install steps on a clean copy (no Docker engine here)', () => {
  const stages = dockerfileStages();

  it('has two stages, each with an npm ci install', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'runtime']);
    for (const stage of stages) expect(stage.install, stage.name).toMatch(/^npm ci\b/);
  });

  it('build stage: `npm ci --ignore-scripts` installs the lock as it is, dev tools included', async () => {
    const stage = stages[0] as Stage;
    const folder = prepare(stage);
    const result = await run(`${stage.install} --prefer-offline`, folder, CLEAN_NPM_ENV);
    expect(result.code, result.output).toBe(0);
    expect(result.stderr).not.toMatch(/EBADENGINE|npm (warn|error)/);
    expect(existsSync(join(folder, 'node_modules/vite/package.json'))).toBe(true);
    // chdb's engine for this platform is installed; the placeholders the overrides name for the platforms
    // the registry does not serve are skipped here like any optional package for another platform.
    expect(existsSync(join(folder, `node_modules/@chdb/lib-${process.platform}-${process.arch}-gnu/package.json`))).toBe(true);
    expect(existsSync(join(folder, 'node_modules/@chdb/lib-darwin-arm64'))).toBe(false);
  }, INSTALL_TIMEOUT_MILLIS);

  it('runtime stage: the production install (scripts on) gives the bundled Node.js 24 and a working embedded ClickHouse, without dev tools', async () => {
    const stage = stages[1] as Stage;
    const folder = prepare(stage);
    const result = await run(`${stage.install} --prefer-offline`, folder, CLEAN_NPM_ENV);
    expect(result.code, result.output).toBe(0);
    expect(result.stderr).not.toMatch(/EBADENGINE|npm (warn|error)/);
    expect(existsSync(join(folder, 'node_modules/vite'))).toBe(false);
    const bundled = await run('node_modules/.bin/node -p "process.version"', folder);
    expect(bundled.output.trim()).toBe(`v${(JSON.parse(readFileSync(join(ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string }).version}`);
    const engine = await run(`node_modules/.bin/node -e "process.stdout.write(require('chdb').query('SELECT 40 + 2', 'CSV'))"`, folder);
    expect(engine.output.trim(), engine.output).toBe('42');
    // Then `COPY . .` (less .dockerignore) and the stage's step that strips the sources' types ahead.
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
    cpSync(ROOT, folder, { recursive: true, filter: (source) => !ignored.some((pattern) => matchesDockerignore(source.slice(ROOT.length + 1), pattern)) });
    const stripped = await run('node_modules/.bin/node bin/stripped-sources.mjs', folder);
    expect(stripped.code, stripped.output).toBe(0);
    expect(stripped.output).toMatch(/gatehouse: \d{3} TypeScript sources ready to load without Node's type stripper \(\d{3} stripped now/);
    const help = await run('node_modules/.bin/node bin/gatehouse.mjs --help', folder);
    expect(help.code, help.output).toBe(0);
    expect(help.stderr).toBe('');
  }, INSTALL_TIMEOUT_MILLIS);
});

describe('what npm says and runs', () => {
  const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean>; devEngines?: unknown };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };

  it('every package with an install script is reviewed in allowScripts (.npmrc loglevel=error would hide npm\'s warning)', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect(withScripts.filter((name) => !(name in packageJson.allowScripts))).toEqual([]);
  });

  it('`npx gatehouse` prints no engine warning, even at --loglevel=warn, from the system npm', async () => {
    const result = await run('npx --loglevel=warn gatehouse --help', ROOT, CLEAN_NPM_ENV);
    expect(result.code, result.output).toBe(0);
    expect(result.stderr).not.toMatch(/EBADENGINE|npm warn/);
    expect(result.output).toContain('gatehouse');
  }, NPX_TIMEOUT_MILLIS);
});
