import type { Command } from 'commander';
import type { CliIo } from '../cli-io.ts';
import { AdminClient, addAdminOptions, addOutputOptions, type AdminOptions } from '../admin-client.ts';
import { outputFormat, printRecords } from '../output.ts';

/** One model as GET /admin/models lists it. */
interface ModelView {
  name: string;
  provider: string;
  provider_type: string;
  upstream: string;
  servable: boolean;
  price: { input: number; cached_input?: number; cache_write?: number; output: number } | null;
  long_context: { above_input_tokens: number; input: number; output: number } | null;
  price_source: string;
  context_window: number | null;
  cost_centers: string[];
}

const usd = (value: number | undefined) => (value === undefined ? '' : `$${value.toFixed(value < 1 ? 3 : 2)}`);

/** `gatehouse models`: what the gateway can serve, at which price, and where each price came from. */
export function registerModelsCommand(program: Command, io: CliIo): void {
  addOutputOptions(
    addAdminOptions(program.command('models').description('models the gateway can serve, with prices (USD per million tokens) and where each price came from')),
    'models',
  ).action((options: AdminOptions & { json?: boolean; csv?: boolean }) => listModels(options, io));
}

async function listModels(options: AdminOptions & { json?: boolean; csv?: boolean }, io: CliIo): Promise<void> {
  const format = outputFormat(options);
  const listing = await new AdminClient(options).json<{ policy_version: number; catalog: string; models: ModelView[] }>('GET', '/admin/models');
  printRecords(io, format, listing.models, [
    { heading: 'model', value: (model) => model.name },
    { heading: 'provider', value: (model) => `${model.provider}${model.servable ? '' : ' (not configured)'}` },
    { heading: 'upstream', value: (model) => model.upstream },
    { heading: 'input', value: (model) => usd(model.price?.input) },
    { heading: 'cached', value: (model) => usd(model.price?.cached_input) },
    { heading: 'output', value: (model) => usd(model.price?.output) },
    { heading: 'long context', value: (model) => (model.long_context ? `>${Math.round(model.long_context.above_input_tokens / 1000)}K: ${usd(model.long_context.input)}/${usd(model.long_context.output)}` : '') },
    { heading: 'context', value: (model) => (model.context_window ? `${Math.round(model.context_window / 1000)}K` : '') },
    { heading: 'price source', value: (model) => model.price_source },
    { heading: 'cost centers', value: (model) => model.cost_centers.join(' ') },
  ]);
  if (format === 'table') io.out(`policy version ${listing.policy_version}; prices without a policy price come from ${listing.catalog}`);
}
