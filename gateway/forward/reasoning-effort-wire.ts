import type { ProviderConfig } from '../../shared/config/config-schema.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';
import type { PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { resolveOpenAICompatible } from '../providers/openai-compatible-presets.ts';
import type { InboundProtocol } from './forward-types.ts';

/**
 * Where a reasoning effort lives on each wire, for the optimizer's lowered-effort candidates.
 * Responses carries `reasoning.effort`, Chat `reasoning_effort`; a Messages client (Claude Code) sends
 * a thinking budget, not an effort, so effort candidates leave its turns alone.
 */
export function clientReasoningEffort(inbound: InboundProtocol, body: Record<string, unknown>): string | undefined {
  if (inbound === 'openai-responses') {
    const reasoning = body.reasoning;
    const effort = reasoning !== null && typeof reasoning === 'object' ? (reasoning as Record<string, unknown>).effort : undefined;
    return typeof effort === 'string' ? effort : undefined;
  }
  if (inbound === 'openai-chat') return typeof body.reasoning_effort === 'string' ? body.reasoning_effort : undefined;
  return undefined;
}

/**
 * Whether a changed effort reaches `provider` from a client of `inbound`: the pass-throughs splice it
 * into the client's bytes; translation sets the canonical effort, which the OpenAI adapters send as is,
 * an OpenAI-compatible server only when its preset takes `reasoning_effort`, and Anthropic, Gemini and
 * Bedrock turn into a thinking budget (none for `none`).
 */
export function carriesReasoningEffort(inbound: InboundProtocol, provider: ProviderConfig, effort: string): boolean {
  if (inbound === 'anthropic-messages') return false;
  switch (provider.type) {
    case 'openai':
    case 'azure-openai':
      return true;
    case 'openai-chat':
      return inbound === 'openai-chat' || resolveOpenAICompatible(provider).reasoningEffort;
    default:
      return effort !== 'none';
  }
}

/**
 * The plan a turn may follow: an effort candidate whose target cannot carry an effort from this
 * client is skipped for this turn (a turn served at the client's effort would teach the optimizer
 * nothing about the candidate).
 */
export function planForTurn(plan: ExplorationPlan | undefined, inbound: InboundProtocol, policy: PolicyDocument, providers: Readonly<Record<string, ProviderConfig>>): ExplorationPlan | undefined {
  if (plan?.reasoningEffort === undefined) return plan;
  const provider = providers[policy.models[plan.routeTo]?.provider ?? ''];
  return provider && carriesReasoningEffort(inbound, provider, plan.reasoningEffort) ? plan : undefined;
}

/** The top-level members that set `effort` on a pass-through body (spliced into the client's bytes by the forwarder). */
export function effortMembers(inbound: InboundProtocol, body: Record<string, unknown>, effort: string): Record<string, unknown> {
  if (inbound === 'openai-responses') {
    const reasoning = body.reasoning !== null && typeof body.reasoning === 'object' ? (body.reasoning as Record<string, unknown>) : {};
    return { reasoning: { ...reasoning, effort } };
  }
  if (inbound === 'openai-chat') return { reasoning_effort: effort };
  return {};
}
