import type { IncomingHttpHeaders } from 'node:http';
import { sha256Hex } from '../../shared/crypto/hashing.ts';

/** Who and what a turn is about, read from the client's own headers and body. */
export interface SessionFacts {
  sessionId: string;
  turnId: string;
  /** Position of this request in its session: items of history it carries. */
  turnSeq: number;
  repo: string;
  client: string;
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface CodexTurnMetadata {
  session_id?: string;
  turn_id?: string;
  workspaces?: unknown;
}

function parseTurnMetadata(text: string | undefined): CodexTurnMetadata | undefined {
  if (!text || text.length > 16_384) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as CodexTurnMetadata) : undefined;
  } catch {
    return undefined;
  }
}

/** First workspace root (or git remote) Codex reports, as the repo of the turn. */
function repoFromWorkspaces(workspaces: unknown): string | undefined {
  if (Array.isArray(workspaces)) {
    for (const workspace of workspaces) {
      if (typeof workspace === 'string') return workspace;
      if (workspace && typeof workspace === 'object') {
        const record = workspace as Record<string, unknown>;
        for (const field of ['git_remote', 'repo', 'remote', 'root', 'path', 'cwd']) {
          if (typeof record[field] === 'string') return record[field];
        }
      }
    }
  } else if (workspaces && typeof workspaces === 'object') {
    const first = Object.keys(workspaces)[0];
    if (first) return first;
  }
  return undefined;
}

/**
 * The session part of Anthropic's `metadata.user_id`, as Claude Code fills it: JSON text
 * (`{"device_id":…,"account_uuid":…,"session_id":…}`, 2.x) or `user_<hash>_account_<uuid>_session_<uuid>` (1.x).
 */
function sessionOfUserId(metadata: unknown): string | undefined {
  const userId = (metadata as { user_id?: unknown } | undefined)?.user_id;
  if (typeof userId !== 'string' || userId.length > 1024) return undefined;
  if (userId.charCodeAt(0) === 123) {
    try {
      const sessionId = (JSON.parse(userId) as { session_id?: unknown }).session_id;
      return typeof sessionId === 'string' && sessionId.length > 0 ? sessionId : undefined;
    } catch {
      return undefined;
    }
  }
  const at = userId.lastIndexOf('_session_');
  return at === -1 || at + 9 === userId.length ? undefined : userId.slice(at + 9);
}

/**
 * Session and turn ids: Codex's `session-id` and `x-codex-turn-metadata`, Claude Code's
 * `x-claude-code-session-id` and `metadata.user_id`, else `x-session-id`, else one derived from
 * `prompt_cache_key`; a request with none of them is its own session. Claude Code sends no turn id:
 * each of its requests is a turn of its own (the request id). @see ../../docs/CLAUDE-CODE.md
 */
export function readSessionFacts(headers: IncomingHttpHeaders, body: Record<string, unknown>, requestId: string): SessionFacts {
  const metadata = parseTurnMetadata(headerText(headers, 'x-codex-turn-metadata'));
  const promptCacheKey = typeof body.prompt_cache_key === 'string' ? body.prompt_cache_key : undefined;
  const sessionId =
    headerText(headers, 'session-id') ??
    metadata?.session_id ??
    headerText(headers, 'x-claude-code-session-id') ??
    sessionOfUserId(body.metadata) ??
    headerText(headers, 'x-session-id') ??
    (promptCacheKey ? `pck_${sha256Hex(promptCacheKey).slice(0, 24)}` : requestId);
  const items = Array.isArray(body.input) ? body.input.length : Array.isArray(body.messages) ? body.messages.length : 0;
  return {
    sessionId,
    turnId: metadata?.turn_id ?? headerText(headers, 'x-turn-id') ?? requestId,
    turnSeq: items,
    repo: headerText(headers, 'x-gatehouse-repo') ?? repoFromWorkspaces(metadata?.workspaces) ?? '',
    client: (headerText(headers, 'originator') ?? headerText(headers, 'user-agent') ?? '').slice(0, 120),
  };
}

/**
 * Input-token estimate for budget reservations and rules, without tokenizing: BPE tokenizers
 * average ~4 bytes per token on prose and ~3.5 on code; 3 errs on the high side, so a reservation
 * covers the real cost and concurrent requests cannot jointly overspend.
 */
export function estimateInputTokens(rawBodyBytes: number): number {
  return Math.ceil(rawBodyBytes / 3);
}
