import type { TurnRecord } from '../telemetry/turn-record.ts';
import { classifyCommand, type CommandCategory } from './classify-command.ts';
import { classifyToolOutput, type ToolOutcomeStatus } from './classify-tool-output.ts';
import { countTrailingFailedToolResults } from './count-trailing-failed-tool-results.ts';
import { callsBefore, readHistory, type HistoryEntry } from './read-history.ts';
import { declaredToolsOf, validateToolCall, type CallValidity } from './validate-tool-call.ts';

/** Columns every score row carries so quality can be sliced like cost. */
export interface TurnDimensions {
  served_model: string;
  provider: string;
  cost_center: string;
  developer: string;
  policy_version: number;
  rule_id: string;
  requested_model: string;
  /** Lower bound of the input-token bucket (0, 1000, 2000, 4000, 8000, … 256000). */
  input_token_bucket: number;
  /** Hour of day (UTC) the turn started. */
  hour: number;
  /** The turn's routing or policy decision ran in dry-run. */
  dry_run: boolean;
}

/** A tool call the model made in this turn, with its validity. No arguments unless capture is `full`. */
export interface ToolCallSignal {
  callId: string;
  name: string;
  kind: 'function' | 'custom';
  validity: CallValidity;
  reason: string;
  category: CommandCategory;
  runner: string;
  /** Command text, only when the cost center's capture is `full`. */
  command: string;
}

/** The result of an earlier call, found in this request's resent history. */
export interface ToolResultSignal {
  callId: string;
  name: string;
  status: ToolOutcomeStatus;
  exitCode: number | null;
  category: CommandCategory;
  runner: string;
  command: string;
}

/** Everything the evaluator needs from one turn: JSON only, signals not content. */
export interface TurnSignals {
  requestId: string;
  sessionId: string;
  turnId: string;
  turnSeq: number;
  ts: string;
  traceId: string;
  spanId: string;
  /** Wall clock (ms) when the gateway handed the turn over; session idleness is measured from it. */
  handledAtMillis: number;
  statusCode: number;
  errorCode: string;
  capture: string;
  /** The turn answered with text and no tool calls. */
  finalAnswer: boolean;
  costUsd: number;
  dims: TurnDimensions;
  calls: ToolCallSignal[];
  results: ToolResultSignal[];
  /** Consecutive failed tool results at the end of this request's history. */
  trailingFailedResults: number;
}

/** Milliseconds of a timestamp given as ISO 8601 or ClickHouse text (`2026-11-28 03:10:00.123`, read as UTC). */
export function parseUtcMillis(value: string): number {
  const clickhouseText = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(value);
  return Date.parse(clickhouseText ? `${value.replace(' ', 'T')}Z` : value);
}

const BUCKETS = [256_000, 128_000, 64_000, 32_000, 16_000, 8_000, 4_000, 2_000, 1_000];

export function inputTokenBucket(tokens: number): number {
  for (const bound of BUCKETS) if (tokens >= bound) return bound;
  return 0;
}

const SHELL_TOOLS = new Set(['exec_command', 'shell', 'local_shell', 'container.exec', 'shell_command', 'bash', 'run_command', 'execute_command']);

/** What a call runs, as far as its name and input tell. */
function commandOf(name: string, kind: 'function' | 'custom', input: string): { category: CommandCategory; runner: string; command: string } {
  if (name === 'apply_patch') return { category: 'patch', runner: 'apply_patch', command: '' };
  if (kind !== 'function' || !SHELL_TOOLS.has(name)) return { category: 'other', runner: '', command: '' };
  let command: string | string[] = '';
  try {
    const args = JSON.parse(input) as Record<string, unknown>;
    const value = args.cmd ?? args.command;
    if (typeof value === 'string') command = value;
    else if (Array.isArray(value)) command = value.map(String);
  } catch {
    return { category: 'other', runner: '', command: '' };
  }
  const classified = classifyCommand(command);
  return { ...classified, command: Array.isArray(command) ? command.join(' ') : command };
}

/**
 * The results in the history from item `fromItem` on, each with the call that made it (looked up in
 * the earlier items only for results whose call is not in that tail).
 */
function resultsOf(body: Record<string, unknown>, fromItem: number): { result: Extract<HistoryEntry, { type: 'result' }>; call: Extract<HistoryEntry, { type: 'call' }> | undefined }[] {
  const callsById = new Map<string, Extract<HistoryEntry, { type: 'call' }>>();
  const found: { result: Extract<HistoryEntry, { type: 'result' }>; call: Extract<HistoryEntry, { type: 'call' }> | undefined }[] = [];
  for (const entry of readHistory(body, fromItem)) {
    if (entry.type === 'call') callsById.set(entry.callId, entry);
    else if (entry.type === 'result') found.push({ result: entry, call: callsById.get(entry.callId) });
  }
  const missing = new Set(found.filter((pair) => pair.call === undefined).map((pair) => pair.result.callId));
  if (fromItem > 0 && missing.size > 0) {
    const earlier = callsBefore(body, fromItem, missing);
    for (const pair of found) pair.call ??= earlier.get(pair.result.callId);
  }
  return found;
}

/**
 * Extracts a turn's signals: the calls the model made (validated against the declared tools) and
 * the outcomes of earlier calls resent in the history. Pure; runs in the gateway process off the
 * request path, so the queue carries signals, never prompts or code.
 *
 * `fromItem` reads the history's results from that item on: the evaluator passes where the
 * session's previous turn ended (evaluator/history-marks.ts), whose results were extracted then,
 * so a turn costs what it adds rather than the whole resent conversation.
 */
// Over 60 lines: one field-by-field mapping of a span and its history to TurnSignals; the reading lives in the helpers above.
export function extractTurnSignals(record: TurnRecord, nowMillis: number = Date.now(), fromItem = 0): TurnSignals {
  const span = record.span;
  const full = span.capture === 'full';
  const tools = declaredToolsOf(record.body);
  const calls: ToolCallSignal[] = record.toolCalls.map((call) => {
    const validation = validateToolCall(call, tools);
    const command = commandOf(call.name, call.kind, call.input);
    return {
      callId: call.callId,
      name: call.name,
      kind: call.kind,
      validity: validation.validity,
      reason: validation.reason,
      category: command.category,
      runner: command.runner,
      command: full ? command.command : '',
    };
  });
  const results: ToolResultSignal[] = resultsOf(record.body, fromItem).map(({ result, call }) => {
    const outcome = classifyToolOutput(result.output, result.isError);
    const command = call ? commandOf(call.name, call.kind, call.input) : { category: 'other' as const, runner: '', command: '' };
    return {
      callId: result.callId,
      name: call?.name ?? '',
      status: outcome.status,
      exitCode: outcome.exitCode,
      category: command.category,
      runner: command.runner,
      command: full ? command.command : '',
    };
  });
  const ok = span.status_code >= 200 && span.status_code < 300 && span.error_code === '';
  const started = parseUtcMillis(span.ts);
  return {
    requestId: span.request_id,
    sessionId: span.session_id,
    turnId: span.turn_id,
    turnSeq: span.turn_seq,
    ts: span.ts,
    traceId: span.trace_id,
    spanId: span.span_id,
    handledAtMillis: nowMillis,
    statusCode: span.status_code,
    errorCode: span.error_code,
    capture: span.capture,
    finalAnswer: ok && calls.length === 0,
    costUsd: span.cost_usd,
    dims: {
      served_model: span.served_model,
      provider: span.provider,
      cost_center: span.cost_center,
      developer: span.developer,
      policy_version: span.policy_version,
      rule_id: span.rule_id,
      requested_model: span.requested_model,
      input_token_bucket: inputTokenBucket(span.input_tokens),
      hour: Number.isNaN(started) ? 0 : new Date(started).getUTCHours(),
      dry_run: span.rule_dry_run || span.dry_run_decision !== '',
    },
    calls,
    results,
    trailingFailedResults: countTrailingFailedToolResults(record.body),
  };
}
