import type { FastifyRequest } from 'fastify';
import type { GuardrailHook } from '../../shared/policy/policy-schema.ts';
import type { AuditEvent } from '../../shared/audit/audit-event.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { ForwardOutcome, InboundProtocol, ResolvedTarget } from '../forward/forward-types.ts';
import { MAX_JSON_DEPTH, readJsonBody, spliceBody } from '../inbound/read-json-body.ts';
import { errorReply } from '../plugins/error-handler.ts';
import type { ReplySink } from '../pipeline/client-sink.ts';
import { fingerprint, PrefixPrinter, SHAPES, type HistoryScanCache } from './history-scan.ts';
import type { TurnFacts } from './turn-guard.ts';
import { callHook, hookName, type HookCall, type HookItem, type HookPhase, type HookSubject } from './hook-client.ts';
import { streamedAnswer } from './streamed-answer.ts';

/**
 * The external guardrail hook of one turn (docs/GUARDRAILS.md). Before a hop it sends the classifier only
 * the conversation items this session has not shown it yet — Codex resends the whole history every turn —
 * and keeps each redaction it asked for, so the resent originals go upstream redacted on later turns. After
 * the hop it sends a non-streaming answer, which the gateway holds until the verdict; a streaming answer is
 * never held (Codex would sit in silence): a copy is judged once it ended, and the verdict is recorded, not
 * enforced (docs/GUARDRAILS.md).
 */

/** What the hook memory keeps per session, provider, cost center and policy version. */
export interface HookMemory {
  /** Items of the conversation list the classifier has judged (allow or redact). */
  count: number;
  /** Fingerprint of items 0 … count - 1 of the client's bytes: the resent history still starts with them. */
  prefixFingerprint: string;
  /** Fingerprint of the preamble (instructions / system) the classifier judged. */
  preamble: string | undefined;
  /** Replacements the classifier asked for, by list index; -1 is the preamble. */
  replacements: Map<number, unknown>;
}

export type HookResult = 'allow' | 'block' | 'redact' | 'timeout' | 'error';

export interface HookContext {
  memory: HistoryScanCache<HookMemory>;
  record(event: AuditEvent): void;
  /** One call, for /metrics (`gatehouse_guardrail_hook_calls_total`, `…_duration_seconds`). */
  onCall(costCenter: string, phase: HookPhase, result: HookResult, seconds: number): void;
}

/** The turn's facts the hook names in its calls and audit events: the secret guardrail's, not a second list. */
export type HookTurnFacts = TurnFacts;

export interface HookedBody {
  body: Record<string, unknown>;
  rawBody: Buffer;
}

const PREAMBLE_INDEX = -1;
/** A streamed answer larger than this is not copied for the check after the hop (recorded as such). */
const MAX_STREAM_COPY_BYTES = 4 * 1024 * 1024;
const MAX_AUDITED_LOCATIONS = 50;

/** A list member as an array (a Responses `input` may be one string: a one-item conversation). */
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

interface Pending {
  items: HookItem[];
  memoryKey: string | undefined;
  /** The part of the memory still valid for this conversation. */
  kept: HookMemory | undefined;
  listLength: number;
  preamblePrint: string | undefined;
  /** Fingerprints of this conversation's prefixes: the kept count's, then the whole list's, from one hash. */
  printer: PrefixPrinter;
}

export class HookGuard {
  /** `before_hop:allow after_hop:block`: the span's `guardrail_hook`. */
  readonly decisions: string[] = [];
  private readonly byProvider = new Map<string, Promise<HookedBody>>();
  private readonly hook: GuardrailHook;
  private readonly context: HookContext;
  private readonly inbound: InboundProtocol;
  private readonly facts: HookTurnFacts;

  constructor(context: HookContext, hook: GuardrailHook, inbound: InboundProtocol, facts: HookTurnFacts) {
    this.context = context;
    this.hook = hook;
    this.inbound = inbound;
    this.facts = facts;
  }

  get beforeHop(): boolean {
    return this.hook.when !== 'after_hop';
  }

  /** Prepares the sink for the check after the hop: a whole answer is held, a stream is copied as it goes. */
  watchAnswer(stream: boolean, sink: ReplySink): void {
    if (this.hook.when === 'before_hop') return;
    if (stream) sink.tee(MAX_STREAM_COPY_BYTES);
    else sink.defer();
  }

  /**
   * What may go to `target`: `guarded` (the client's body after the secret guardrail) with the classifier's
   * redactions; throws `guardrail_blocked`, or `guardrail_unavailable` when the classifier fails and the
   * cost center fails closed. `original` is the client's own body (the memory is keyed on its bytes).
   */
  forHop(target: ResolvedTarget, crossProvider: boolean, original: Record<string, unknown>, guarded: HookedBody): Promise<HookedBody> {
    let decided = this.byProvider.get(target.providerName);
    if (!decided) this.byProvider.set(target.providerName, (decided = this.decideBefore(target, crossProvider, original, guarded)));
    return decided;
  }

  private async decideBefore(target: ResolvedTarget, crossProvider: boolean, original: Record<string, unknown>, guarded: HookedBody): Promise<HookedBody> {
    const pending = this.pendingItems(target.providerName, original, guarded.body);
    let replacements = pending.kept?.replacements ?? new Map<number, unknown>();
    if (pending.items.length > 0) {
      const call = await callHook(this.hook, this.subject('before_hop', target, crossProvider), pending.items);
      const result = this.account('before_hop', call, target, crossProvider, pending.items);
      if (result === 'block') throw this.blocked(target, call, pending.items, 'before');
      if (result === 'timeout' || result === 'error') {
        if (this.hook.on_error === 'closed') throw this.unavailable(target, call, 'before');
      } else {
        replacements = new Map(replacements);
        if (call.ok && call.verdict.action === 'redact') for (const [index, item] of call.verdict.items) if (pending.items.some((sent) => sent.index === index)) replacements.set(index, item);
        if (pending.items.some((sent) => sent.index === PREAMBLE_INDEX) && !(call.ok && call.verdict.action === 'redact' && call.verdict.items.has(PREAMBLE_INDEX))) replacements.delete(PREAMBLE_INDEX);
        this.remember(pending, replacements);
      }
    }
    return this.applied(guarded, replacements);
  }

  /** The items of the conversation the classifier has not judged for this session and provider. */
  private pendingItems(provider: string, original: Record<string, unknown>, guarded: Record<string, unknown>): Pending {
    const shape = SHAPES[this.inbound];
    const rawList = original[shape.list];
    const list = asList(rawList);
    // A request with no session of its own (its session id is the request id) would only fill the memory.
    const memoryKey = this.facts.sessionId === this.facts.requestId ? undefined : `${this.facts.costCenter}\u0000${this.facts.policyVersion}\u0000${this.facts.sessionId}\u0000${provider}`;
    const previous = memoryKey !== undefined ? this.context.memory.get(memoryKey) : undefined;
    const printer = new PrefixPrinter(original, shape.list, list);
    const kept = previous && previous.count > 0 && list.length >= previous.count && printer.print(previous.count) === previous.prefixFingerprint ? previous : undefined;
    const items: HookItem[] = [];
    const preamble = shape.preamble ? original[shape.preamble] : undefined;
    const preamblePrint = preamble === undefined ? undefined : fingerprint(preamble);
    if (shape.preamble && preamble !== undefined && preamblePrint !== kept?.preamble) items.push({ index: PREAMBLE_INDEX, location: shape.preamble, item: guarded[shape.preamble] });
    const guardedList = asList(guarded[shape.list]);
    for (let index = kept?.count ?? 0; index < list.length; index++) {
      items.push({ index, location: Array.isArray(rawList) ? `${shape.list}[${index}]` : shape.list, item: guardedList[index] });
    }
    return { items, memoryKey, kept, listLength: list.length, preamblePrint, printer };
  }

  private remember(pending: Pending, replacements: Map<number, unknown>): void {
    if (pending.memoryKey === undefined) return;
    const prefixFingerprint = pending.listLength > 0 ? pending.printer.print(pending.listLength) : '';
    this.context.memory.set(pending.memoryKey, { count: pending.listLength, prefixFingerprint, preamble: pending.preamblePrint, replacements });
  }

  /** `guarded` with the classifier's replacements, spliced into its bytes where it was read from bytes. */
  private applied(guarded: HookedBody, replacements: ReadonlyMap<number, unknown>): HookedBody {
    if (replacements.size === 0) return guarded;
    const shape = SHAPES[this.inbound];
    const isArray = Array.isArray(guarded.body[shape.list]);
    const members: Record<string, unknown> = {};
    const items = new Map<number, unknown>();
    for (const [index, item] of replacements) {
      if (index === PREAMBLE_INDEX && shape.preamble) members[shape.preamble] = item;
      else if (!isArray) members[shape.list] = item;
      else items.set(index, item);
    }
    const raw = spliceBody(guarded.body, { members, ...(isArray ? { items: { key: shape.list, replacements: items } } : {}) });
    if (raw) return { body: readJsonBody(raw, MAX_JSON_DEPTH), rawBody: raw };
    const copy: Record<string, unknown> = { ...guarded.body, ...members };
    if (isArray && items.size > 0) {
      const list = [...(guarded.body[shape.list] as unknown[])];
      for (const [index, item] of items) if (index < list.length) list[index] = item;
      copy[shape.list] = list;
    }
    return { body: copy, rawBody: Buffer.from(JSON.stringify(copy)) };
  }

  /**
   * The check after the hop, on an answer the sink holds (`holdsAnswer`): sends it on, changed, or
   * replaced by the structured error. The answer was generated and billed either way; the outcome keeps
   * its usage and takes the error's status and code, so the span and the budget see both.
   */
  async afterHop(request: FastifyRequest, target: ResolvedTarget, crossProvider: boolean, outcome: ForwardOutcome, sink: ReplySink): Promise<void> {
    const kept = sink.deferred;
    if (!kept) {
      // The stream already reached the client: judged off the turn's path, the verdict recorded, not enforced.
      const copy = sink.teed;
      if (copy && outcome.errorCode === undefined) void this.judgeStreamed(target, crossProvider, copy);
      return;
    }
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(kept.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      sink.flushDeferred();
      return;
    }
    const items = kept.status < 300 && outcome.errorCode === undefined ? answerItems(this.inbound, answer) : [];
    if (items.length === 0) return sink.flushDeferred();
    const call = await callHook(this.hook, this.subject('after_hop', target, crossProvider), items, sink.signal);
    const result = this.account('after_hop', call, target, crossProvider, items);
    if (result === 'allow' || ((result === 'timeout' || result === 'error') && this.hook.on_error === 'open')) return sink.flushDeferred();
    if (call.ok && call.verdict.action === 'redact') {
      replaceAnswerItems(this.inbound, answer, call.verdict.items);
      return sink.flushDeferred({ status: kept.status, headers: kept.headers, body: JSON.stringify(answer) });
    }
    const error = result === 'block' ? this.blocked(target, call, items, 'after') : this.unavailable(target, call, 'after');
    const reply = errorReply(error, request);
    sink.flushDeferred({ status: reply.status, headers: reply.headers, body: JSON.stringify(reply.body) });
    outcome.status = error.status;
    outcome.errorCode = error.code;
    outcome.errorMessage = error.message;
  }

  private async judgeStreamed(target: ResolvedTarget, crossProvider: boolean, copy: Buffer): Promise<void> {
    let items: HookItem[];
    try {
      items = answerItems(this.inbound, streamedAnswer(this.inbound, copy));
    } catch {
      return; // a stream this reader cannot fold back has nothing it could judge; the turn is long done
    }
    if (items.length === 0) return;
    const call = await callHook(this.hook, this.subject('after_hop', target, crossProvider), items);
    this.account('after_hop', call, target, crossProvider, items, false);
  }

  private subject(phase: HookPhase, target: ResolvedTarget, crossProvider: boolean): HookSubject {
    return {
      phase,
      request_id: this.facts.requestId,
      session_id: this.facts.sessionId,
      cost_center: this.facts.costCenter,
      key_id: this.facts.keyId,
      requested_model: this.facts.requestedModel,
      model: target.model,
      provider: target.providerName,
      provider_type: target.provider.type,
      cross_provider: crossProvider,
      inbound_protocol: this.inbound,
      policy_version: this.facts.policyVersion,
    };
  }

  /** Metrics, the span's decision list and one audit event per decision (no content, ever). */
  private account(phase: HookPhase, call: HookCall, target: ResolvedTarget, crossProvider: boolean, items: readonly HookItem[], enforced = true): HookResult {
    const result: HookResult = call.ok ? call.verdict.action : call.failure;
    this.context.onCall(this.facts.costCenter, phase, result, call.millis / 1000);
    this.decisions.push(`${phase}:${result}`);
    // A block or redact of an answer that already streamed changed nothing: it is a finding, not an action.
    const flagged = !enforced && (result === 'block' || result === 'redact');
    const action = flagged ? 'guardrail.flagged' : result === 'allow' ? 'guardrail.allowed' : result === 'redact' ? 'guardrail.redacted' : result === 'block' ? 'guardrail.blocked' : 'guardrail.hook_failed';
    const redacted = call.ok && call.verdict.action === 'redact' ? [...call.verdict.items.keys()].map((index) => items.find((item) => item.index === index)?.location).filter(Boolean) : undefined;
    this.context.record({
      actor: this.facts.developer,
      action,
      subject: this.facts.requestId,
      cost_center: this.facts.costCenter,
      policy_version: this.facts.policyVersion,
      details: {
        source: 'hook',
        phase,
        hook: hookName(this.hook.url),
        result,
        enforced,
        session_id: this.facts.sessionId,
        key_id: this.facts.keyId,
        model: target.model,
        provider: target.providerName,
        cross_provider: crossProvider,
        items: items.length,
        locations: items.slice(0, MAX_AUDITED_LOCATIONS).map((item) => item.location),
        ...(redacted ? { redacted } : {}),
        ...(call.ok && call.verdict.action !== 'allow' ? { reason: call.verdict.reason } : {}),
        ...(!call.ok ? { failure: call.detail, on_error: this.hook.on_error } : {}),
        millis: Math.round(call.millis),
      },
    });
    return result;
  }

  private blocked(target: ResolvedTarget, call: HookCall, items: readonly HookItem[], when: 'before' | 'after'): GatewayError {
    const reason = call.ok && call.verdict.action === 'block' && call.verdict.reason ? call.verdict.reason : 'no reason given';
    const where = items.slice(0, 5).map((item) => item.location).join(', ') + (items.length > 5 ? ', …' : '');
    const what =
      when === 'before'
        ? `blocked this turn before it reached provider "${target.providerName}" (model "${target.model}"): ${reason} (judged: ${where}). Change what the conversation sends and start a new session (the history is resent every turn)`
        : `blocked the answer of model "${target.model}" (provider "${target.providerName}"): ${reason}. Rephrase the request, or start a new session`;
    return new GatewayError('guardrail_blocked', {
      message: `gatehouse: the guardrail classifier ${hookName(this.hook.url)} of cost center "${this.facts.costCenter}" ${what}; ask the cost center's owner about the classifier's rules if this is wrong (policy guardrails.hook).`,
      param: when === 'before' ? (items[0]?.location ?? null) : null,
      costCenter: this.facts.costCenter,
      model: this.facts.requestedModel,
    });
  }

  private unavailable(target: ResolvedTarget, call: HookCall, when: 'before' | 'after'): GatewayError {
    const detail = call.ok ? 'no verdict' : call.detail;
    const what = when === 'before' ? `nothing was sent to provider "${target.providerName}" for model "${target.model}"` : `the answer of model "${target.model}" (provider "${target.providerName}") is withheld`;
    return new GatewayError('guardrail_unavailable', {
      message:
        `gatehouse: the guardrail classifier ${hookName(this.hook.url)} of cost center "${this.facts.costCenter}" did not answer (${detail}) and the cost center fails closed ` +
        `(guardrails.hook.on_error: closed), so ${what}. Retry in a moment; if it persists, the platform team checks the classifier service.`,
      retryable: true,
      costCenter: this.facts.costCenter,
      model: this.facts.requestedModel,
    });
  }
}

/** An answer's items as the client's protocol holds them: Responses `output[]`, Chat `choices[].message`, Anthropic `content[]`. */
export function answerItems(inbound: InboundProtocol, answer: Record<string, unknown>): HookItem[] {
  if (inbound === 'openai-chat') {
    return asList(answer.choices).map((choice, index) => ({ index, location: `choices[${index}].message`, item: (choice as { message?: unknown } | null)?.message }));
  }
  const key = inbound === 'openai-responses' ? 'output' : 'content';
  return Array.isArray(answer[key]) ? (answer[key] as unknown[]).map((item, index) => ({ index, location: `${key}[${index}]`, item })) : [];
}

/** Puts the classifier's replacement items into the answer (indices outside it are ignored). */
export function replaceAnswerItems(inbound: InboundProtocol, answer: Record<string, unknown>, replacements: ReadonlyMap<number, unknown>): void {
  if (inbound === 'openai-chat') {
    const choices = asList(answer.choices) as { message?: unknown }[];
    for (const [index, item] of replacements) if (choices[index]) choices[index].message = item;
    return;
  }
  const list = answer[inbound === 'openai-responses' ? 'output' : 'content'];
  if (!Array.isArray(list)) return;
  for (const [index, item] of replacements) if (index >= 0 && index < list.length) list[index] = item;
}
