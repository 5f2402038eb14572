/**
 * Reads the outcome of a tool call from the text the client sent back as its result. Codex CLI
 * formats (0.171.0, see CODEX-CLI.md):
 * - apply_patch: `Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nA hello.txt\n`
 * - exec_command: `Chunk ID: 1c8df5\nWall time: 0.0000 seconds\nProcess exited with code 0\n…`
 * - a still-running command: `Process running with session ID 3\n…`
 * - older Codex `shell`: `{"output":"…","metadata":{"exit_code":1,"duration_seconds":0.5}}`
 * Only the head of the text is examined: the markers come first and outputs can be megabytes.
 */

/**
 * - `success` / `failure`: known.
 * - `timeout`: the command was killed for running too long (a failure).
 * - `running`: a long-running command yielded; its result comes later (neither).
 * - `unknown`: a result came back without any marker (non-command tools); treated as success by scorers.
 */
export type ToolOutcomeStatus = 'success' | 'failure' | 'timeout' | 'running' | 'unknown';

export interface ToolOutcome {
  status: ToolOutcomeStatus;
  /** Process exit code when the output states one. */
  exitCode: number | null;
}

const HEAD_CHARS = 1024;
const EXIT_CODE = /(?:^|\n)Exit code: (-?\d+)/;
const PROCESS_EXITED = /Process exited with code (-?\d+)/;
const JSON_EXIT_CODE = /"exit_code"\s*:\s*(-?\d+)/;
const RUNNING = /Process running with session ID \d+/;
const TIMED_OUT = /\btimed out\b|\btimeout exceeded\b|command timed out/i;
const PATCH_SUCCESS = /Success\. Updated the following files/;
const FAILURE_MARKERS =
  /apply_patch verification failed|Failed to find (?:expected lines|context)|Invalid patch|invalid hunk|patch rejected|exec command rejected|rejected by user|aborted by user|sandbox denied|Permission denied \(sandbox\)|execution error|^error:|^Error:|failed to parse function arguments|unsupported call/m;

/** The text of a tool result, whatever shape the protocol used (string, content parts, blocks). */
export function toolOutputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) {
    let text = '';
    for (const part of output) {
      if (typeof part === 'string') text += part;
      else if (part !== null && typeof part === 'object') {
        const value = (part as { text?: unknown }).text;
        if (typeof value === 'string') text += (text.length > 0 ? '\n' : '') + value;
      }
      if (text.length >= HEAD_CHARS) break;
    }
    return text;
  }
  if (output !== null && typeof output === 'object') {
    const value = (output as { text?: unknown; content?: unknown }).text ?? (output as { content?: unknown }).content;
    if (value !== undefined) return toolOutputText(value);
    return JSON.stringify(output).slice(0, HEAD_CHARS);
  }
  return '';
}

/**
 * Classifies a tool result. `isError` is the protocol's own flag (Anthropic `tool_result.is_error`),
 * which wins when set.
 */
export function classifyToolOutput(output: unknown, isError?: boolean): ToolOutcome {
  const text = toolOutputText(output);
  const head = text.length > HEAD_CHARS ? text.slice(0, HEAD_CHARS) : text;
  const exitMatch = EXIT_CODE.exec(head) ?? PROCESS_EXITED.exec(head) ?? JSON_EXIT_CODE.exec(head);
  const exitCode = exitMatch ? Number.parseInt(exitMatch[1] as string, 10) : null;
  if (isError === true) return { status: TIMED_OUT.test(head) ? 'timeout' : 'failure', exitCode };
  if (exitCode === 124 || (exitCode !== 0 && TIMED_OUT.test(head))) return { status: 'timeout', exitCode };
  if (exitCode !== null) {
    // apply_patch reports `Exit code: 0` with a failure text when verification fails in some versions.
    if (exitCode === 0 && !PATCH_SUCCESS.test(head) && /apply_patch verification failed|Failed to find/.test(head)) return { status: 'failure', exitCode };
    return { status: exitCode === 0 ? 'success' : 'failure', exitCode };
  }
  if (RUNNING.test(head)) return { status: 'running', exitCode: null };
  if (PATCH_SUCCESS.test(head)) return { status: 'success', exitCode: null };
  if (TIMED_OUT.test(head)) return { status: 'timeout', exitCode: null };
  if (FAILURE_MARKERS.test(head)) return { status: 'failure', exitCode: null };
  return { status: 'unknown', exitCode: null };
}

/** True for outcomes that count as a failed tool call (retry cap, loops, accuracy). */
export function isFailedOutcome(status: ToolOutcomeStatus): boolean {
  return status === 'failure' || status === 'timeout';
}
