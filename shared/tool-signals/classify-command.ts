/**
 * Recognises test and build runners in a shell command so scorers can tell "the tests passed"
 * from "ls worked" without storing the command text. Only the runner kind leaves this module.
 */

/** What a command does, as far as scoring cares. */
export type CommandCategory = 'test' | 'build' | 'patch' | 'other';

export interface CommandClassification {
  category: CommandCategory;
  /** Runner kind, e.g. `vitest`, `npm-test`, `pytest`, `go-test`, `tsc`; empty for `other`. */
  runner: string;
}

const OTHER: CommandClassification = Object.freeze({ category: 'other', runner: '' });

/** Wrappers that run the real command as their argument. */
const WRAPPERS = new Set(['sudo', 'env', 'time', 'nice', 'npx', 'bunx', 'pnpx', 'exec', 'command', 'xvfb-run', 'dotenv']);
const SHELLS = new Set(['bash', 'sh', 'zsh', 'dash', '/bin/bash', '/bin/sh', '/usr/bin/bash', '/bin/zsh']);

function tokensOf(segment: string): string[] {
  return segment
    .trim()
    .split(/\s+/)
    .filter((token) => token.length > 0)
    .map((token) => token.replace(/^['"]|['"]$/g, ''));
}

/** Drops env assignments and wrappers (`CI=1 npx`, `timeout 60`, `uv run`, `python -m`). */
function unwrap(tokens: string[]): string[] {
  let rest = tokens;
  for (let guard = 0; guard < 8 && rest.length > 0; guard += 1) {
    const head = rest[0] as string;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(head)) rest = rest.slice(1);
    else if (WRAPPERS.has(head)) rest = rest.slice(1).filter((token, i) => !(i === 0 && token.startsWith('-')));
    else if (head === 'timeout') rest = rest.slice(1).filter((token, i) => !(i === 0 && /^\d/.test(token)) && !token.startsWith('--'));
    else if ((head === 'uv' || head === 'poetry' || head === 'pipenv' || head === 'hatch' || head === 'pdm') && rest[1] === 'run') rest = rest.slice(2);
    else if (/^python(3(\.\d+)?)?$/.test(head) && rest[1] === '-m') rest = rest.slice(2);
    else if ((head === 'pnpm' || head === 'yarn' || head === 'bun') && (rest[1] === 'exec' || rest[1] === 'dlx' || rest[1] === 'x')) rest = rest.slice(2);
    else break;
  }
  return rest;
}

const JS_RUNNERS: Record<string, string> = { vitest: 'vitest', jest: 'jest', mocha: 'mocha', ava: 'ava', playwright: 'playwright', tap: 'tap' };
const TEST_SCRIPT = /^test(:.*)?$|^t$|^(unit|e2e|spec|check)(:.*)?$/;
const BUILD_SCRIPT = /^(build|compile|typecheck|tsc|lint)(:.*)?$/;

function classifyPackageManager(manager: string, args: string[]): CommandClassification {
  const positional = args.filter((arg) => !arg.startsWith('-'));
  let script = positional[0];
  if (script === 'run' || script === 'run-script') script = positional[1];
  if (script === undefined) return OTHER;
  if (TEST_SCRIPT.test(script)) return { category: 'test', runner: `${manager}-test` };
  if (BUILD_SCRIPT.test(script)) return { category: 'build', runner: `${manager}-build` };
  if (script in JS_RUNNERS) return { category: 'test', runner: JS_RUNNERS[script] as string };
  if (script === 'tsc') return { category: 'build', runner: 'tsc' };
  return OTHER;
}

function classifySegment(segment: string): CommandClassification {
  const tokens = unwrap(tokensOf(segment));
  const head = tokens[0];
  if (head === undefined) return OTHER;
  const name = head.replace(/^.*\//, '');
  const args = tokens.slice(1);
  const first = args.find((arg) => !arg.startsWith('-'));
  if (name === 'apply_patch' || name === 'applypatch') return { category: 'patch', runner: 'apply_patch' };
  if (name === 'npm' || name === 'pnpm' || name === 'yarn' || name === 'bun') {
    if (name === 'bun' && first === 'test') return { category: 'test', runner: 'bun-test' };
    if (name === 'npm' && (first === 'test' || first === 't' || first === 'tst')) return { category: 'test', runner: 'npm-test' };
    return classifyPackageManager(name, args);
  }
  if (name in JS_RUNNERS) return { category: 'test', runner: JS_RUNNERS[name] as string };
  if (name === 'node' && args.includes('--test')) return { category: 'test', runner: 'node-test' };
  if (name === 'pytest' || name === 'py.test') return { category: 'test', runner: 'pytest' };
  if (name === 'tox' || name === 'nox') return { category: 'test', runner: name };
  if (name === 'go') {
    if (first === 'test') return { category: 'test', runner: 'go-test' };
    if (first === 'build' || first === 'vet') return { category: 'build', runner: `go-${first}` };
  }
  if (name === 'cargo') {
    if (first === 'test' || first === 'nextest') return { category: 'test', runner: 'cargo-test' };
    if (first === 'build' || first === 'check' || first === 'clippy') return { category: 'build', runner: `cargo-${first}` };
  }
  if (name === 'mvn' || name === 'mvnw') {
    if (args.some((arg) => arg === 'test' || arg === 'verify' || arg === 'install')) return { category: 'test', runner: 'maven-test' };
    if (args.some((arg) => arg === 'compile' || arg === 'package')) return { category: 'build', runner: 'maven-build' };
  }
  if (name === 'gradle' || name === 'gradlew') {
    if (args.some((arg) => /(^|:)(test|check)$/.test(arg))) return { category: 'test', runner: 'gradle-test' };
    if (args.some((arg) => /(^|:)(build|assemble|compileJava|compileKotlin)$/.test(arg))) return { category: 'build', runner: 'gradle-build' };
  }
  if (name === 'make' || name === 'gmake') {
    const targets = args.filter((arg) => !arg.startsWith('-') && !arg.includes('='));
    if (targets.some((target) => /^(test|tests|check|unit|integration)(-.*)?$/.test(target))) return { category: 'test', runner: 'make-test' };
    return { category: 'build', runner: 'make' };
  }
  if (name === 'ctest') return { category: 'test', runner: 'ctest' };
  if (name === 'dotnet' && (first === 'test' || first === 'build')) return { category: first === 'test' ? 'test' : 'build', runner: `dotnet-${first}` };
  if (name === 'rspec' || name === 'phpunit') return { category: 'test', runner: name };
  if (name === 'mix' && first === 'test') return { category: 'test', runner: 'mix-test' };
  if (name === 'tsc' || name === 'vue-tsc') return { category: 'build', runner: 'tsc' };
  if (name === 'cmake' && args.includes('--build')) return { category: 'build', runner: 'cmake' };
  if ((name === 'vite' || name === 'next' || name === 'webpack' || name === 'esbuild' || name === 'rollup') && (first === 'build' || name === 'webpack' || name === 'esbuild' || name === 'rollup'))
    return { category: 'build', runner: name };
  return OTHER;
}

/** Strips `bash -lc '…'` style wrappers and returns the script text. */
function scriptOf(command: string | readonly string[]): string {
  if (typeof command !== 'string') {
    const shellIndex = SHELLS.has(command[0] ?? '') ? command.findIndex((arg) => /^-\w*c\w*$/.test(arg)) : -1;
    if (shellIndex > 0) return command.slice(shellIndex + 1).join(' ');
    return command.join(' ');
  }
  const match = /^\s*(?:\S*\/)?(?:bash|sh|zsh|dash)\s+-\w*c\w*\s+(['"])([\s\S]*)\1\s*$/.exec(command);
  return match ? (match[2] as string) : command;
}

/**
 * Classifies a shell command (a string, or an argv array such as `["bash","-lc","npm test"]`).
 * In a compound command the strongest signal wins: test over build over patch.
 */
export function classifyCommand(command: string | readonly string[]): CommandClassification {
  const script = scriptOf(command);
  if (script.length === 0) return OTHER;
  let best = OTHER;
  const rank = { other: 0, patch: 1, build: 2, test: 3 } as const;
  // Splits on && || ; | and newlines; quoting is ignored on purpose (a runner name inside quotes is rare and harmless).
  for (const segment of script.split(/&&|\|\||[;|\n]/)) {
    const result = classifySegment(segment);
    if (rank[result.category] > rank[best.category]) best = result;
  }
  return best;
}
