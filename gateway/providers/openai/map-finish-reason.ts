import type { FinishReason } from '../../canonical/finish-reason.ts';

/** Responses has a status, not a finish reason: completed with tool calls means `tool-calls`. */
export function mapResponsesFinishReason(status: string | undefined, incompleteReason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (status === 'incomplete') {
    return { unified: incompleteReason === 'content_filter' ? 'content-filter' : incompleteReason === 'max_output_tokens' ? 'length' : 'other', raw: incompleteReason ?? status };
  }
  if (status === 'completed' || status === undefined) return { unified: hasToolCalls ? 'tool-calls' : 'stop', raw: status };
  return { unified: 'other', raw: status };
}
