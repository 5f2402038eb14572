import { callLabel, clampScore, type TurnScorer } from './scorer.ts';

/**
 * Share of the turn's tool calls whose arguments parse and match the declared schema (custom tools:
 * whose input matches the declared grammar, e.g. apply_patch). Calls that cannot be checked
 * (undeclared dynamic tools, unsupported grammars) are left out of the ratio.
 */
export const toolCallValidityScorer: TurnScorer = {
  name: 'tool_call_validity',
  version: 1,
  appliesTo: 'turn',
  needs: 'turn',
  score({ calls }) {
    const checked = calls.filter((call) => call.validity !== 'unchecked');
    if (checked.length === 0) return null;
    const invalid = checked.filter((call) => call.validity === 'invalid');
    const reasons = [`${checked.length - invalid.length} of ${checked.length} tool calls valid`];
    for (const call of invalid) reasons.push(`${callLabel(call)}: ${call.reason}`);
    for (const call of calls) if (call.validity === 'unchecked') reasons.push(`${callLabel(call)}: not checked (${call.reason})`);
    return { value: clampScore((checked.length - invalid.length) / checked.length), reasons };
  },
};
