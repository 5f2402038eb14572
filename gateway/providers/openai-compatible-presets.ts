import type { ProviderConfig } from '../../shared/config/config-schema.ts';
import type { OpenAICompatiblePresetName } from '../../shared/config/openai-compatible-preset-names.ts';

/** An OpenAI-compatible (Chat Completions) server with its defaults and known quirks. */
export interface OpenAICompatiblePreset {
  baseUrl: string;
  authStyle: NonNullable<ProviderConfig['auth_style']>;
  /** `max_tokens` instead of `max_completion_tokens`. */
  legacyMaxTokens: boolean;
  /** Sends `stream_options.include_usage` (servers that reject unknown fields get false). */
  streamUsageOption: boolean;
  /** Accepts `reasoning_effort`. */
  reasoningEffort: boolean;
  /** Mistral accepts only 9-character alphanumeric tool call ids. */
  toolCallIdStyle: 'any' | 'alphanumeric-9';
}

const base = { authStyle: 'bearer', legacyMaxTokens: true, streamUsageOption: true, reasoningEffort: false, toolCallIdStyle: 'any' } as const;

/**
 * Presets selected by the provider config field `preset`; `base_url`/`auth_style` in the config
 * override them. @see ../../shared/config/config-schema.ts
 */
export const OPENAI_COMPATIBLE_PRESETS: Record<OpenAICompatiblePresetName, OpenAICompatiblePreset> = {
  openai: { ...base, baseUrl: 'https://api.openai.com/v1', legacyMaxTokens: false, reasoningEffort: true },
  vllm: { ...base, baseUrl: 'http://127.0.0.1:8000/v1' },
  ollama: { ...base, baseUrl: 'http://127.0.0.1:11434/v1', authStyle: 'none' },
  groq: { ...base, baseUrl: 'https://api.groq.com/openai/v1', reasoningEffort: true },
  together: { ...base, baseUrl: 'https://api.together.xyz/v1' },
  fireworks: { ...base, baseUrl: 'https://api.fireworks.ai/inference/v1' },
  mistral: { ...base, baseUrl: 'https://api.mistral.ai/v1', streamUsageOption: false, toolCallIdStyle: 'alphanumeric-9' },
  deepseek: { ...base, baseUrl: 'https://api.deepseek.com/v1' },
  openrouter: { ...base, baseUrl: 'https://openrouter.ai/api/v1', reasoningEffort: true },
  xai: { ...base, baseUrl: 'https://api.x.ai/v1', reasoningEffort: true },
};

/** The effective settings of an `openai-chat` provider: preset, then explicit config. */
export function resolveOpenAICompatible(provider: ProviderConfig): OpenAICompatiblePreset {
  const preset = provider.preset !== undefined ? (OPENAI_COMPATIBLE_PRESETS as Record<string, OpenAICompatiblePreset | undefined>)[provider.preset] : undefined;
  if (provider.preset !== undefined && preset === undefined) {
    throw new Error(`unknown openai-chat preset "${provider.preset}" (known: ${Object.keys(OPENAI_COMPATIBLE_PRESETS).join(', ')})`);
  }
  const chosen = preset ?? OPENAI_COMPATIBLE_PRESETS.openai;
  return { ...chosen, baseUrl: provider.base_url ?? chosen.baseUrl, authStyle: provider.auth_style ?? chosen.authStyle };
}
