import { existsSync } from 'node:fs';
import { DeploymentConfigSchema } from '../shared/config/config-schema.ts';
import { ConfigError, issuesFromZod, readYaml, resolveConfigPath, substituteEnvironment, type ConfigIssue } from '../shared/config/load-config.ts';

/**
 * The URL a client on this machine reaches the configured gateway at: `server.host` and `server.port`
 * of the deployment config (`--config`, GATEHOUSE_CONFIG, ./gatehouse.yaml, then the shipped example).
 * Only `server` is read, so a config whose provider keys are not in this shell's environment still works.
 */
export function configuredGatewayUrl(configFile: string | undefined, environment: NodeJS.ProcessEnv = process.env): string {
  const file = resolveConfigPath(configFile, environment);
  const raw = readYaml(file) as { server?: unknown };
  const issues: ConfigIssue[] = [];
  const server = substituteEnvironment(raw.server, environment, issues, ['server']);
  if (issues.length > 0) throw new ConfigError(file, issues);
  const parsed = DeploymentConfigSchema.shape.server.safeParse(server);
  if (!parsed.success) throw new ConfigError(file, issuesFromZod(parsed.error).map((issue) => ({ ...issue, path: `server.${issue.path}`.replace(/\.$/, '') })));
  return `http://${clientHost(parsed.data.host)}:${parsed.data.port}`;
}

/** A wildcard listen address is reached through loopback; an IPv6 literal needs brackets in a URL. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '' ) return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Default admin URL when neither --url nor GATEHOUSE_URL is given: the gateway a local config describes
 * (GATEHOUSE_CONFIG or ./gatehouse.yaml), else the default port.
 */
export function defaultAdminUrl(environment: NodeJS.ProcessEnv = process.env): string {
  const hasLocalConfig = environment.GATEHOUSE_CONFIG !== undefined || existsSync('gatehouse.yaml');
  if (!hasLocalConfig) return 'http://127.0.0.1:8787';
  try {
    return configuredGatewayUrl(undefined, environment);
  } catch {
    return 'http://127.0.0.1:8787';
  }
}
