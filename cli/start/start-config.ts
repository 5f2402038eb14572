import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { loadDeploymentConfig, loadPolicyFile, resolveConfigPath } from '../../shared/config/load-config.ts';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import type { PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { createLogger } from '../../shared/logging/create-logger.ts';
import { checkAdminTokens, isLoopbackHost } from '../../shared/config/admin-token-rules.ts';

/** What a start reads before it opens anything. */
export interface StartConfigOptions {
  configFile?: string | undefined;
  /** Overrides applied after the file is read (CLI flags, tests). */
  port?: number | undefined;
  host?: string | undefined;
  dataDir?: string | undefined;
  environment?: NodeJS.ProcessEnv;
  /** Tests: mutate the loaded config before anything starts. */
  configure?: ((config: DeploymentConfig) => void) | undefined;
  logger?: Logger | undefined;
}

export interface StartConfig {
  config: DeploymentConfig;
  environment: NodeJS.ProcessEnv;
  logger: Logger;
  /** Absolute; the data directory every store of the process lives under. */
  dataDir: string;
  /** The folder of the deployment config (relative paths in it, e.g. the system key, resolve from here). */
  configDir: string;
  /** The bootstrap policy file as read (plain keys included), and where it is. */
  bootstrapPolicy: PolicyDocument;
  policyFile: string;
}

/** Reads the deployment config (flags and tests override the file) and the bootstrap policy. */
export function loadStartConfig(options: StartConfigOptions): StartConfig {
  const environment = options.environment ?? process.env;
  const loaded = loadDeploymentConfig(resolveConfigPath(options.configFile, environment), environment);
  const config = loaded.config;
  if (options.port !== undefined) config.server.port = options.port;
  if (options.host !== undefined) config.server.host = options.host;
  if (options.dataDir !== undefined) config.data_dir = options.dataDir;
  options.configure?.(config);
  const logger = options.logger ?? createLogger(config.logging.level, 'gatehouse');
  // Before anything opens: a weak admin token off loopback refuses the start.
  for (const warning of checkAdminTokens(config.admin.tokens, config.server.host)) logger.warn(warning);
  if (!config.admin.metrics_requires_token && !isLoopbackHost(config.server.host)) {
    logger.warn(`/metrics is open to anyone who can reach ${config.server.host} and shows spend per cost center: set admin.metrics_requires_token: true and give the scraper an analyst token as its bearer`);
  }
  const bootstrapPolicy = loadPolicyFile(loaded.policyFile, environment);
  return { config, environment, logger, dataDir: resolve(config.data_dir), configDir: dirname(loaded.file), bootstrapPolicy, policyFile: loaded.policyFile };
}
