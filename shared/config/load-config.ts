import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { DeploymentConfigSchema, type DeploymentConfig } from './config-schema.ts';
import { PolicySchema, policyReferenceIssues, type PolicyDocument } from '../policy/policy-schema.ts';

/** A configuration problem at a path, e.g. `providers.openai.base_url: Invalid URL`. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Raised when a config or policy file cannot be used; carries every problem found. */
export class ConfigError extends Error {
  readonly file: string;
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    super(`${file}: ${issues.length} problem(s)\n` + issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` (and `${VAR:-default}`) in every string of a parsed YAML tree; a missing variable is an issue. */
export function substituteEnvironment(value: unknown, environment: NodeJS.ProcessEnv, issues: ConfigIssue[], path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_PATTERN, (_match, name: string, fallback: string | undefined) => {
      const found = environment[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path: path.join('.'), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substituteEnvironment(item, environment, issues, [...path, String(index)]));
  if (value !== null && typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) result[key] = substituteEnvironment(item, environment, issues, [...path, key]);
    return result;
  }
  return value;
}

export function issuesFromZod(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

export function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(error as Error).message}` }]);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `not valid YAML: ${(error as Error).message}` }]);
  }
}

export function parseWithSchema<T extends z.ZodType>(schema: T, raw: unknown, file: string, environment: NodeJS.ProcessEnv): z.infer<T> {
  const issues: ConfigIssue[] = [];
  const substituted = substituteEnvironment(raw, environment, issues);
  const result = schema.safeParse(substituted);
  if (!result.success) issues.push(...issuesFromZod(result.error));
  if (issues.length > 0) throw new ConfigError(file, issues);
  return result.data as z.infer<T>;
}

export interface LoadedConfig {
  file: string;
  config: DeploymentConfig;
  /** Policy file resolved against the config file's folder. */
  policyFile: string;
}

/** Resolves which config file to use: explicit path, GATEHOUSE_CONFIG, ./gatehouse.yaml, then the shipped example. */
export function resolveConfigPath(explicit: string | undefined, environment: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  if (explicit) return resolve(cwd, explicit);
  if (environment.GATEHOUSE_CONFIG) return resolve(cwd, environment.GATEHOUSE_CONFIG);
  const local = resolve(cwd, 'gatehouse.yaml');
  if (existsSync(local)) return local;
  return resolve(cwd, 'gatehouse.example.yaml');
}

export function loadDeploymentConfig(file: string, environment: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const config = parseWithSchema(DeploymentConfigSchema, readYaml(file), file, environment);
  const policyFile = isAbsolute(config.policy) ? config.policy : resolve(dirname(file), config.policy);
  return { file, config, policyFile };
}

export function loadPolicyFile(file: string, environment: NodeJS.ProcessEnv = process.env): PolicyDocument {
  const raw = readYaml(file);
  try {
    return parseWithSchema(PolicySchema, raw, file, environment);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // zod skips cross-reference checks when the shape is wrong; list them in the same run anyway.
    const known = new Set(error.issues.map((issue) => `${issue.path}|${issue.message}`));
    const extra = policyReferenceIssues(raw)
      .map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
      .filter((issue) => !known.has(`${issue.path}|${issue.message}`));
    throw new ConfigError(file, [...error.issues, ...extra]);
  }
}

/** Validates a policy document given as data (proposals, stored versions). */
export function parsePolicyDocument(document: unknown, source = 'policy'): PolicyDocument {
  const result = PolicySchema.safeParse(document);
  if (!result.success) throw new ConfigError(source, issuesFromZod(result.error));
  return result.data;
}
