export { parseApplyPatch, type ApplyPatchParseResult, type PatchFileChange } from './parse-apply-patch.ts';
export { classifyCommand, type CommandCategory, type CommandClassification } from './classify-command.ts';
export { classifyToolOutput, isFailedOutcome, toolOutputText, type ToolOutcome, type ToolOutcomeStatus } from './classify-tool-output.ts';
export { declaredToolsOf, validateToolCall, validatorFor, type CallValidation, type CallValidity, type DeclaredTool, type DeclaredTools } from './validate-tool-call.ts';
export { readHistory, visitHistoryBackwards, type HistoryEntry } from './read-history.ts';
export { countTrailingFailedToolResults } from './count-trailing-failed-tool-results.ts';
export {
  extractTurnSignals,
  inputTokenBucket,
  parseUtcMillis,
  type ToolCallSignal,
  type ToolResultSignal,
  type TurnDimensions,
  type TurnSignals,
} from './extract-turn-signals.ts';
