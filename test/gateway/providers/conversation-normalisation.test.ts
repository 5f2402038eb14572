import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalMessage } from '../../../gateway/canonical/item.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { startFakeUpstream, type FakeProvider, type FakeUpstream } from '../../helpers/fake-upstreams/index.ts';
import { conformanceRequest, runThroughAdapter } from './conformance.ts';

/**
 * Conversations the upstream would refuse are rewritten before they leave: the fakes refuse what
 * the real APIs refuse (Bedrock, Anthropic, Gemini: a user turn first, alternating roles, no empty
 * text), so each case here fails with a 400 without the normaliser.
 */

const text = (value: string) => ({ type: 'text' as const, text: value });
const SYSTEM: CanonicalMessage = { role: 'system', parts: [text('You are a coding agent.')] };

const CASES: { name: string; messages: CanonicalMessage[]; warning: string }[] = [
  {
    name: 'a conversation that starts with an assistant turn',
    messages: [SYSTEM, { role: 'assistant', parts: [text('I saved the number.')] }, { role: 'user', parts: [text('What was it?')] }],
    warning: 'compatibility:conversation.user_first',
  },
  {
    name: 'two assistant messages in a row',
    messages: [SYSTEM, { role: 'user', parts: [text('Remember 4.')] }, { role: 'assistant', parts: [text('I saved the number.')] }, { role: 'assistant', parts: [text('The number is four.')] }, { role: 'user', parts: [text('And now?')] }],
    warning: 'compatibility:conversation.consecutive_roles',
  },
  {
    name: 'empty text parts',
    messages: [SYSTEM, { role: 'user', parts: [text(''), text('Hello')] }, { role: 'assistant', parts: [text(' ')] }, { role: 'user', parts: [text('Still there?')] }],
    warning: 'compatibility:conversation.empty_text',
  },
];

const CONFIGS: Partial<Record<FakeProvider, (url: string) => ProviderConfig>> = {
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
};

/** The wire conversation as [role, texts] pairs, whatever the provider calls its fields. */
function wireTurns(provider: FakeProvider, body: Record<string, unknown> | undefined): [string, string[]][] {
  const turns = (provider === 'gemini' ? body?.['contents'] : body?.['messages']) as Record<string, unknown>[];
  return turns.map((turn) => {
    const blocks = (provider === 'gemini' ? turn['parts'] : turn['content']) as Record<string, unknown>[];
    return [String(turn['role']), blocks.flatMap((block) => (typeof block['text'] === 'string' ? [block['text']] : []))];
  });
}

for (const provider of ['anthropic', 'bedrock', 'gemini'] as const) {
  describe(`conversation normaliser: ${provider}`, () => {
    let upstream: FakeUpstream;
    beforeAll(async () => {
      upstream = await startFakeUpstream(provider);
    });
    afterAll(async () => upstream.close());
    const user = 'user';
    const assistant = provider === 'gemini' ? 'model' : 'assistant';

    it.each(CASES)('$name: rewritten, accepted by the upstream, and reported', async ({ messages, warning }) => {
      upstream.push({ text: 'ok' });
      const result = await runThroughAdapter(provider, CONFIGS[provider]!(upstream.url), conformanceRequest({ messages }), upstream);
      expect(result.events.at(-1)).toMatchObject({ type: 'finish' });
      expect(result.warnings).toContain(warning);
      const turns = wireTurns(provider, result.wireBody);
      expect(turns[0]?.[0]).toBe(user);
      turns.forEach(([role], index) => index > 0 && expect(role).not.toBe(turns[index - 1]?.[0]));
      expect(turns.flatMap(([, texts]) => texts).every((value) => value.trim() !== '')).toBe(true);
    });

    it('merged texts keep a blank line between them, never "…number.The number…"', async () => {
      upstream.push({ text: 'ok' });
      const result = await runThroughAdapter(provider, CONFIGS[provider]!(upstream.url), conformanceRequest({ messages: CASES[1]!.messages }), upstream);
      expect(wireTurns(provider, result.wireBody)).toEqual([
        [user, ['Remember 4.']],
        [assistant, ['I saved the number.\n\nThe number is four.']],
        [user, ['And now?']],
      ]);
    });

    it('a well-formed conversation goes as it is, with no warning', async () => {
      upstream.push({ text: 'ok' });
      const result = await runThroughAdapter(provider, CONFIGS[provider]!(upstream.url), conformanceRequest(), upstream);
      expect(result.warnings.filter((item) => item.includes('conversation.'))).toEqual([]);
    });
  });
}

describe('conversation normaliser: openai-chat', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream('openai-chat');
  });
  afterAll(async () => upstream.close());

  it('consecutive assistant messages are one message with a blank line between, and reported', async () => {
    upstream.push({ text: 'ok' });
    const result = await runThroughAdapter('openai-chat', { type: 'openai-chat', preset: 'vllm', base_url: `${upstream.url}/v1`, api_key: 'sk_test' }, conformanceRequest({ messages: [SYSTEM, { role: 'user', parts: [text('Remember 4.')] }, { role: 'assistant', parts: [text('I saved the number.'), text('The number is four.')] }] }), upstream);
    const messages = result.wireBody?.['messages'] as { role: string; content: string }[];
    expect(messages.find((message) => message.role === 'assistant')?.content).toBe('I saved the number.\n\nThe number is four.');
    expect(result.warnings).toContain('compatibility:conversation.consecutive_roles');
  });
});
