// CPU per turn of the telemetry path alone: `node bench/telemetry-bench.ts [turns per round]`.
// recordTurn (OpenTelemetry span) → batch span processor → collector exporter → batch writer →
// embedded ClickHouse insert, all in this process; process CPU time covers chDB's threads too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startGatehouse } from '../cli/start-gatehouse.ts';

const turns = Number(process.argv[2] ?? 20_000);
const folder = mkdtempSync(join(tmpdir(), 'gatehouse-telemetry-bench-'));
writeFileSync(join(folder, 'policy.yaml'), stringify({ models: { 'gpt-5.5': { provider: 'upstream', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } } }, cost_centers: { bench: { allowed_models: ['gpt-5.5'] } }, keys: [{ key: 'vk_bench', developer: 'bench', cost_center: 'bench' }] }));
writeFileSync(join(folder, 'gatehouse.yaml'), stringify({ server: { port: 0 }, data_dir: join(folder, 'data'), providers: { upstream: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk' } }, policy: 'policy.yaml', logging: { level: 'warn' } }));
const gatehouse = await startGatehouse({ configFile: join(folder, 'gatehouse.yaml'), environment: {}, roles: ['gateway', 'collector'] });

// A served pass-through turn as handle-turn's baseRow/finishServedTurn fill it.
const row = (index: number) => ({
  ts: new Date().toISOString(), request_id: `req_${index}`, session_id: `req_${index}`, turn_id: `req_${index}`, turn_seq: 1, developer: 'bench', identity: '', cost_center: 'bench', repo: '', key_id: 'key_bench',
  tags: [], requested_model: 'gpt-5.5', served_model: 'gpt-5.5', provider: 'upstream', provider_type: 'openai', inbound_protocol: 'openai-responses', stream: false, status_code: 200, error_code: '', error_message: '',
  input_tokens: 1200, cached_input_tokens: 1024, cache_write_tokens: 0, output_tokens: 20, reasoning_tokens: 0, cost_usd: 0.000578, budget_stage: 'ok', downgraded_from: '', fallback_from: '', hop_reason: '', attempts: '',
  rule_id: '', rule_dry_run: false, experiment_arm: '', reasoning_effort: '', requested_reasoning_effort: '', policy_version: 1, dry_run_decision: '', translation_warnings: [], tool_call_count: 0, input_token_estimate: 40, duration_ms: 0.6, ttfb_ms: 0.5, client: 'autocannon', capture: 'metadata',
});
const results: number[] = [];
for (let round = 0; round < 5; round += 1) {
  const rows = Array.from({ length: turns }, (_, index) => row(index));
  const before = process.cpuUsage();
  for (let index = 0; index < turns; index += 1) {
    gatehouse.context.tracing.recordTurn(rows[index] as never, Date.now(), []);
    // Let the batch processor's timers and the writer's inserts run as they would between requests.
    if (index % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
  }
  await gatehouse.context.tracing.forceFlush();
  await gatehouse.writer.flush();
  const cpu = process.cpuUsage(before);
  if (round > 0) results.push((cpu.user + cpu.system) / turns);
}
results.sort((a, b) => a - b);
console.log(`telemetry path: ${results[Math.floor(results.length / 2)]?.toFixed(1)} µs CPU per turn (median of ${results.length} rounds of ${turns}; first round is warm-up)`);
await gatehouse.close();
