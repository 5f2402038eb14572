import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseApplyPatch } from './parse-apply-patch.ts';

/** A tool the client declared in its request, in any inbound protocol. */
export interface DeclaredTool {
  name: string;
  kind: 'function' | 'custom';
  /** JSON schema of a function's arguments. */
  schema?: unknown;
  /** Custom tool input format (`text`, or a `grammar` with `syntax` lark/regex and `definition`). */
  format?: { type: string; syntax?: string; definition?: string };
}

/** The tools of one request, with a flag for clients that can discover more tools at run time. */
export interface DeclaredTools {
  byName: Map<string, DeclaredTool>;
  /** `tool_search` was declared: calls to undeclared names may be legitimate deferred tools. */
  dynamic: boolean;
}

export type CallValidity = 'valid' | 'invalid' | 'unchecked';

export interface CallValidation {
  validity: CallValidity;
  /** Short machine-and-human reason, e.g. `invalid_json: Unexpected token`, `schema: /cmd must be string`. */
  reason: string;
}

const MAX_CACHED = 2000;
const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false, addUsedSchema: false });
const validatorCache = new Map<string, ValidateFunction | string>();
const toolsCache = new Map<string, DeclaredTools>();

function hashOf(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

/**
 * Compiled validator for a JSON schema, cached by the schema's hash: every Codex request resends
 * the same schemas, and compiling is ~1,000× slower than validating. A schema that does not compile
 * is cached as its error text.
 */
export function validatorFor(schema: unknown): ValidateFunction | string {
  const key = hashOf(JSON.stringify(schema));
  const cached = validatorCache.get(key);
  if (cached !== undefined) return cached;
  let compiled: ValidateFunction | string;
  try {
    compiled = ajv.compile(schema as object);
  } catch (error) {
    compiled = error instanceof Error ? error.message : String(error);
  }
  return remember(validatorCache, key, compiled);
}

function addTool(byName: Map<string, DeclaredTool>, tool: DeclaredTool, namespace?: string): void {
  byName.set(tool.name, tool);
  if (namespace) byName.set(`${namespace}.${tool.name}`, tool);
}

function collectTools(tools: readonly unknown[], byName: Map<string, DeclaredTool>, namespace?: string): boolean {
  let dynamic = false;
  for (const raw of tools) {
    if (raw === null || typeof raw !== 'object') continue;
    const tool = raw as Record<string, unknown>;
    const type = tool.type;
    if (type === 'tool_search') dynamic = true;
    if (type === 'namespace' && Array.isArray(tool.tools)) {
      dynamic = collectTools(tool.tools, byName, typeof tool.name === 'string' ? tool.name : undefined) || dynamic;
    } else if (type === 'function' && typeof tool.function === 'object' && tool.function !== null) {
      // Chat Completions: {type:"function", function:{name, parameters}}
      const fn = tool.function as Record<string, unknown>;
      if (typeof fn.name === 'string') addTool(byName, { name: fn.name, kind: 'function', schema: fn.parameters }, namespace);
    } else if (type === 'custom' && typeof tool.custom === 'object' && tool.custom !== null) {
      const custom = tool.custom as Record<string, unknown>;
      if (typeof custom.name === 'string') addTool(byName, { name: custom.name, kind: 'custom', format: custom.format as DeclaredTool['format'] }, namespace);
    } else if (type === 'function' && typeof tool.name === 'string') {
      addTool(byName, { name: tool.name, kind: 'function', schema: tool.parameters }, namespace);
    } else if (type === 'custom' && typeof tool.name === 'string') {
      addTool(byName, { name: tool.name, kind: 'custom', format: tool.format as DeclaredTool['format'] }, namespace);
    } else if ((type === undefined || type === 'custom') && typeof tool.name === 'string' && 'input_schema' in tool) {
      // Anthropic Messages: {name, input_schema}
      addTool(byName, { name: tool.name, kind: 'function', schema: tool.input_schema }, namespace);
    }
  }
  return dynamic;
}

/** The tools a request body declares (Responses, Chat Completions or Anthropic shapes), cached by content. */
export function declaredToolsOf(body: Record<string, unknown>): DeclaredTools {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return { byName: new Map(), dynamic: false };
  const key = hashOf(JSON.stringify(tools));
  const cached = toolsCache.get(key);
  if (cached) return cached;
  const byName = new Map<string, DeclaredTool>();
  const dynamic = collectTools(tools, byName);
  return remember(toolsCache, key, { byName, dynamic });
}

function firstSchemaError(validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  if (!error) return 'does not match the declared schema';
  const where = error.instancePath === '' ? '(root)' : error.instancePath;
  const extra = error.keyword === 'additionalProperties' ? ` "${String((error.params as { additionalProperty?: string }).additionalProperty)}"` : '';
  return `${where} ${error.message ?? error.keyword}${extra}`;
}

function validateCustomInput(tool: DeclaredTool, input: string): CallValidation {
  const format = tool.format;
  const isPatchGrammar =
    tool.name === 'apply_patch' || (format?.syntax === 'lark' && typeof format.definition === 'string' && format.definition.includes('"*** Begin Patch"'));
  if (isPatchGrammar) {
    const parsed = parseApplyPatch(input);
    return parsed.ok ? { validity: 'valid', reason: '' } : { validity: 'invalid', reason: `patch_grammar: line ${parsed.line}: ${parsed.error}` };
  }
  if (format?.type === 'grammar' && format.syntax === 'regex' && typeof format.definition === 'string') {
    try {
      const matches = new RegExp(`^(?:${format.definition})$`, 'u').test(input);
      return matches ? { validity: 'valid', reason: '' } : { validity: 'invalid', reason: 'regex: input does not match the declared pattern' };
    } catch {
      return { validity: 'unchecked', reason: 'regex: declared pattern is not a JavaScript regular expression' };
    }
  }
  if (format?.type === 'grammar') return { validity: 'unchecked', reason: `grammar: ${format.syntax ?? 'unknown'} grammar not checked` };
  return { validity: 'valid', reason: '' };
}

/**
 * Checks one call the model made against what the client declared: function arguments must be
 * JSON and match the schema; custom tool input must match its grammar (apply_patch, regex).
 */
export function validateToolCall(call: { name: string; kind: 'function' | 'custom'; input: string }, tools: DeclaredTools): CallValidation {
  const tool = tools.byName.get(call.name);
  if (!tool) {
    if (tools.dynamic || tools.byName.size === 0) return { validity: 'unchecked', reason: 'undeclared_tool: not in the request (may be discovered at run time)' };
    return { validity: 'invalid', reason: `unknown_tool: "${call.name.slice(0, 60)}" was not declared` };
  }
  if (tool.kind === 'custom') {
    if (call.kind !== 'custom') return { validity: 'invalid', reason: 'kind_mismatch: a custom tool was called as a function' };
    return validateCustomInput(tool, call.input);
  }
  if (call.kind !== 'function') return { validity: 'invalid', reason: 'kind_mismatch: a function tool was called as a custom tool' };
  let value: unknown;
  try {
    value = JSON.parse(call.input.length === 0 ? '{}' : call.input);
  } catch (error) {
    return { validity: 'invalid', reason: `invalid_json: ${error instanceof Error ? error.message.slice(0, 120) : 'unparseable'}` };
  }
  if (tool.schema === undefined || tool.schema === null) return { validity: 'valid', reason: '' };
  const validate = validatorFor(tool.schema);
  if (typeof validate === 'string') return { validity: 'unchecked', reason: `schema_uncompilable: ${validate.slice(0, 120)}` };
  return validate(value) ? { validity: 'valid', reason: '' } : { validity: 'invalid', reason: `schema: ${firstSchemaError(validate)}` };
}
