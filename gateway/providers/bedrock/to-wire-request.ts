import type { ImagePart } from '../../canonical/item.ts';
import type { CanonicalRequest } from '../../canonical/request.ts';
import { warning, type TranslationWarning } from '../../canonical/warning.ts';
import type { AdapterContext, OutboundRequest } from '../provider-adapter.ts';
import { normalizeConversation, type WireTurn } from '../normalize-conversation.ts';
import { parseArguments } from '../wire-json.ts';
import { BEDROCK_JSON_OUTPUT_TOOL, BEDROCK_SIGNING_SERVICE, type ConverseContentBlock, type ConverseMessage, type ConverseRequest, type ConverseSystemBlock, type ConverseTool } from './wire-schema.ts';

const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 4096, medium: 10_000, high: 24_000, xhigh: 32_000 };

/** Canonical request → Converse body. Cache points after the system prompt and the tools. */
// Over 60 lines: one field-by-field mapping to the provider's wire format, read top to bottom against the Converse API docs.
export function toConverseBody(request: CanonicalRequest): { body: ConverseRequest; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  const system: ConverseSystemBlock[] = [];
  const turns: WireTurn<ConverseContentBlock>[] = [];
  const image = (part: ImagePart): { image: { format: string; source: { bytes: string } } } | undefined => {
    if (part.data === undefined) {
      warnings.push(warning('unsupported', 'image.url', 'Bedrock takes image bytes only; an image URL was not sent'));
      return undefined;
    }
    return { image: { format: (part.mediaType ?? 'image/png').replace('image/', '').replace('jpg', 'jpeg'), source: { bytes: part.data } } };
  };
  let unsigned = 0;
  for (const message of request.messages) {
    if (message.role === 'system') {
      for (const part of message.parts) if (part.type === 'text') system.push({ text: part.text });
      continue;
    }
    const blocks: ConverseContentBlock[] = [];
    for (const part of message.parts) {
      if (part.type === 'text') {
        blocks.push({ text: part.text });
      } else if (part.type === 'image') {
        const block = image(part);
        if (block !== undefined) blocks.push(block);
      } else if (part.type === 'reasoning') {
        if (part.opaque?.kind === 'redacted_thinking') blocks.push({ reasoningContent: { redactedContent: part.opaque.value } });
        else if (part.opaque !== undefined) blocks.push({ reasoningContent: { reasoningText: { text: part.text, signature: part.opaque.value } } });
        else unsigned++;
      } else if (part.type === 'tool-call') {
        const parsed = parseArguments(part.input);
        if (!parsed.valid) warnings.push(warning('compatibility', `tool_call:${part.name}`, 'tool call arguments were not a JSON object; sent as {}'));
        blocks.push({ toolUse: { toolUseId: part.callId, name: part.name, input: parsed.value } });
      } else if (part.type === 'tool-result') {
        const content: ({ text: string } | { image: { format: string; source: { bytes: string } } })[] = [{ text: part.output }];
        for (const item of part.images ?? []) {
          const block = image(item);
          if (block !== undefined) content.push(block);
        }
        blocks.push({ toolResult: { toolUseId: part.callId, content, status: part.isError ? 'error' : 'success' } });
      }
    }
    turns.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: blocks });
  }
  // Converse refuses blank text, a conversation that does not start with the user, and two turns of one role in a row.
  const normalized = normalizeConversation(turns, { provider: 'Bedrock', userFirst: true, textOf: (block) => ('text' in block && typeof block.text === 'string' ? block.text : undefined), text: (text) => ({ text }) });
  const messages: ConverseMessage[] = normalized.turns;
  warnings.push(...normalized.warnings);
  if (unsigned > 0) warnings.push(warning('unsupported', 'reasoning', `${unsigned} reasoning item(s) without a Bedrock signature not sent`));
  const body: ConverseRequest = { messages };
  if (system.length > 0) body.system = [...system, { cachePoint: { type: 'default' } }];
  const tools: ConverseTool[] = request.tools.flatMap((tool) =>
    tool.kind === 'function' ? [{ toolSpec: { name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), inputSchema: { json: tool.parameters } } }] : [],
  );
  if (tools.length > 0 && request.toolChoice !== 'none') {
    body.toolConfig = { tools: [...tools, { cachePoint: { type: 'default' } }] };
    const choice = request.toolChoice;
    if (choice === 'required') body.toolConfig.toolChoice = { any: {} };
    else if (typeof choice === 'object') body.toolConfig.toolChoice = { tool: { name: choice.name } };
  } else if (tools.length > 0) {
    // Converse has no "none" choice and rejects tool history without a toolConfig, so the tools stay.
    body.toolConfig = { tools };
    warnings.push(warning('unsupported', 'tool_choice', 'tool_choice "none" is not supported by Bedrock Converse; tools were still offered'));
  }
  structuredOutput(request, body, warnings);
  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {};
  if (request.maxOutputTokens !== undefined) inference.maxTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) inference.temperature = request.temperature;
  if (request.topP !== undefined) inference.topP = request.topP;
  if (request.stopSequences !== undefined) inference.stopSequences = request.stopSequences;
  const lastAssistant = messages.findLast((message) => message.role === 'assistant');
  const inForeignToolLoop =
    messages.at(-1)?.content.some((block) => 'toolResult' in block) === true && lastAssistant !== undefined && !('reasoningContent' in (lastAssistant.content[0] ?? {}));
  const forcedTool = body.toolConfig?.toolChoice !== undefined && !('auto' in body.toolConfig.toolChoice);
  if (request.reasoningEffort !== undefined && THINKING_BUDGET[request.reasoningEffort] !== undefined && (inForeignToolLoop || forcedTool)) {
    // Same constraints as Anthropic's API for Claude: no thinking with a forced tool or an unsigned tool-use turn.
    warnings.push(warning('unsupported', 'reasoning.effort', 'extended thinking not enabled: forced tool choice or a tool-use turn without a Bedrock reasoning block'));
  } else if (request.reasoningEffort !== undefined && THINKING_BUDGET[request.reasoningEffort] !== undefined) {
    // Claude on Bedrock: extended thinking via additionalModelRequestFields.
    const budget = THINKING_BUDGET[request.reasoningEffort]!;
    body.additionalModelRequestFields = { thinking: { type: 'enabled', budget_tokens: budget } };
    if (inference.maxTokens === undefined || inference.maxTokens <= budget) inference.maxTokens = budget + 8192;
    if (inference.temperature !== undefined || inference.topP !== undefined) {
      warnings.push(warning('unsupported', 'temperature', 'temperature/top_p not sent with extended thinking'));
      delete inference.temperature;
      delete inference.topP;
    }
  }
  if (request.topK !== undefined) warnings.push(warning('unsupported', 'top_k', 'top_k is not part of Converse inferenceConfig'));
  if (request.parallelToolCalls === false) warnings.push(warning('unsupported', 'parallel_tool_calls', 'Converse cannot disable parallel tool calls'));
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  return { body, warnings };
}

/**
 * JSON-schema output on Converse, which has no response format: the tool-use pattern (one forced
 * tool whose input schema is the output schema; its input comes back as the answer's text). With
 * client tools in the request a forced tool would stop the model from using them, so then, and for
 * `json_object`, the format is not enforced and the span says so.
 */
function structuredOutput(request: CanonicalRequest, body: ConverseRequest, warnings: TranslationWarning[]): void {
  const format = request.responseFormat;
  if (format === undefined || format['type'] === 'text') return;
  const nested = format['json_schema'] as Record<string, unknown> | undefined;
  const schema = (format['schema'] ?? nested?.['schema']) as Record<string, unknown> | undefined;
  if (format['type'] === 'json_schema' && schema !== undefined && body.toolConfig === undefined) {
    const description = 'Give your final answer as the input of this tool: a JSON value matching its schema.';
    body.toolConfig = { tools: [{ toolSpec: { name: BEDROCK_JSON_OUTPUT_TOOL, description, inputSchema: { json: schema } } }], toolChoice: { tool: { name: BEDROCK_JSON_OUTPUT_TOOL } } };
    warnings.push(warning('compatibility', 'response_format', 'JSON-schema output through a forced Converse tool (Converse has no response format); its input is returned as the answer text'));
    return;
  }
  const why = format['type'] === 'json_schema' ? 'the request also offers tools, which a forced output tool would block' : `${String(format['type'])} has no Converse equivalent`;
  warnings.push(warning('unsupported', 'response_format', `structured output is not enforced on Bedrock Converse (${why}): the answer is not held to the format`));
}

/** `{endpoint}/model/{modelId}/converse-stream`, SigV4-signed by the transport. */
export function toBedrockRequest(request: CanonicalRequest, context: AdapterContext): OutboundRequest {
  const { body, warnings } = toConverseBody(request);
  const provider = context.provider;
  const region = provider.region ?? 'us-east-1';
  const base = (provider.base_url ?? `https://bedrock-runtime.${region}.amazonaws.com`).replace(/\/+$/, '');
  const url = `${base}/model/${encodeURIComponent(request.model)}/${request.stream ? 'converse-stream' : 'converse'}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: request.stream ? 'application/vnd.amazon.eventstream' : 'application/json', ...(provider.headers ?? {}) };
  const aws =
    provider.access_key_id !== undefined && provider.secret_access_key !== undefined
      ? { region, service: BEDROCK_SIGNING_SERVICE, accessKeyId: provider.access_key_id, secretAccessKey: provider.secret_access_key, sessionToken: provider.session_token }
      : undefined;
  if (aws === undefined && provider.api_key !== undefined) headers['authorization'] = `Bearer ${provider.api_key}`;
  return { url, method: 'POST', headers, body: JSON.stringify(body), streamFormat: request.stream ? 'aws-eventstream' : 'json', aws, warnings };
}
