import type { InboundProtocol } from '../../../gateway/forward/forward-types.ts';
import type { FakeProvider, ScriptedTurn } from '../../helpers/fake-upstreams/index.ts';

/**
 * The client-protocol conformance battery's cases: for each feature, the request a client of each
 * protocol sends and what the upstream answers. A feature a client protocol cannot express is
 * `unsupported` for that client (with the reason); same-protocol pairs are pass-through (`native`).
 */

type Json = Record<string, unknown>;

export const FEATURES = ['text', 'reasoning', 'function tools', 'custom tools', 'namespace tools', 'parallel calls', 'images', 'json schema output', 'streaming', 'usage with cache', 'errors'] as const;
export type Feature = (typeof FEATURES)[number];

export const CLIENTS: InboundProtocol[] = ['openai-responses', 'openai-chat', 'anthropic-messages'];
export const UPSTREAMS: FakeProvider[] = ['openai', 'azure-openai', 'openai-chat', 'anthropic', 'gemini', 'bedrock'];

/** Same-protocol pairs never go through translation (the upstream's own objects are forwarded). */
export const PASS_THROUGH: Record<InboundProtocol, FakeProvider> = { 'openai-responses': 'openai', 'openai-chat': 'openai-chat', 'anthropic-messages': 'anthropic' };

export const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n';
export const IMAGE = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
const PARAMETERS = { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false };

/** Why a client protocol cannot ask for a feature. */
export const UNSUPPORTED: Partial<Record<InboundProtocol, Partial<Record<Feature, string>>>> = {
  'openai-chat': { 'namespace tools': 'Chat Completions has no namespace tools' },
  'anthropic-messages': {
    'custom tools': 'the Messages API has no freeform (custom) tools',
    'namespace tools': 'the Messages API has no namespace tools',
    'json schema output': 'the Messages API request has no JSON-schema output format the gateway reads',
  },
};

/** Upstream/feature pairs the fakes cannot script (reported as not covered, never as passing). */
export const NOT_COVERED: Partial<Record<FakeProvider, Partial<Record<Feature, string>>>> = {
  'azure-openai': { 'namespace tools': 'the fake Responses upstream cannot answer with a namespaced call' },
  openai: { 'namespace tools': 'the fake Responses upstream cannot answer with a namespaced call' },
};

/** The upstream's scripted answer for a feature. */
export function scriptFor(feature: Feature, upstream: FakeProvider): ScriptedTurn {
  switch (feature) {
    case 'reasoning':
      return { reasoning: { text: 'Thinking about files.', signature: 'sig_conformance' }, text: 'Done.' };
    case 'function tools':
      return { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls -la' }, id: 'call_A1' }] };
    case 'custom tools':
      return { customToolCalls: [{ name: 'apply_patch', input: PATCH, id: 'call_P1' }] };
    case 'namespace tools':
      return { toolCalls: [{ name: upstream === 'openai' || upstream === 'azure-openai' ? 'spawn_agent' : 'multi_agent_v1__spawn_agent', arguments: { cmd: 'review' }, id: 'call_N1' }] };
    case 'parallel calls':
      return { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls' } }, { name: 'exec_command', arguments: { cmd: 'pwd' } }] };
    case 'json schema output':
      // Bedrock has no response format: the gateway forces a tool whose input is the answer.
      return upstream === 'bedrock' ? { toolCalls: [{ name: 'gatehouse_json_output', arguments: { answer: '42' } }] } : { text: '{"answer":"42"}' };
    case 'usage with cache':
      return { text: 'ok', usage: { input: 1000, cached: 800, cacheWrite: upstream === 'anthropic' || upstream === 'bedrock' ? 100 : 0, output: 50 } };
    case 'errors':
      return { text: 'partial answer that will not finish', midStreamError: { message: 'went away' } };
    default:
      return { text: 'Hello from upstream', usage: { input: 50, output: 5 } };
  }
}

/** The error an upstream answers with for the `errors` feature (before any byte). */
export const UPSTREAM_REJECTION: ScriptedTurn = { error: { status: 400, code: 'context_length_exceeded', message: 'prompt is too long' } };

/** The request a client of `client` sends for `feature`. */
export function requestFor(client: InboundProtocol, feature: Feature, stream: boolean): Json {
  if (client === 'openai-responses') return responsesRequest(feature, stream);
  if (client === 'openai-chat') return chatRequest(feature, stream);
  return anthropicRequest(feature, stream);
}

function responsesRequest(feature: Feature, stream: boolean): Json {
  const content: Json[] = [{ type: 'input_text', text: 'create hello.txt' }];
  if (feature === 'images') content.push({ type: 'input_image', image_url: `data:image/png;base64,${IMAGE}`, detail: 'auto' });
  const tools: Json[] = [{ type: 'function', name: 'exec_command', description: 'Runs a command.', parameters: PARAMETERS, strict: false }];
  if (feature === 'custom tools') tools.push({ type: 'custom', name: 'apply_patch', description: 'Edit files.', format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch"' } });
  if (feature === 'namespace tools') tools.push({ type: 'namespace', name: 'multi_agent_v1', description: 'Agents.', tools: [{ type: 'function', name: 'spawn_agent', description: 'Spawns an agent.', parameters: PARAMETERS, strict: false }] });
  return {
    model: 'gpt-5.5',
    instructions: 'You are a coding agent.',
    input: [{ type: 'message', role: 'user', content }],
    // Structured output is asked for on its own (no tools), as clients that want a JSON answer do.
    tools: feature === 'json schema output' ? [] : tools,
    tool_choice: 'auto',
    parallel_tool_calls: true,
    store: false,
    stream,
    prompt_cache_key: 'session-1',
    ...(feature === 'reasoning' ? { reasoning: { effort: 'medium', summary: 'auto' }, include: ['reasoning.encrypted_content'] } : {}),
    ...(feature === 'json schema output' ? { text: { format: { type: 'json_schema', name: 'answer', schema: SCHEMA, strict: true } } } : {}),
  };
}

function chatRequest(feature: Feature, stream: boolean): Json {
  const content: Json[] = [{ type: 'text', text: 'create hello.txt' }];
  if (feature === 'images') content.push({ type: 'image_url', image_url: { url: `data:image/png;base64,${IMAGE}` } });
  const tools: Json[] = [{ type: 'function', function: { name: 'exec_command', description: 'Runs a command.', parameters: PARAMETERS } }];
  if (feature === 'custom tools') tools.push({ type: 'custom', custom: { name: 'apply_patch', description: 'Edit files.', format: { type: 'grammar', grammar: { syntax: 'lark', definition: 'start: "*** Begin Patch"' } } } });
  return {
    model: 'gpt-5.5',
    messages: [{ role: 'system', content: 'You are a coding agent.' }, { role: 'user', content }],
    ...(feature === 'json schema output' ? {} : { tools }),
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...(feature === 'reasoning' ? { reasoning_effort: 'medium' } : {}),
    ...(feature === 'json schema output' ? { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: SCHEMA, strict: true } } } : {}),
  };
}

function anthropicRequest(feature: Feature, stream: boolean): Json {
  const content: Json[] = [{ type: 'text', text: 'create hello.txt' }];
  if (feature === 'images') content.push({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: IMAGE } });
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 8192,
    system: 'You are a coding agent.',
    messages: [{ role: 'user', content }],
    tools: [{ name: 'exec_command', description: 'Runs a command.', input_schema: PARAMETERS }],
    stream,
    ...(feature === 'reasoning' ? { thinking: { type: 'enabled', budget_tokens: 4096 } } : {}),
  };
}
