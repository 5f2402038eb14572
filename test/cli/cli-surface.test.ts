import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, main, VERSION } from '../../cli/main.ts';
import type { CliIo } from '../../cli/cli-io.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

/** `node bin/gatehouse.mjs …` as a user runs it; resolves with the exit code instead of rejecting. */
async function gatehouse(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/gatehouse.mjs'), ...args], { cwd, env: { PATH: process.env.PATH, ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (text) => void stdout.push(text), error: (text) => void stderr.push(text), columns: 100 };
}

/** Every command path the CLI registers, e.g. ['policy', 'rollback'], parents included. */
function commandPaths(program: Command, prefix: string[] = []): string[][] {
  return program.commands.filter((command) => command.name() !== 'help').flatMap((command) => [[...prefix, command.name()], ...commandPaths(command, [...prefix, command.name()])]);
}

describe('gatehouse --help on every command and subcommand', () => {
  // Any request reaching this server would be a side effect of asking for help.
  let requests: string[] = [];
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`);
      response.writeHead(200, { 'content-type': 'application/x-ndjson' }).end('{"seq":1,"action":"key.created"}\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const paths = commandPaths(buildProgram(captureIo()));

  it('registers every command of the contract and the README', () => {
    const names = paths.map((path) => path.join(' '));
    for (const expected of [
      'start', 'gateway', 'collector', 'evaluator', 'optimizer', 'codex-config', 'keys create', 'keys list', 'keys revoke',
      'policy show', 'policy propose', 'policy diff', 'policy approve', 'policy reject', 'policy history', 'policy rollback', 'policy proposals',
      'approver keygen', 'approver add', 'optimize', 'audit export', 'audit verify', 'report cache', 'sql',
    ]) expect(names).toContain(expected);
  });

  it.each(paths.map((path) => [path.join(' '), path] as const))('%s --help exits 0, prints its usage and sends no request', async (_name, path) => {
    const io = captureIo();
    requests = [];
    const previous = { url: process.env.GATEHOUSE_URL, token: process.env.GATEHOUSE_TOKEN };
    process.env.GATEHOUSE_URL = url;
    process.env.GATEHOUSE_TOKEN = 'test-admin-token-0123456789';
    try {
      expect(await main([...path, '--help'], io)).toBe(0);
    } finally {
      process.env.GATEHOUSE_URL = previous.url;
      process.env.GATEHOUSE_TOKEN = previous.token;
      if (previous.url === undefined) delete process.env.GATEHOUSE_URL;
      if (previous.token === undefined) delete process.env.GATEHOUSE_TOKEN;
    }
    expect(io.stdout.join('')).toContain(`Usage: gatehouse ${path.join(' ')}`);
    expect(io.stderr).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('audit export --help prints no audit event and audit verify --help verifies nothing (real binary)', async () => {
    requests = [];
    const env = { GATEHOUSE_URL: url, GATEHOUSE_TOKEN: 'test-admin-token-0123456789' };
    const exported = await gatehouse(['audit', 'export', '--help'], env);
    expect(exported.code).toBe(0);
    expect(exported.stdout).not.toContain('key.created');
    const verified = await gatehouse(['audit', 'verify', '--help'], env);
    expect(verified.code).toBe(0);
    expect(verified.stdout).not.toContain('audit chain');
    expect(requests).toEqual([]);
  });

  it('the top-level help lists every runnable command with its own options', async () => {
    const io = captureIo();
    expect(await main(['--help'], io)).toBe(0);
    const help = io.stdout.join('');
    for (const line of ['gatehouse policy rollback --to-version N --justification TEXT', 'gatehouse policy proposals [--status STATUS]', 'gatehouse keys create --developer NAME --cost-center NAME [--repo REPO] [--identity ID]', 'gatehouse approver keygen --id ID [--out DIR]', 'gatehouse audit export', 'gatehouse sql QUERY…']) {
      expect(help).toContain(line);
    }
    expect(help).toContain('Exit codes: 0 ok, 1 a request or check failed, 2 usage error');
  });
});

describe('gatehouse --version, exit codes and the error prefix (real binary)', () => {
  it('--version prints the package version and exits 0', async () => {
    const result = await gatehouse(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('usage errors exit 2 with one prefix; a subcommand option may be named like a root one', async () => {
    const unknownOption = await gatehouse(['keys', 'list', '--bogus']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/^gatehouse: unknown option '--bogus'/);
    const unknownCommand = await gatehouse(['frobnicate']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/^gatehouse: unknown command 'frobnicate'/);
    const missing = await gatehouse(['keys', 'create', '--developer', 'carol', '--token', 't']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^gatehouse: required option '--cost-center <name>' not specified/);
    const noCommand = await gatehouse([]);
    expect(noCommand.code).toBe(2);
    // `policy show --version N` is the subcommand's option, not the program's --version.
    const versionOption = await gatehouse(['policy', 'show', '--version', '3', '--url', 'http://127.0.0.1:9', '--token', 't']);
    expect(versionOption.stdout).not.toContain(VERSION);
    expect(versionOption.code).toBe(1);
  });

  it('a failed request exits 1, the gateway message keeps one prefix, keys and policy alike', async () => {
    // The gateway's own messages start with "gatehouse: " (they are written for a developer's terminal).
    const server = createServer((request, response) => {
      response.writeHead(request.url?.startsWith('/admin/keys') ? 400 : 404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'gatehouse: unknown cost center "nope"; known: platform' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = ['--url', `http://127.0.0.1:${(server.address() as { port: number }).port}`, '--token', 't'];
    try {
      const keys = await gatehouse(['keys', 'create', '--developer', 'carol', '--cost-center', 'nope', ...target]);
      const policy = await gatehouse(['policy', 'diff', 'prop_missing', ...target]);
      expect(keys.code).toBe(1);
      expect(policy.code).toBe(1);
      expect(keys.stderr).toBe('gatehouse: POST /admin/keys failed (HTTP 400): unknown cost center "nope"; known: platform\n');
      expect(policy.stderr).toBe('gatehouse: GET /admin/policy/proposals/prop_missing failed (HTTP 404): unknown cost center "nope"; known: platform\n');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('gatehouse codex-config', () => {
  let folder = '';
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-codex-config-'));
    // Provider keys this shell does not have must not stop codex-config: only `server` is read.
    writeFileSync(join(folder, 'gatehouse.yaml'), 'server:\n  host: 0.0.0.0\n  port: 9911\nproviders:\n  openai: { type: openai, api_key: "${OPENAI_KEY_NOT_SET}" }\npolicy: policy.yaml\n');
    writeFileSync(join(folder, 'other.yaml'), 'server: { host: gateway.internal, port: 7001 }\n');
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('reads the port (and host) from ./gatehouse.yaml, --config or GATEHOUSE_CONFIG', async () => {
    const local = await gatehouse(['codex-config', '--key', 'vk_x'], {}, folder);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain('base_url = "http://127.0.0.1:9911/v1"');
    const explicit = await gatehouse(['codex-config', '--key', 'vk_x', '--config', join(folder, 'other.yaml')], {}, folder);
    expect(explicit.stdout).toContain('base_url = "http://gateway.internal:7001/v1"');
    const fromEnv = await gatehouse(['codex-config', '--key', 'vk_x'], { GATEHOUSE_CONFIG: join(folder, 'other.yaml') });
    expect(fromEnv.stdout).toContain('base_url = "http://gateway.internal:7001/v1"');
    const url = await gatehouse(['codex-config', '--key', 'vk_x', '--url', 'https://ai.example.com'], {}, folder);
    expect(url.stdout).toContain('base_url = "https://ai.example.com/v1"');
  });

  it('names the config problem instead of printing a wrong port', async () => {
    writeFileSync(join(folder, 'bad.yaml'), 'server: { port: "eighty" }\n');
    const result = await gatehouse(['codex-config', '--key', 'vk_x', '--config', join(folder, 'bad.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^gatehouse: invalid configuration/);
    expect(result.stderr).toContain('server.port');
    expect(result.stdout).toBe('');
  });
});
