// Gatehouse embedded with everything on the request path (auth, policy, budgets, accounting, spans to
// embedded ClickHouse), in its own process. Evaluator workers are measured separately (evaluator-bench).
// DISABLE=tracing,budgets,metrics,storage switches parts off, to measure what each one costs;
// GUARDRAILS=redact (or block) turns the secret guardrail on for the bench's cost center and
// EVALUATOR=1 runs the embedded evaluator in the gateway's process (signals extracted after every turn).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startGatehouse } from '../cli/start-gatehouse.ts';
import { disableParts } from './disable-parts.ts';
import { profileOnMessage } from './profile-on-message.ts';

const folder = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
const upstream = process.env.UPSTREAM_URL ?? '';
const translated = process.env.TRANSLATED_PROVIDER_TYPE;
writeFileSync(
  join(folder, 'policy.yaml'),
  stringify({
    models: { 'gpt-5.5': { provider: 'upstream', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } } },
    cost_centers: {
      bench: {
        allowed_models: ['gpt-5.5'],
        budgets: { developer: { daily_usd: 1_000_000 }, cost_center: { daily_usd: 10_000_000 } },
        ...(process.env.GUARDRAILS ? { guardrails: { secrets: process.env.GUARDRAILS } } : {}),
      },
    },
    keys: [{ key: 'vk_bench', developer: 'bench', cost_center: 'bench' }],
  }),
);
writeFileSync(
  join(folder, 'gatehouse.yaml'),
  stringify({
    server: { host: '127.0.0.1', port: 0 },
    data_dir: join(folder, 'data'),
    providers: { upstream: { type: translated ?? 'openai', base_url: upstream, api_key: 'sk_bench' } },
    policy: 'policy.yaml',
    logging: { level: 'warn' },
  }),
);
const running = await startGatehouse({ configFile: join(folder, 'gatehouse.yaml'), environment: {}, roles: process.env.EVALUATOR === '1' ? ['gateway', 'collector', 'evaluator'] : ['gateway', 'collector'] });
disableParts(running, process.env.DISABLE);
process.send?.({ port: Number(new URL(running.url).port) });
profileOnMessage();
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage(), thread: process.threadCpuUsage() });
  if (message === 'stop') void running.close().then(() => process.exit(0));
});
