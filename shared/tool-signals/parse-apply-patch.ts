/**
 * A parser for the `apply_patch` freeform tool's language, exactly as Codex CLI declares it in the
 * tool's `format.definition` (lark):
 *
 * ```
 * start: begin_patch hunk+ end_patch
 * begin_patch: "*** Begin Patch" LF
 * end_patch: "*** End Patch" LF?
 * hunk: add_hunk | delete_hunk | update_hunk
 * add_hunk: "*** Add File: " filename LF add_line+
 * delete_hunk: "*** Delete File: " filename LF
 * update_hunk: "*** Update File: " filename LF change_move? change?
 * filename: /(.+)/
 * add_line: "+" /(.*)/ LF -> line
 * change_move: "*** Move to: " filename LF
 * change: (change_context | change_line)+ eof_line?
 * change_context: ("@@" | "@@ " /(.+)/) LF
 * change_line: ("+" | "-" | " ") /(.*)/ LF
 * eof_line: "*** End of File" LF
 * ```
 *
 * Strict on purpose: a provider that does not enforce the grammar (a translated upstream) can emit
 * patches Codex cannot apply, and that is what the validity scorer must see. `/(.*)/` never spans
 * a newline, so the input is processed line by line; `\r` stays part of a line, as in lark.
 */

/** One file touched by a patch. */
export interface PatchFileChange {
  operation: 'add' | 'delete' | 'update';
  path: string;
  /** Set when an update hunk renames the file (`*** Move to:`). */
  moveTo?: string;
}

export type ApplyPatchParseResult =
  | { ok: true; files: PatchFileChange[]; addedLines: number; removedLines: number }
  | { ok: false; error: string; /** 1-based line of the input where parsing failed. */ line: number };

const BEGIN = '*** Begin Patch';
const END = '*** End Patch';
const ADD = '*** Add File: ';
const DELETE = '*** Delete File: ';
const UPDATE = '*** Update File: ';
const MOVE = '*** Move to: ';
const END_OF_FILE = '*** End of File';

function isHunkHeader(line: string): boolean {
  return line.startsWith(ADD) || line.startsWith(DELETE) || line.startsWith(UPDATE);
}

/** Parses an apply_patch input; never throws. */
// Over 60 lines: one line-by-line parser of the apply_patch grammar; the three hunk kinds share the cursor and the counts.
export function parseApplyPatch(input: string): ApplyPatchParseResult {
  const lines = input.split('\n');
  // A final LF produces one empty trailing element; it is the optional LF after `*** End Patch`
  // (or the mandatory LF of the last line), not a line of its own.
  let lastIndex = input.endsWith('\n') ? lines.length - 2 : lines.length - 1;
  const fail = (error: string, index: number): ApplyPatchParseResult => ({ ok: false, error, line: index + 1 });
  if (lastIndex < 0 || lines[0] !== BEGIN) return fail(`expected "${BEGIN}" on the first line`, 0);
  if (lastIndex === 0) return fail('the patch has no LF after the begin marker and no hunks', 0);
  // Without the end marker every line is hunk text, so an earlier error is reported first.
  const hasEnd = lines[lastIndex] === END;
  if (!hasEnd) lastIndex += 1;
  const files: PatchFileChange[] = [];
  let addedLines = 0;
  let removedLines = 0;
  let index = 1;
  while (index < lastIndex) {
    const header = lines[index] as string;
    if (header.startsWith(ADD)) {
      const path = header.slice(ADD.length);
      if (path.length === 0) return fail('"*** Add File:" needs a file name', index);
      index += 1;
      let count = 0;
      while (index < lastIndex && (lines[index] as string).startsWith('+')) {
        count += 1;
        index += 1;
      }
      if (count === 0) return fail(`"*** Add File: ${path}" needs at least one "+" line`, index);
      addedLines += count;
      files.push({ operation: 'add', path });
    } else if (header.startsWith(DELETE)) {
      const path = header.slice(DELETE.length);
      if (path.length === 0) return fail('"*** Delete File:" needs a file name', index);
      files.push({ operation: 'delete', path });
      index += 1;
    } else if (header.startsWith(UPDATE)) {
      const path = header.slice(UPDATE.length);
      if (path.length === 0) return fail('"*** Update File:" needs a file name', index);
      const change: PatchFileChange = { operation: 'update', path };
      index += 1;
      if (index < lastIndex && (lines[index] as string).startsWith(MOVE)) {
        const target = (lines[index] as string).slice(MOVE.length);
        if (target.length === 0) return fail('"*** Move to:" needs a file name', index);
        change.moveTo = target;
        index += 1;
      }
      let changeLines = 0;
      while (index < lastIndex) {
        const line = lines[index] as string;
        if (line === '@@' || (line.startsWith('@@ ') && line.length > 3)) {
          changeLines += 1;
        } else if (line.startsWith('+')) {
          addedLines += 1;
          changeLines += 1;
        } else if (line.startsWith('-')) {
          removedLines += 1;
          changeLines += 1;
        } else if (line.startsWith(' ')) {
          changeLines += 1;
        } else if (line === END_OF_FILE) {
          if (changeLines === 0) return fail('"*** End of File" must follow at least one change line', index);
          index += 1;
          break;
        } else if (isHunkHeader(line) || line === END) {
          break;
        } else if (line.startsWith('@@')) {
          return fail('a context marker is "@@" alone or "@@ " followed by text', index);
        } else {
          return fail(
            line.length === 0
              ? 'empty line inside an update hunk (context lines start with a space)'
              : `unexpected line in an update hunk (must start with "+", "-", " " or "@@"): ${JSON.stringify(line.slice(0, 40))}`,
            index,
          );
        }
        index += 1;
      }
      files.push(change);
    } else if (header === END) {
      return fail(`unexpected text after "${END}"`, index + 1);
    } else {
      return fail(`expected a hunk header ("*** Add File: ", "*** Delete File: " or "*** Update File: "), got ${JSON.stringify(header.slice(0, 40))}`, index);
    }
  }
  if (!hasEnd) return fail(`expected "${END}" as the last line`, lastIndex - 1);
  if (files.length === 0) return fail('the patch has no hunks', 1);
  return { ok: true, files, addedLines, removedLines };
}
