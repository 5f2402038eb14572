import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NormalizedUsage, OutputToolCall, SpanRow } from '../../shared/telemetry/turn-record.ts';
import type { GatewayContext, BudgetAdmission } from '../context.ts';
import type { ActivePolicy } from '../../shared/policy/active-policy.ts';
import type { CostCenter } from '../../shared/policy/policy-schema.ts';
import type { VirtualKey } from '../state/key-store.ts';
import { GatewayError, type UpstreamAttempt } from '../errors/gateway-error.ts';
import { evaluatePolicy, type Decision, type RequestFacts } from '../policy/evaluate-policy.ts';
import { clockIn } from '../policy/match-rule.ts';
import { sessionDraw } from '../../shared/policy/optimizer-settings.ts';
import { computeCostUsd, estimateCostUsd } from '../accounting/compute-cost.ts';
import { clientClosed, forwardPassthrough, forwardableHeaders } from '../forward/forward-passthrough.ts';
import type { ForwardOutcome, Forwarder, InboundProtocol, ResolvedTarget } from '../forward/forward-types.ts';
import { ReplySink } from './client-sink.ts';
import { estimateInputTokens, readSessionFacts, type SessionFacts } from './request-facts.ts';
import { authenticateClient } from './authenticate-client.ts';
import { modelPrice, resolveModelPrice } from '../../shared/pricing/model-catalog.ts';
import { guardrailActive, TurnGuard, type GuardedHop, type TurnFacts, type TurnGuardContext } from '../guardrails/turn-guard.ts';
import { HistoryScanCache } from '../guardrails/history-scan.ts';
import { admitKey, type TurnRate } from './key-admission.ts';
import { outputReservation } from '../accounting/output-reservation.ts';
import { targetKey } from '../transport/circuit-breaker.ts';
import { carriesReasoningEffort, clientReasoningEffort, planForTurn } from '../forward/reasoning-effort-wire.ts';

const SAME_PROTOCOL: Record<InboundProtocol, string> = {
  'openai-responses': 'openai',
  'openai-chat': 'openai-chat',
  'anthropic-messages': 'anthropic',
};

function resolveTarget(policy: ActivePolicy, context: GatewayContext, model: string): ResolvedTarget {
  const definition = policy.document.models[model];
  if (!definition) throw new GatewayError('model_not_allowed', { message: `gatehouse: model "${model}" is not defined in policy version ${policy.version}`, param: 'model' });
  const provider = context.config.providers[definition.provider];
  if (!provider) {
    throw new GatewayError('no_healthy_upstream', {
      message: `gatehouse: model "${model}" points at provider "${definition.provider}", which is not configured on this gateway (providers in gatehouse.yaml)`,
      provider: definition.provider,
    });
  }
  const priced = resolveModelPrice(definition, { providerKind: provider.type === 'openai-chat' ? (provider.preset ?? provider.type) : provider.type });
  if (!priced) throw new GatewayError('model_not_allowed', { message: `gatehouse: model "${model}" has no price in policy version ${policy.version} and the model catalog does not know "${definition.upstream}"; add a price to the policy`, param: 'model' });
  return { model, upstreamModel: definition.upstream, providerName: definition.provider, provider, price: priced.price, priceSource: priced.source, defaultMaxOutputTokens: definition.default_max_output_tokens };
}

/** Failures that are the gateway's refusal rather than the upstream's: one span and one `request.denied` event via refuse(). */
const REFUSAL_CODES = new Set(['model_not_allowed', 'provider_not_allowed', 'secret_detected', 'guardrail_blocked', 'guardrail_unavailable']);

/**
 * The lowered effort the decision serves (an optimizer rule's or exploration's), on the decided target
 * only (a fallback hop sends the client's), and only where the target's wire can carry it.
 */
function decidedEffort(state: TurnState, target: ResolvedTarget): string | undefined {
  const decision = state.decision?.kind === 'route' ? state.decision : undefined;
  const effort = decision?.reasoningEffort;
  return effort !== undefined && target.model === decision?.servedModel && carriesReasoningEffort(state.inbound, target.provider, effort) ? effort : undefined;
}

function queryOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at);
}

/**
 * The request's worst case at the model the policy serves in the downgrade stage, so the ledger can
 * reserve at that price when it finds the budget past the downgrade line (in the same atomic step
 * that reads the stage). Undefined when the downgrade stage would serve the same model.
 */
function downgradeEstimateUsd(policy: ActivePolicy, facts: RequestFacts, body: Record<string, unknown>, providers: GatewayContext['config']['providers']): number | undefined {
  const center = policy.document.cost_centers[facts.costCenter];
  if (!center || Object.keys(center.downgrade).length === 0) return undefined;
  const decision = evaluatePolicy(policy.document, { ...facts, budgetStage: 'downgrade' });
  const target = decision.kind === 'route' && decision.downgradedFrom ? policy.document.models[decision.servedModel] : undefined;
  if (!target) return undefined;
  return estimateCostUsd(facts.inputTokenEstimate, outputReservation(body, target, providers, facts.inputTokenEstimate), modelPrice(target));
}

interface TurnState {
  /** Ends the client's response held back until the turn's span row is journaled (ReplySink.holdEnd). */
  releaseEnd?: ((afterEnd: () => void) => void) | undefined;
  startedAt: number;
  startedAtEpoch: number;
  requestId: string;
  inbound: InboundProtocol;
  key: VirtualKey;
  policy: ActivePolicy;
  facts: SessionFacts;
  requestedModel: string;
  inputTokenEstimate: number;
  stream: boolean;
  decision?: Decision;
  budget?: BudgetAdmission;
  attempts: UpstreamAttempt[];
  /** The turn's rate-limit reservation (input + output cap), settled to its real tokens when it ends. */
  rate?: TurnRate | undefined;
  /** The secret guardrail of this turn, when the cost center has one. */
  guard?: TurnGuard | undefined;
  /** The client's reasoning effort ('' when it sent none). */
  clientEffort: string;
}

function baseRow(state: TurnState): Omit<SpanRow, 'trace_id' | 'span_id'> {
  const center = state.policy.document.cost_centers[state.key.costCenter];
  const route = state.decision?.kind === 'route' ? state.decision : undefined;
  return {
    ts: new Date(state.startedAtEpoch).toISOString(),
    request_id: state.requestId,
    session_id: state.facts.sessionId,
    turn_id: state.facts.turnId,
    turn_seq: state.facts.turnSeq,
    developer: state.key.developer,
    identity: state.key.identity,
    cost_center: state.key.costCenter,
    repo: state.key.repo || state.facts.repo,
    key_id: state.key.id,
    tags: state.key.tags,
    requested_model: state.requestedModel,
    served_model: '',
    provider: '',
    provider_type: '',
    inbound_protocol: state.inbound,
    stream: state.stream,
    status_code: 0,
    error_code: '',
    error_message: '',
    input_tokens: 0,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    cost_usd: 0,
    price_source: '',
    guardrail_findings: state.guard?.findingsSent ?? 0,
    guardrail_hook: state.guard?.hookDecisions ?? '',
    budget_stage: state.budget?.stage ?? 'ok',
    downgraded_from: route?.downgradedFrom ?? '',
    fallback_from: '',
    hop_reason: '',
    attempts: state.attempts.length > 0 ? JSON.stringify(state.attempts) : '',
    rule_id: route?.ruleId ?? '',
    rule_dry_run: route?.ruleDryRun ?? false,
    experiment_arm: route?.experimentArm ?? '',
    reasoning_effort: state.clientEffort,
    requested_reasoning_effort: state.clientEffort,
    policy_version: state.policy.version,
    dry_run_decision: state.decision?.dryRunNotes.join('; ') ?? '',
    translation_warnings: [],
    tool_call_count: 0,
    input_token_estimate: state.inputTokenEstimate,
    duration_ms: performance.now() - state.startedAt,
    ttfb_ms: 0,
    client: state.facts.client,
    capture: center?.capture ?? 'metadata',
  };
}

function recordTurn(context: GatewayContext, row: Omit<SpanRow, 'trace_id' | 'span_id'>, state: TurnState, body: Record<string, unknown>, toolCalls: OutputToolCall[]): void {
  const ids = context.tracing.recordTurn(row, state.startedAtEpoch, state.attempts);
  const recordMetrics = () => context.metrics.recordTurn(row, (model) => Object.hasOwn(state.policy.document.models, model));
  const handOff = () => {
    if (!context.onTurnComplete) return;
    try {
      context.onTurnComplete({ span: { ...row, trace_id: ids.traceId, span_id: ids.spanId }, body, inbound: state.inbound, toolCalls });
    } catch (error) {
      context.logger.warn({ err: error }, 'turn hand-off to the evaluator failed');
    }
  };
  if (!state.releaseEnd) {
    recordMetrics();
    setImmediate(handOff);
    return;
  }
  // Once the span row is journaled the client may see the response end. Metrics and the evaluator's
  // hand-off come after it (they were on the path of every turn's last byte), in a microtask: after
  // every response the same journal write releases, and before the loop goes on (a close saves the
  // evaluator's queue, which must already hold the turn).
  state.releaseEnd(() =>
    queueMicrotask(() => {
      recordMetrics();
      handOff();
    }),
  );
}

/** Records a refused turn (span + one audit event per turn) and throws the structured error. */
function refuse(context: GatewayContext, state: TurnState, body: Record<string, unknown>, error: GatewayError): never {
  state.rate?.settle(0);
  const row = baseRow(state);
  row.status_code = error.status;
  row.error_code = error.code;
  row.error_message = error.message;
  recordTurn(context, row, state, body, []);
  context.metrics.denials.inc({ code: error.code, cost_center: state.key.costCenter });
  context.denials.recordDenied(
    context.audit,
    {
      actor: state.key.developer,
      action: 'request.denied',
      subject: state.requestId,
      cost_center: state.key.costCenter,
      policy_version: state.policy.version,
      details: { code: error.code, message: error.message, requested_model: state.requestedModel, session_id: state.facts.sessionId, turn_id: state.facts.turnId, key_id: state.key.id },
    },
    { sessionId: state.facts.sessionId, turnId: state.facts.turnId, code: error.code },
  );
  throw new GatewayError(error.code, {
    message: error.message,
    param: error.param,
    costCenter: state.key.costCenter,
    model: state.requestedModel,
    // A fallback the policy forbids comes after failed attempts: the client sees what was tried.
    attempts: state.attempts,
    ...(error.retryAfterMillis === undefined ? {} : { retryAfterMillis: error.retryAfterMillis }),
  });
}

const guardContexts = new WeakMap<GatewayContext, TurnGuardContext>();
/** One scan memory per gateway: sessions are scanned once per item, whichever turn brings it. */
function guardContextOf(context: GatewayContext): TurnGuardContext {
  let guardContext = guardContexts.get(context);
  if (!guardContext) guardContexts.set(context, (guardContext = { cache: new HistoryScanCache(), memory: new HistoryScanCache(), record: (event) => context.audit.record(event), onCall: (cost_center, phase, result, seconds) => context.metrics.recordGuardrailHook(cost_center, phase, result, seconds) }));
  return guardContext;
}

function guardFacts(state: TurnState): TurnFacts {
  return { costCenter: state.key.costCenter, developer: state.key.developer, keyId: state.key.id, sessionId: state.facts.sessionId, requestId: state.requestId, requestedModel: state.requestedModel, policyVersion: state.policy.version };
}

export interface TurnOptions {
  /** Upstream path for same-protocol pass-through other than the protocol's default (Codex's `/responses/compact`). */
  upstreamPath?: string | undefined;
}

/**
 * One client turn, whatever the protocol: authenticate → decide (pure policy) → forward along the
 * chain (fallback only before the first byte) → account (span, spend, evaluator hand-off).
 */
export async function handleTurn(context: GatewayContext, inbound: InboundProtocol, request: FastifyRequest, reply: FastifyReply, options: TurnOptions = {}): Promise<void> {
  const { state, body, rawBody } = openTurn(context, inbound, request);
  await admitAndDecide(context, state, body);
  const sink = openSink(context, state, reply);
  const forwardHeaders = forwardableHeaders(request.headers);
  const chain: ChainRun = { context, state, request: { inbound, body, rawBody, forwardHeaders, stream: state.stream, sink, upstreamPath: options.upstreamPath, query: queryOf(request.url) } };
  let { outcome, served, lastError, allOpen } = await forwardAlongChain(chain, false);
  if (!outcome && allOpen) {
    // Every target this request could use has an open circuit: send it anyway (Envoy's panic
    // threshold) rather than turn a flaky provider into a total outage.
    context.logger.warn({ request_id: state.requestId, model: state.requestedModel }, 'every upstream target is open; sending anyway (breaker panic mode)');
    ({ outcome, served, lastError } = await forwardAlongChain(chain, true));
  }
  if (!outcome || !served) failUnserved(context, state, body, lastError);
  if (state.guard) await state.guard.afterHop(request, served, outcome, sink);
  finishServedTurn(context, state, body, served, outcome, sink);
}

/** Who asks for what: the key, the policy in force, the body's model and flags, the session. */
function openTurn(context: GatewayContext, inbound: InboundProtocol, request: FastifyRequest): { state: TurnState; body: Record<string, unknown>; rawBody: Buffer } {
  const startedAt = performance.now();
  const startedAtEpoch = Date.now();
  request.inbound = inbound;
  if (context.draining) throw new GatewayError('not_ready', { message: 'gatehouse: this gateway is shutting down; retry on another replica', retryable: true });
  const key = authenticateClient(context, request, inbound);
  const policy = context.policy.current();
  request.policyVersion = policy.version;
  const body = request.body as Record<string, unknown>;
  const rawBody = request.rawBody ?? Buffer.from(JSON.stringify(body));
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new GatewayError('invalid_request', { message: 'gatehouse: the request body needs a "model" string', param: 'model' });
  }
  const state: TurnState = {
    startedAt,
    startedAtEpoch,
    requestId: request.id,
    inbound,
    key,
    policy,
    facts: readSessionFacts(request.headers, body, request.id),
    requestedModel: body.model,
    inputTokenEstimate: estimateInputTokens(rawBody.length),
    stream: body.stream === true,
    attempts: [],
    clientEffort: clientReasoningEffort(inbound, body) ?? '',
  };
  return { state, body, rawBody };
}

/** Rate limits, budget and policy: sets the turn's reservations and decision, or refuses it (throws). */
async function admitAndDecide(context: GatewayContext, state: TurnState, body: Record<string, unknown>): Promise<void> {
  const { key, policy } = state;
  const center = policy.document.cost_centers[key.costCenter];
  const requestedDefinition = policy.document.models[state.requestedModel];
  // Admission reserves the most the turn may use, so concurrent long answers cannot overrun a budget or tpm.
  const outputTokens = outputReservation(body, requestedDefinition, context.config.providers, state.inputTokenEstimate);
  if (center) {
    const admission = await admitKey(key, center, state.requestedModel, state.inputTokenEstimate + outputTokens, context.rateLimiter);
    if (admission.refusal) refuse(context, state, body, admission.refusal);
    state.rate = admission.rate;
  }
  const facts = requestFacts(context, state, body, center);
  if (context.budgets && center && requestedDefinition) {
    const estimateUsd = estimateCostUsd(state.inputTokenEstimate, outputTokens, modelPrice(requestedDefinition));
    state.budget = await context.budgets.admit({
      requestId: state.requestId,
      key,
      costCenterName: key.costCenter,
      costCenter: center,
      estimateUsd,
      downgradeEstimateUsd: downgradeEstimateUsd(policy, facts, body, context.config.providers),
      now: new Date(state.startedAtEpoch),
      sessionId: state.facts.sessionId,
      requestedModel: state.requestedModel,
      policyVersion: policy.version,
    });
  }
  const affinityModel = state.budget ? state.budget.affinity : center && context.affinity ? await context.affinity.get(state.facts.sessionId, state.requestedModel) : undefined;

  const decision = evaluatePolicy(policy.document, { ...facts, budgetStage: state.budget?.stage ?? 'ok', affinityModel });
  state.decision = decision;
  if (decision.kind === 'deny') {
    state.budget?.settle(0);
    if (decision.code === 'budget_exhausted' && state.budget?.pauseError) refuse(context, state, body, state.budget.pauseError);
    refuse(context, state, body, new GatewayError(decision.code, { message: decision.message, param: decision.param }));
  }
}

/** What the pure policy decides on (the budget stage and sticky model are filled in once known). */
function requestFacts(context: GatewayContext, state: TurnState, body: Record<string, unknown>, center: CostCenter | undefined): RequestFacts {
  const { key } = state;
  return {
    costCenter: key.costCenter,
    developer: key.developer,
    tags: key.tags,
    requestedModel: state.requestedModel,
    inputTokenEstimate: state.inputTokenEstimate,
    clock: clockIn(center?.timezone ?? 'UTC', new Date(state.startedAtEpoch)),
    budgetStage: 'ok',
    trailingToolFailures: context.countTrailingToolFailures ? context.countTrailingToolFailures(body, state.inbound) : 0,
    // Drawn from the session, not per turn: a session's outcome then belongs to one model.
    explorationDraw: center?.exploration ? sessionDraw(`exploration-models:${key.costCenter}`, state.facts.sessionId) : undefined,
    sessionId: state.facts.sessionId,
    explorationPlan: planForTurn(context.explorationPlan?.(key.costCenter), state.inbound, state.policy.document, context.config.providers),
    reasoningEffort: state.clientEffort || undefined,
  };
}

/** The client's response, with the decision's headers, held until the turn is journaled; the turn's guardrail. */
function openSink(context: GatewayContext, state: TurnState, reply: FastifyReply): ReplySink {
  const decision = state.decision as Extract<Decision, { kind: 'route' }>;
  const baseHeaders: Record<string, string> = {
    'x-gatehouse-request-id': state.requestId,
    'x-gatehouse-policy-version': String(state.policy.version),
    'x-gatehouse-budget-stage': state.budget?.stage === 'pause' ? 'downgrade' : (state.budget?.stage ?? 'ok'),
  };
  if (decision.downgradedFrom) baseHeaders['x-gatehouse-downgraded-from'] = decision.downgradedFrom;
  const sink = new ReplySink(reply, baseHeaders);
  // A turn the client saw complete must survive a kill -9 right after: its response ends once the
  // span row is journaled (recordTurn), or on the next event-loop turn whatever happens.
  sink.holdEnd();
  state.releaseEnd = (afterEnd) =>
    context.writer.whenJournaled('spans', () => {
      sink.releaseEnd();
      afterEnd();
    });
  const center = state.policy.document.cost_centers[state.key.costCenter];
  state.guard = guardrailActive(center?.guardrails) ? new TurnGuard(guardContextOf(context), center.guardrails, state.inbound, guardFacts(state)) : undefined;
  state.guard?.watchAnswer(state.stream, sink); // the guardrail hook's check after the hop holds (or copies) the answer
  return sink;
}

/** No target served the turn: the span, the budget and rate given back, then the error (or a refusal). */
function failUnserved(context: GatewayContext, state: TurnState, body: Record<string, unknown>, lastError: GatewayError | undefined): never {
  state.budget?.settle(0);
  state.rate?.settle(0);
  const failure = lastError ?? new GatewayError('no_healthy_upstream', { message: 'gatehouse: no upstream target could be tried' });
  failure.attempts = state.attempts;
  // A fallback the policy forbids is a denial: refuse() writes the turn's one span and audit event.
  if (REFUSAL_CODES.has(failure.code)) refuse(context, state, body, failure);
  const row = baseRow(state);
  row.status_code = failure.status;
  row.error_code = failure.code;
  row.error_message = failure.message;
  const last = state.attempts[state.attempts.length - 1];
  row.served_model = last?.model ?? '';
  row.provider = last?.provider ?? '';
  recordTurn(context, row, state, body, []);
  throw failure;
}

/** What one pass along the decision's chain needs. */
interface ChainRun {
  context: GatewayContext;
  state: TurnState;
  request: { inbound: InboundProtocol; body: Record<string, unknown>; rawBody: Buffer; forwardHeaders: Record<string, string>; stream: boolean; sink: ReplySink; upstreamPath: string | undefined; query: string };
}

interface ChainResult {
  outcome?: ForwardOutcome | undefined;
  served?: ResolvedTarget | undefined;
  lastError?: GatewayError | undefined;
  /** Nothing was sent: every target was skipped because its circuit was open. */
  allOpen: boolean;
}

/** Tries the chain's targets in order; falls back only while nothing has reached the client. `panic` ignores open circuits. */
async function forwardAlongChain(run: ChainRun, panic: boolean): Promise<ChainResult> {
  const { context, state, request } = run;
  const decision = state.decision as Extract<Decision, { kind: 'route' }>;
  const { sink, inbound } = request;
  let lastError: GatewayError | undefined;
  let allOpen = true;
  for (const entry of decision.chain) {
    if (entry.deniedBy) {
      lastError = new GatewayError(entry.deniedBy.code, { message: `${entry.deniedBy.message} (fallback after: ${lastError?.message ?? 'primary failed'})`, param: 'model' });
      return { lastError, allOpen: false };
    }
    let target: ResolvedTarget;
    try {
      target = resolveTarget(state.policy, context, entry.model);
    } catch (error) {
      lastError = error as GatewayError;
      allOpen = false;
      continue;
    }
    // The secret guardrail decides per hop, before anything leaves: a fallback to another provider may be stricter.
    let hop: GuardedHop | undefined;
    try {
      hop = state.guard ? await state.guard.forHop(target, request.body, request.rawBody) : undefined;
    } catch (error) {
      return { lastError: error as GatewayError, allOpen: false };
    }
    const targetId = targetKey(target.providerName, target.model);
    const refusal = context.upstreamGuard?.acquire(targetId, { panic });
    if (refusal) {
      const words = refusal === 'circuit_open' ? 'is failing (circuit open)' : 'is at its concurrency limit (providers.*.max_concurrency)';
      if (refusal !== 'circuit_open') allOpen = false;
      if (!panic) state.attempts.push({ model: target.model, provider: target.providerName, code: refusal, durationMillis: 0, reason: words });
      lastError = new GatewayError('no_healthy_upstream', { message: `gatehouse: provider "${target.providerName}" ${words} for model "${target.model}"`, retryable: true, provider: target.providerName });
      continue;
    }
    allOpen = false;
    const samePath = SAME_PROTOCOL[inbound] === target.provider.type;
    if (request.upstreamPath && !samePath) {
      context.upstreamGuard?.release(targetId);
      // Remote compaction is an OpenAI Responses feature; other upstreams have nothing to call.
      lastError = new GatewayError('invalid_request', { message: `gatehouse: ${request.upstreamPath} is only available when the model is served by an OpenAI Responses upstream ("${target.model}" is served by ${target.provider.type})`, provider: target.providerName });
      break;
    }
    const forwarder: Forwarder | undefined = samePath ? forwardPassthrough : context.forwardTranslated;
    if (!forwarder) {
      context.upstreamGuard?.release(targetId);
      lastError = new GatewayError('no_healthy_upstream', { message: `gatehouse: no translation from ${inbound} to provider type ${target.provider.type} is available`, provider: target.providerName });
      continue;
    }
    const attempt = await attemptTarget(run, target, targetId, forwarder, panic, hop);
    if (attempt.outcome) return { outcome: attempt.outcome, served: target, allOpen: false };
    lastError = attempt.error;
    if (sink.started || !attempt.error?.retryable || sink.signal.aborted) break;
  }
  return { lastError, allOpen: allOpen && !panic && lastError !== undefined };
}

/** One upstream attempt, with the breaker told what happened and the attempt recorded with its real cause. */
async function attemptTarget(run: ChainRun, target: ResolvedTarget, targetId: string, forwarder: Forwarder, panic: boolean, hop: GuardedHop | undefined): Promise<{ outcome?: ForwardOutcome; error?: GatewayError }> {
  const { context, state, request } = run;
  const { sink } = request;
  sink.setHeader('x-gatehouse-served-model', target.model);
  sink.setHeader('x-gatehouse-provider', target.providerName);
  // Same origin as the span's fallback_from: the failed first attempt, else the sticky session's model.
  const fallbackFrom = state.attempts[0]?.model ?? (state.decision?.kind === 'route' ? state.decision.affinityFrom : undefined);
  if (fallbackFrom && fallbackFrom !== target.model) sink.setHeader('x-gatehouse-fallback-from', fallbackFrom);
  const attemptStart = performance.now();
  let resent = 0;
  try {
    const outcome = await forwarder({
      inbound: request.inbound,
      upstreamPath: request.upstreamPath,
      query: request.query,
      body: hop?.body ?? request.body,
      rawBody: hop?.rawBody ?? request.rawBody,
      forwardHeaders: request.forwardHeaders,
      target,
      stream: request.stream,
      sink,
      timeouts: {
        connectMillis: context.config.timeouts.connect_ms,
        firstByteMillis: context.config.timeouts.first_byte_ms,
        idleMillis: context.config.timeouts.idle_ms,
        totalMillis: context.config.timeouts.total_ms,
      },
      sessionId: state.facts.sessionId,
      requestId: state.requestId,
      reasoningEffort: decidedEffort(state, target),
      onResent: (times) => (resent = times),
    });
    // An answer that broke after its first byte because of the transport counts against the upstream; a client that left does not.
    const brokeUpstream = outcome.transport !== undefined && outcome.errorCode !== 'client_disconnected';
    if (brokeUpstream) {
      context.upstreamGuard?.onFailure(targetId, `${outcome.errorCode ?? 'upstream_error'} ${outcome.transport?.code ?? ''}`);
      context.logger.warn({ request_id: state.requestId, provider: target.providerName, model: target.model, phase: outcome.transport?.phase, cause: outcome.transport?.code, detail: outcome.transport?.detail }, 'upstream answer broke mid-stream');
    } else context.upstreamGuard?.onSuccess(targetId);
    if (state.attempts.length > 0 || panic || resent > 0 || brokeUpstream) {
      state.attempts.push({ model: target.model, provider: target.providerName, status: outcome.status, durationMillis: performance.now() - attemptStart, ...(panic ? { breaker: 'panic' as const } : {}), ...(resent > 0 ? { resent } : {}), ...(outcome.transport ? { code: outcome.errorCode, phase: outcome.transport.phase, cause: outcome.transport.code } : {}) });
    }
    return { outcome };
  } catch (error) {
    return { error: failedAttempt(run, target, targetId, error, { panic, resent, attemptStart }) };
  } finally {
    context.upstreamGuard?.release(targetId);
  }
}

/** A failed attempt: the breaker told (unless the client left), the attempt recorded with its cause; the error to go on with. */
function failedAttempt(run: ChainRun, target: ResolvedTarget, targetId: string, error: unknown, attempt: { panic: boolean; resent: number; attemptStart: number }): GatewayError {
  const { context, state } = run;
  const { sink } = run.request;
  const { panic, resent, attemptStart } = attempt;
  const failure = error instanceof GatewayError ? error : new GatewayError('internal_error', { message: 'gatehouse: internal error while forwarding', cause: error });
  const clientLeft = sink.signal.aborted;
  // A request the upstream rejected (400), or one the client abandoned, says nothing about the upstream's health.
  if (failure.retryable && !clientLeft) context.upstreamGuard?.onFailure(targetId, `${failure.code}${failure.transport ? ` ${failure.transport.code}` : ''}`);
  else if (!clientLeft) context.upstreamGuard?.onSuccess(targetId);
  if (!clientLeft) context.metrics.upstreamErrors.inc({ provider: target.providerName, code: failure.code });
  const cause = failure.transport;
  if (!clientLeft && failure.retryable) {
    context.logger.warn({ request_id: state.requestId, provider: target.providerName, model: target.model, code: failure.code, status: failure.upstream?.status, phase: cause?.phase, cause: cause?.code, detail: cause?.detail }, 'upstream attempt failed');
  }
  state.attempts.push({
    model: target.model,
    provider: target.providerName,
    status: failure.upstream?.status ?? failure.status,
    code: clientLeft ? 'client_closed_request' : failure.code,
    durationMillis: performance.now() - attemptStart,
    reason: failure.message.slice(0, 300),
    ...(cause ? { phase: cause.phase, cause: cause.code } : {}),
    ...(panic ? { breaker: 'panic' as const } : {}),
    ...(resent > 0 ? { resent } : {}),
  });
  return clientLeft && failure.code !== 'client_closed_request' ? clientClosed(target.providerName) : failure;
}

function finishServedTurn(context: GatewayContext, state: TurnState, body: Record<string, unknown>, served: ResolvedTarget, outcome: ForwardOutcome, sink: ReplySink): void {
  const usage: NormalizedUsage | undefined = usageOfCutStream(outcome, state.inputTokenEstimate) ?? outcome.usage;
  const costUsd = usage ? computeCostUsd(usage, served.price) : 0;
  state.budget?.settle(costUsd);
  state.rate?.settle(usage ? usage.inputTokens + usage.outputTokens : 0);
  const decision = state.decision?.kind === 'route' ? state.decision : undefined;
  const row = baseRow(state);
  row.served_model = served.model;
  row.provider = served.providerName;
  row.provider_type = served.provider.type;
  row.status_code = outcome.status;
  row.error_code = outcome.errorCode ?? '';
  row.error_message = outcome.errorMessage ?? '';
  row.input_tokens = usage?.inputTokens ?? 0;
  row.cached_input_tokens = usage?.cachedInputTokens ?? 0;
  row.cache_write_tokens = usage?.cacheWriteTokens ?? 0;
  row.output_tokens = usage?.outputTokens ?? 0;
  row.reasoning_tokens = usage?.reasoningTokens ?? 0;
  row.cost_usd = costUsd;
  row.price_source = served.priceSource;
  row.reasoning_effort = decidedEffort(state, served) ?? state.clientEffort;
  row.translation_warnings = usage === outcome.usage ? outcome.warnings : [...outcome.warnings, 'usage estimated: the stream ended before the upstream reported usage'];
  row.tool_call_count = outcome.toolCalls.length;
  row.ttfb_ms = sink.firstByteMillis;
  context.metrics.ttfb.observe({ provider: served.providerName }, outcome.ttfbMillis / 1000);

  const firstAttempt = state.attempts[0];
  const hopped = firstAttempt !== undefined && firstAttempt.model !== served.model;
  if (hopped) {
    row.fallback_from = firstAttempt.model;
    row.hop_reason = [firstAttempt.status, firstAttempt.code].filter(Boolean).join(' ');
  } else if (decision?.affinityFrom) {
    row.fallback_from = decision.affinityFrom;
    row.hop_reason = 'affinity';
  }
  if (hopped) onFallbackHop(context, state, firstAttempt.model, firstAttempt.provider, served, row.hop_reason);
  recordTurn(context, row, state, body, outcome.toolCalls);
}

/**
 * A stream that ended in an error after the first byte (client gone, upstream died) rarely carries
 * the upstream's final usage, yet the upstream billed the prompt and what it generated: account
 * the request-size estimate for input and the forwarder's partial output rather than nothing.
 */
function usageOfCutStream(outcome: ForwardOutcome, inputTokenEstimate: number): NormalizedUsage | undefined {
  if (outcome.errorCode === undefined) return undefined;
  const partial = outcome.usage;
  if (partial !== undefined && partial.inputTokens > 0) return undefined;
  return { inputTokens: inputTokenEstimate, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: partial?.outputTokens ?? 0, reasoningTokens: partial?.reasoningTokens ?? 0 };
}

function onFallbackHop(context: GatewayContext, state: TurnState, fromModel: string, fromProvider: string, served: ResolvedTarget, reason: string): void {
  const center = state.policy.document.cost_centers[state.key.costCenter];
  context.metrics.hops.inc({ from: fromProvider, to: served.providerName });
  if (context.affinity && center && center.affinity_seconds > 0) context.affinity.set(state.facts.sessionId, state.requestedModel, served.model, center.affinity_seconds);
  if (fromProvider === served.providerName) return;
  const details = { from_model: fromModel, from_provider: fromProvider, to_model: served.model, to_provider: served.providerName, reason, session_id: state.facts.sessionId, developer: state.key.developer };
  context.audit.record({ actor: 'gateway', action: 'provider.hop', subject: state.requestId, cost_center: state.key.costCenter, policy_version: state.policy.version, details });
  context.alert?.({ event: 'provider.hop', cost_center: state.key.costCenter, ts: new Date().toISOString(), ...details });
}
