import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadDeploymentConfig, loadPolicyFile } from '../../shared/config/load-config.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const GATEHOUSE_ROLES: Record<string, string> = {
  collector: 'collector',
  'gateway-1': 'gateway',
  'gateway-2': 'gateway',
  'evaluator-1': 'evaluator',
  'evaluator-2': 'evaluator',
  optimizer: 'optimizer',
};

/** deploy/.env.example as a map (the documented environment). */
function documentedEnvironment(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of read('deploy/.env.example').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1]) values[match[1]] = match[2] ?? '';
  }
  return values;
}

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}. */
function interpolate(text: string, environment: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_match, name: string, operator: string | undefined, argument: string | undefined) => {
    const value = environment[name];
    if (operator === ':?' && !value) throw new Error(`compose would refuse to start: ${name} unset (${argument})`);
    if (operator === ':-') return value || (argument ?? '');
    if (operator === '-') return value ?? (argument ?? '');
    return value ?? '';
  });
}

describe('docker-compose.yml', () => {
  it('has the distributed roles, storage and a load balancer', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'collector', 'evaluator-1', 'evaluator-2', 'gateway-1', 'gateway-2', 'lb', 'optimizer', 'redis']);
    for (const [name, role] of Object.entries(GATEHOUSE_ROLES)) {
      expect(services[name]?.command?.[0], name).toBe(role);
      expect(services[name]?.command, name).toEqual([role, '--config', '/etc/gatehouse/gatehouse.yaml']);
      expect(services[name]?.build, name).toBe('.');
    }
    expect(services.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:\d+/);
    expect(services.redis?.image).toMatch(/^redis:7/);
    expect(services.lb?.image).toMatch(/^nginx:/);
  });

  it('gives every service a health check and starts them in dependency order', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test?.length, `${name} healthcheck`).toBeGreaterThan(1);
      expect(service.healthcheck?.interval, name).toMatch(/^\d+s$/);
    }
    const healthy = { condition: 'service_healthy' };
    for (const name of ['gateway-1', 'gateway-2', 'evaluator-1', 'evaluator-2', 'optimizer']) {
      expect(services[name]?.depends_on, name).toEqual({ clickhouse: healthy, redis: healthy, collector: healthy });
    }
    expect(services.collector?.depends_on).toEqual({ clickhouse: healthy, redis: healthy });
    expect(services.lb?.depends_on).toEqual({ 'gateway-1': healthy, 'gateway-2': healthy });
    const dependencies = Object.values(services).flatMap((service) => Object.keys(service.depends_on ?? {}));
    for (const dependency of dependencies) expect(Object.keys(services)).toContain(dependency);
  });

  it('publishes only the load balancer and the OTLP intake', () => {
    const published = Object.entries(services).filter(([, service]) => service.ports?.length).map(([name, service]) => [name, service.ports]);
    expect(published).toEqual([
      ['collector', ['${GATEHOUSE_OTLP_PORT:-4318}:8787']],
      ['lb', ['${GATEHOUSE_PUBLIC_PORT:-8787}:8787']],
    ]);
    const nginx = read('deploy/nginx.conf');
    expect(nginx).toContain('server gateway-1:8787');
    expect(nginx).toContain('server gateway-2:8787');
    expect(nginx).toMatch(/proxy_buffering off;/);
    expect(nginx).toMatch(/client_max_body_size 32m;/);
    expect(nginx).toMatch(/listen 8787;/);
  });

  it('mounts files that exist and declares its named volumes', () => {
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (source?.startsWith('./')) expect(existsSync(resolve(ROOT, source)), volume).toBe(true);
        else expect(Object.keys(compose.volumes), volume).toContain(source);
      }
    }
  });

  it('references only documented variables, and documents only what it uses', () => {
    const text = read('docker-compose.yml');
    const referenced = new Set([...text.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]));
    const documented = new Set(Object.keys(documentedEnvironment()));
    expect([...referenced].filter((name) => !documented.has(name as string))).toEqual([]);
    expect([...documented].filter((name) => !referenced.has(name))).toEqual([]);
    expect(() => interpolate(text, {})).toThrow(/CLICKHOUSE_PASSWORD unset/);
  });

  it('gives each Gatehouse process every variable deploy/gatehouse.yaml needs, and the result is a valid config', () => {
    const documented = documentedEnvironment();
    const configText = read('deploy/gatehouse.yaml')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .map((line) => line.replace(/\s#.*$/, ''))
      .join('\n');
    const needed = [...configText.matchAll(/\$\{([A-Z][A-Z0-9_]*)(:-[^}]*)?\}/g)].filter((match) => match[2] === undefined).map((match) => match[1] as string);
    for (const name of Object.keys(GATEHOUSE_ROLES)) {
      const environment = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [key, interpolate(String(value), documented)]),
      );
      for (const variable of needed) expect(Object.keys(environment), `${name} lacks ${variable}`).toContain(variable);
      const loaded = loadDeploymentConfig(resolve(ROOT, 'deploy/gatehouse.yaml'), environment);
      expect(loaded.config.server).toMatchObject({ host: '0.0.0.0', port: 8787 });
      expect(loaded.config.clickhouse.url).toBe('http://clickhouse:8123');
      expect(loaded.config.redis.url).toBe('redis://redis:6379');
      expect(loaded.config.providers.openai?.base_url).toBe('https://api.openai.com/v1');
      expect(loaded.config.system_key_file).toBe('/var/lib/gatehouse/keys/system-key.pem');
      expect(services[name]?.volumes).toContain('gatehouse-keys:/var/lib/gatehouse/keys');
      expect(environment.GATEHOUSE_CONFIG).toBe('/etc/gatehouse/gatehouse.yaml');
      const policy = loadPolicyFile(loaded.policyFile, environment);
      expect(Object.keys(policy.cost_centers)).toContain('platform');
      for (const model of Object.values(policy.models)) expect(Object.keys(loaded.config.providers)).toContain(model.provider);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n');

  it('builds on Node 24 slim with npm ci, copies the built console, and runs as a non-root user', () => {
    const froms = instructions.filter((line) => line.startsWith('FROM '));
    expect(froms).toEqual(['FROM node:24-slim AS build', 'FROM node:24-slim AS runtime']);
    expect(instructions.some((line) => /^RUN npm ci\b/.test(line) && line.includes('--omit=dev'))).toBe(true);
    expect(instructions).toContain('RUN npm run build');
    expect(instructions.some((line) => line.startsWith('COPY --from=build') && line.includes('/app/console/dist console/dist'))).toBe(true);
    const users = instructions.filter((line) => line.startsWith('USER '));
    expect(users.at(-1)).toBe('USER node');
    const lastUser = instructions.lastIndexOf('USER node');
    expect(instructions.slice(lastUser + 1).some((line) => line.startsWith('RUN '))).toBe(false);
    // The sources' types are stripped ahead, once the sources are in, by root (the server cannot rewrite what it runs).
    const strip = instructions.indexOf('RUN node bin/stripped-sources.mjs');
    expect(strip).toBeGreaterThan(instructions.lastIndexOf('COPY --chown=node:node . .'));
    expect(strip).toBeLessThan(lastUser);
  });

  it('copies what npm ci reads (the lock, .npmrc, the chdb placeholders the overrides link) before each npm ci', () => {
    const stages = instructions.join('\n').split(/^FROM /m).slice(1).map((stage) => stage.split('\n'));
    expect(stages).toHaveLength(2);
    for (const stage of stages) {
      const install = stage.findIndex((line) => /^RUN npm ci\b/.test(line));
      const copied = stage.slice(0, install).filter((line) => line.startsWith('COPY ')).join(' ');
      for (const path of ['package.json', 'package-lock.json', '.npmrc', 'packaging/']) expect(copied, `stage ${stage[0]}`).toContain(path);
    }
    const overrides = (JSON.parse(read('package.json')) as { overrides: Record<string, string> }).overrides;
    for (const spec of Object.values(overrides).filter((value) => value.startsWith('file:'))) {
      expect(spec.startsWith('file:./packaging/'), spec).toBe(true);
      expect(existsSync(resolve(ROOT, spec.slice('file:'.length), 'package.json')), spec).toBe(true);
    }
  });

  it('exposes the port, checks health and starts the CLI', () => {
    expect(instructions).toContain('EXPOSE 8787');
    expect(instructions.find((line) => line.startsWith('HEALTHCHECK'))).toContain('/healthz');
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/gatehouse.mjs"]');
    expect(existsSync(resolve(ROOT, 'bin/gatehouse.mjs'))).toBe(true);
    const copiedScript = instructions.find((line) => line.startsWith('COPY console/build-console.mjs'));
    expect(copiedScript).toBeDefined();
    const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(packageJson.scripts.prepare).toContain('console/build-console.mjs');
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['node_modules', '.gatehouse', 'deploy/.env']));
  });
});
