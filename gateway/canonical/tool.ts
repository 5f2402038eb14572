/**
 * A tool the client declared. `function` tools take JSON arguments; `custom` tools (freeform,
 * e.g. Codex's `apply_patch` with a lark grammar) take one raw string; `hosted` tools run at the
 * provider (`web_search`, `tool_search`) and are kept as the client sent them.
 */
export type CanonicalTool = CanonicalFunctionTool | CanonicalCustomTool | CanonicalHostedTool;

export interface CanonicalFunctionTool {
  kind: 'function';
  name: string;
  description: string | undefined;
  /** JSON schema of the arguments, as sent by the client. */
  parameters: Record<string, unknown>;
  strict: boolean | undefined;
  /** Set when the tool came from a `namespace` group. */
  namespace?: string | undefined;
}

export interface CanonicalCustomTool {
  kind: 'custom';
  name: string;
  description: string | undefined;
  /** `{type:"grammar", syntax, definition}` or `{type:"text"}`; undefined = free text. */
  format: Record<string, unknown> | undefined;
  namespace?: string | undefined;
}

export interface CanonicalHostedTool {
  kind: 'hosted';
  /** The client's tool `type`, e.g. `web_search`. */
  type: string;
  /** The tool object exactly as the client sent it (for same-family upstreams). */
  raw: Record<string, unknown>;
}

/** `auto` | `none` | `required` | a named tool. */
export type CanonicalToolChoice = 'auto' | 'none' | 'required' | { name: string };
