import type { FinishReason } from '../../canonical/finish-reason.ts';

export function mapBedrockFinishReason(raw: string | undefined): FinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return { unified: 'stop', raw };
    case 'tool_use':
      return { unified: 'tool-calls', raw };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { unified: 'length', raw };
    case 'guardrail_intervened':
    case 'content_filtered':
      return { unified: 'content-filter', raw };
    default:
      return { unified: 'other', raw };
  }
}
