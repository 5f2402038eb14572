import { warning, type TranslationWarning } from '../canonical/warning.ts';

/** One wire turn before normalisation: a role and the provider's content blocks. */
export interface WireTurn<Block> {
  role: 'user' | 'assistant';
  content: Block[];
}

/** What an upstream refuses, and how to build what it needs instead. */
export interface ConversationRules<Block> {
  /** Provider name for the warnings. */
  provider: string;
  /** The first turn must be the user's (Bedrock, Anthropic, Gemini). */
  userFirst: boolean;
  /** The text of a text block, undefined for any other block. */
  textOf(block: Block): string | undefined;
  /** A text block. */
  text(value: string): Block;
}

/** Put before an assistant turn that opens a conversation: the upstream needs a user turn first. */
export const CONTINUATION_PROMPT = '(continue the conversation)';
/** Between two text turns of one role that are merged into one. */
export const MERGE_SEPARATOR = '\n\n';

/**
 * Rewrites a conversation into one the upstream accepts: empty text parts dropped, empty turns
 * dropped, consecutive same-role turns merged into one (roles alternate), and a user turn put
 * first when the upstream needs one. Every rewrite is a warning, as other lossy conversions are.
 * Merging a tool-result turn into the next user turn is how these APIs carry tool results, so it
 * is not reported; merging two turns that both have text is, and where two texts meet they become
 * one with a blank line between.
 */
export function normalizeConversation<Block>(turns: WireTurn<Block>[], rules: ConversationRules<Block>): { turns: WireTurn<Block>[]; warnings: TranslationWarning[] } {
  const warnings: TranslationWarning[] = [];
  let emptyParts = 0;
  const merged: Record<WireTurn<Block>['role'], number> = { user: 0, assistant: 0 };
  const out: WireTurn<Block>[] = [];
  for (const turn of turns) {
    // Whitespace-only counts as empty: Anthropic and Bedrock refuse blank text blocks too.
    const content = turn.content.filter((block) => {
      const empty = rules.textOf(block)?.trim() === '';
      if (empty) emptyParts++;
      return !empty;
    });
    if (content.length === 0) continue;
    const last = out.at(-1);
    if (last === undefined || last.role !== turn.role) {
      out.push({ role: turn.role, content });
      continue;
    }
    const before = rules.textOf(last.content.at(-1) as Block);
    const after = rules.textOf(content[0] as Block);
    if (last.content.some((block) => rules.textOf(block) !== undefined) && content.some((block) => rules.textOf(block) !== undefined)) merged[turn.role]++;
    // Two texts that meet become one text with a blank line between, never "…number.The number…".
    if (before !== undefined && after !== undefined) last.content.splice(-1, 1, rules.text(before + MERGE_SEPARATOR + after), ...content.slice(1));
    else last.content.push(...content);
  }
  if (emptyParts > 0) warnings.push(warning('compatibility', 'conversation.empty_text', `${emptyParts} empty text part(s) dropped: ${rules.provider} refuses empty text`));
  for (const role of ['user', 'assistant'] as const) {
    if (merged[role] > 0) warnings.push(warning('compatibility', 'conversation.consecutive_roles', `${merged[role]} consecutive ${role} message(s) merged into the one before (blank line between): ${rules.provider} needs alternating roles`));
  }
  if (rules.userFirst && out[0]?.role === 'assistant') {
    out.unshift({ role: 'user', content: [rules.text(CONTINUATION_PROMPT)] });
    warnings.push(warning('compatibility', 'conversation.user_first', `the conversation started with an assistant message; "${CONTINUATION_PROMPT}" was put before it as the user's turn: ${rules.provider} needs a user message first`));
  }
  return { turns: out, warnings };
}
