import type { CanonicalMessage, CanonicalPart } from '../canonical/item.ts';
import type { CanonicalRequest } from '../canonical/request.ts';
import type { CanonicalTool } from '../canonical/tool.ts';
import { warning, type TranslationWarning } from '../canonical/warning.ts';
import type { ProviderCapabilities } from '../providers/provider-adapter.ts';
import { sortKeysDeep } from './stable-json.ts';

/** Separator of flattened namespace tool names: `multi_agent_v1__spawn_agent` (valid for every provider). */
export const NAMESPACE_SEPARATOR = '__';

/** How to turn an upstream tool name back into what the client declared. */
export interface ToolIdentity {
  name: string;
  namespace: string | undefined;
  kind: 'function' | 'custom';
}

export interface PreparedRequest {
  request: CanonicalRequest;
  /** Upstream tool name → client identity, for every tool renamed or re-kinded. */
  identities: Map<string, ToolIdentity>;
  warnings: TranslationWarning[];
}

/**
 * Adapts a canonical request to what the target can carry: custom tools become a function with
 * one string parameter `input`, namespace groups are flattened with reversible names, hosted
 * tools the upstream lacks are dropped, and opaque reasoning from another provider family is
 * dropped. Every change is a warning. Tool schemas get a stable key order.
 */
export function prepareRequest(source: CanonicalRequest, capabilities: ProviderCapabilities): PreparedRequest {
  const warnings: TranslationWarning[] = [];
  const identities = new Map<string, ToolIdentity>();
  const wireName: WireName = (name, namespace) =>
    namespace !== undefined && !capabilities.namespaceTools ? `${namespace}${NAMESPACE_SEPARATOR}${name}` : name;

  const tools = prepareTools(source, capabilities, wireName, warnings, identities);
  const messages = prepareMessages(source, capabilities, wireName, warnings);
  const toolChoice = source.toolChoice !== undefined && typeof source.toolChoice === 'object' ? { name: wireName(source.toolChoice.name, undefined) } : source.toolChoice;
  return { request: { ...source, tools, messages, toolChoice }, identities, warnings };
}

type WireName = (name: string, namespace: string | undefined) => string;

/** The tools the target can carry: hosted ones it lacks dropped, custom ones as functions, namespaces flattened. */
function prepareTools(source: CanonicalRequest, capabilities: ProviderCapabilities, wireName: WireName, warnings: TranslationWarning[], identities: Map<string, ToolIdentity>): CanonicalTool[] {
  const tools: CanonicalTool[] = [];
  for (const tool of source.tools) {
    if (tool.kind === 'hosted') {
      if (capabilities.hostedTools.includes(tool.type)) tools.push(tool);
      else warnings.push(warning('unsupported', `tool:${tool.type}`, `hosted tool ${tool.type} is not available on this upstream and was not sent`));
      continue;
    }
    const name = wireName(tool.name, tool.namespace);
    const flattened = name !== tool.name;
    if (tool.kind === 'custom' && !capabilities.customTools) {
      identities.set(name, { name: tool.name, namespace: tool.namespace, kind: 'custom' });
      warnings.push(warning('compatibility', `tool:${tool.name}`, 'freeform custom tool sent as a function with one string parameter `input`'));
      tools.push({ kind: 'function', name, description: customToolDescription(tool.description, tool.format), parameters: CUSTOM_TOOL_PARAMETERS, strict: undefined, namespace: undefined });
      continue;
    }
    if (flattened) identities.set(name, { name: tool.name, namespace: tool.namespace, kind: tool.kind });
    if (tool.kind === 'function') tools.push({ ...tool, name, namespace: flattened ? undefined : tool.namespace, parameters: sortKeysDeep(tool.parameters) });
    else tools.push({ ...tool, name, namespace: flattened ? undefined : tool.namespace });
  }
  if (source.tools.some((tool) => tool.kind !== 'hosted' && tool.namespace !== undefined) && !capabilities.namespaceTools) {
    warnings.push(warning('compatibility', 'tool:namespace', `namespace tool groups flattened to <namespace>${NAMESPACE_SEPARATOR}<name>`));
  }
  return tools;
}

/** The history the target can carry: other families' opaque reasoning, signatures and raw items dropped, tool names as sent. */
function prepareMessages(source: CanonicalRequest, capabilities: ProviderCapabilities, wireName: WireName, warnings: TranslationWarning[]): CanonicalMessage[] {
  let droppedReasoning = 0;
  let droppedSignatures = 0;
  const droppedItems = new Set<string>();
  const messages: CanonicalMessage[] = [];
  for (const message of source.messages) {
    const parts: CanonicalPart[] = [];
    for (const part of message.parts) {
      if (part.type === 'reasoning') {
        if (part.opaque !== undefined && part.opaque.family !== capabilities.family) {
          droppedReasoning++;
          continue;
        }
        if (part.opaque === undefined && !capabilities.reasoning) {
          droppedReasoning++;
          continue;
        }
        parts.push(part);
      } else if (part.type === 'tool-call') {
        const opaque = part.opaque !== undefined && part.opaque.family !== capabilities.family ? undefined : part.opaque;
        if (opaque !== part.opaque) droppedSignatures++;
        const name = wireName(part.name, part.namespace);
        if (part.kind === 'custom' && !capabilities.customTools) {
          parts.push({ ...part, name, namespace: undefined, kind: 'function', input: JSON.stringify({ input: part.input }), opaque });
        } else parts.push({ ...part, name, namespace: name !== part.name ? undefined : part.namespace, opaque });
      } else if (part.type === 'raw-item') {
        if (part.family === capabilities.family) parts.push(part);
        else droppedItems.add(String(part.item['type']));
      } else if (part.type === 'tool-result' && part.kind === 'custom' && !capabilities.customTools) {
        parts.push({ ...part, kind: 'function' });
      } else parts.push(part);
    }
    if (parts.length > 0) messages.push({ role: message.role, parts });
  }
  if (droppedReasoning > 0) {
    warnings.push(warning('unsupported', 'reasoning.encrypted_content', `${droppedReasoning} reasoning item(s) from another provider family dropped (encrypted reasoning and signatures only work where they were made)`));
  }
  for (const type of droppedItems) warnings.push(warning('unsupported', `input_item:${type}`, `input item type ${type} has no equivalent on this upstream and was not sent`));
  if (droppedSignatures > 0) warnings.push(warning('unsupported', 'tool_call.signature', `${droppedSignatures} tool-call signature(s) from another provider family dropped`));
  return messages;
}

const CUSTOM_TOOL_PARAMETERS: Record<string, unknown> = {
  additionalProperties: false,
  properties: { input: { description: 'The raw freeform input of this tool, exactly as the tool expects it (not JSON-encoded).', type: 'string' } },
  required: ['input'],
  type: 'object',
};

function customToolDescription(description: string | undefined, format: Record<string, unknown> | undefined): string {
  const base = description ?? '';
  if (format === undefined || format['type'] !== 'grammar' || typeof format['definition'] !== 'string') return base;
  return `${base}\n\nPut the whole raw input in the \`input\` string. It must match this ${String(format['syntax'] ?? '')} grammar:\n${format['definition']}`;
}
