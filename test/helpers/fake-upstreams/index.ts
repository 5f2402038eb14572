import { renderAnthropicTurn } from './fake-anthropic.ts';
import { renderBedrockTurn } from './fake-bedrock.ts';
import { renderGeminiTurn } from './fake-gemini.ts';
import { renderOpenAIChatTurn } from './fake-openai-chat.ts';
import { renderOpenAIResponsesTurn } from './fake-openai-responses.ts';
import { startFakeServer, type FakeServer, type RenderTurn } from './fake-server.ts';
import { refusingAnthropic, refusingBedrock, refusingGemini } from './refuse-conversation.ts';
import type { ScriptedTurn } from './scripted-turn.ts';

export type { FakeServer as FakeUpstream } from './fake-server.ts';
export type { RecordedRequest, ScriptedToolCall, ScriptedTurn, ScriptedUsage } from './scripted-turn.ts';

/** Provider wire formats the fakes speak (`azure-openai` is the Responses format on Azure paths). */
export type FakeProvider = 'openai' | 'azure-openai' | 'openai-chat' | 'anthropic' | 'gemini' | 'bedrock';

const RENDERERS: Record<FakeProvider, RenderTurn> = {
  openai: renderOpenAIResponsesTurn,
  'azure-openai': renderOpenAIResponsesTurn,
  'openai-chat': renderOpenAIChatTurn,
  // These three refuse conversations their real API refuses (order of roles, empty text).
  anthropic: refusingAnthropic(renderAnthropicTurn),
  gemini: refusingGemini(renderGeminiTurn),
  bedrock: refusingBedrock(renderBedrockTurn),
};

/**
 * Starts a loopback fake of one provider. Each request consumes the next scripted turn (an
 * exhausted script answers 500); every request is recorded in `requests`.
 *
 * @example
 * const upstream = await startFakeUpstream('anthropic', { script: [{ text: 'hi' }, { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls' } }] }] });
 * // provider config: { type: 'anthropic', base_url: upstream.url, api_key: 'sk_test' }
 * await upstream.close();
 */
export async function startFakeUpstream(provider: FakeProvider, options: { script?: ScriptedTurn[] } = {}): Promise<import('./fake-server.ts').FakeServer> {
  return startFakeServer(RENDERERS[provider], options.script ?? []);
}

export type { FakeServer };
