/** Why the model stopped, unified, with the provider's own value kept beside it. */
export interface FinishReason {
  unified: 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'error' | 'other';
  raw: string | undefined;
}
