/**
 * Names accepted by `providers.<name>.preset` (OpenAI-compatible Chat Completions servers). The
 * gateway's preset table is keyed by this list, so config validation and the adapter cannot drift.
 */
export const OPENAI_COMPATIBLE_PRESET_NAMES = ['openai', 'vllm', 'ollama', 'groq', 'together', 'fireworks', 'mistral', 'deepseek', 'openrouter', 'xai'] as const;
export type OpenAICompatiblePresetName = (typeof OPENAI_COMPATIBLE_PRESET_NAMES)[number];
