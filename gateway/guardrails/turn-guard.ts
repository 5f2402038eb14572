import type { Guardrails } from '../../shared/policy/policy-schema.ts';
import type { AuditEvent } from '../../shared/audit/audit-event.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { InboundProtocol } from '../forward/forward-types.ts';
import { scanConversation, type ConversationScan, type HistoryScanCache } from './history-scan.ts';
import { compilePatterns, type ExtraPattern } from './secret-scanner.ts';
import type { FastifyRequest } from 'fastify';
import type { ForwardOutcome, ResolvedTarget } from '../forward/forward-types.ts';
import type { ReplySink } from '../pipeline/client-sink.ts';
import { HookGuard, type HookContext } from './guardrail-hook.ts';

type Mode = 'off' | 'redact' | 'block';

const compiled = new WeakMap<Guardrails, ExtraPattern[]>();
function patternsOf(guardrails: Guardrails): ExtraPattern[] {
  let patterns = compiled.get(guardrails);
  if (!patterns) compiled.set(guardrails, (patterns = compilePatterns(guardrails.patterns)));
  return patterns;
}

/** Whether a cost center's guardrail can change or refuse anything (else nothing is scanned, no hook called). */
export function guardrailActive(guardrails: Guardrails | undefined): guardrails is Guardrails {
  return guardrails !== undefined && (guardrails.secrets !== 'off' || guardrails.cross_provider !== 'same' || guardrails.hook !== undefined);
}

export interface TurnGuardContext extends HookContext {
  cache: HistoryScanCache;
  record(event: AuditEvent): void;
}

export interface TurnFacts {
  costCenter: string;
  developer: string;
  keyId: string;
  sessionId: string;
  requestId: string;
  requestedModel: string;
  policyVersion: number;
}

/** What a hop may send. */
export interface GuardedHop {
  body: Record<string, unknown>;
  rawBody: Buffer;
}

const summary = (rules: Record<string, number>): string =>
  Object.entries(rules)
    .map(([rule, count]) => (count > 1 ? `${rule} ×${count}` : rule))
    .join(', ');

/**
 * The secret guardrail of one turn: scans the conversation once (only the items the session has not
 * sent before), then decides per upstream hop — the first provider under `guardrails.secrets`, any
 * other provider under `guardrails.cross_provider` — before anything leaves the gateway.
 */
export class TurnGuard {
  /** Secrets in what was sent upstream (placeholders count too): the span's `guardrail_findings`. */
  findingsSent = 0;
  private scan: Promise<ConversationScan> | undefined;
  private firstProvider: string | undefined;
  private redactedRaw: Buffer | undefined;
  private readonly audited = new Set<string>();
  private readonly context: TurnGuardContext;
  private readonly guardrails: Guardrails;
  private readonly inbound: InboundProtocol;
  private readonly facts: TurnFacts;
  /** The external classifier of this turn, when the cost center has one (guardrails.hook). */
  private readonly hook: HookGuard | undefined;

  constructor(context: TurnGuardContext, guardrails: Guardrails, inbound: InboundProtocol, facts: TurnFacts) {
    this.context = context;
    this.guardrails = guardrails;
    this.inbound = inbound;
    this.facts = facts;
    this.hook = guardrails.hook ? new HookGuard(context, guardrails.hook, inbound, facts) : undefined;
  }

  /** The hook's decisions of this turn (`before_hop:allow after_hop:block`): the span's `guardrail_hook`. */
  get hookDecisions(): string {
    return this.hook?.decisions.join(' ') ?? '';
  }

  /** Readies the sink for the hook's check after the hop (a whole answer held, a stream copied); `afterHop` then judges it. */
  watchAnswer(stream: boolean, sink: ReplySink): void {
    this.hook?.watchAnswer(stream, sink);
  }

  /** The hook's check of a held answer: sends it, changed or replaced by the structured error (docs/GUARDRAILS.md). */
  async afterHop(request: FastifyRequest, target: ResolvedTarget, outcome: ForwardOutcome, sink: ReplySink): Promise<void> {
    if (this.hook) await this.hook.afterHop(request, target, target.providerName !== (this.firstProvider ?? target.providerName), outcome, sink);
  }

  private modeFor(provider: string): Mode {
    this.firstProvider ??= provider;
    if (provider === this.firstProvider || this.guardrails.cross_provider === 'same') return this.guardrails.secrets;
    return this.guardrails.cross_provider;
  }

  /**
   * The body to send to `target`: secrets redacted if the mode says so, then the hook's redactions;
   * throws `secret_detected`, `guardrail_blocked` or `guardrail_unavailable` to refuse the hop.
   */
  async forHop(target: ResolvedTarget, body: Record<string, unknown>, rawBody: Buffer): Promise<GuardedHop> {
    const provider = target.providerName;
    const mode = this.modeFor(provider);
    const guarded = mode === 'off' ? { body, rawBody } : await this.secretsFor(provider, mode, body, rawBody);
    if (!this.hook?.beforeHop) return guarded;
    // The classifier sees what the secret guardrail lets through, never a secret it redacted.
    return this.hook.forHop(target, provider !== this.firstProvider, body, guarded);
  }

  private async secretsFor(provider: string, mode: Exclude<Mode, 'off'>, body: Record<string, unknown>, rawBody: Buffer): Promise<GuardedHop> {
    // A request with no session of its own (its session id is the request id) would only fill the memory.
    const memoryKey = this.facts.sessionId === this.facts.requestId ? undefined : `${this.facts.costCenter}\u0000${this.facts.policyVersion}\u0000${this.facts.sessionId}`;
    this.scan ??= scanConversation(this.context.cache, memoryKey, this.inbound, body, patternsOf(this.guardrails));
    const scan = await this.scan;
    const total = Object.values(scan.rules).reduce((sum, count) => sum + count, 0);
    if (total === 0) return { body, rawBody };
    const crossProvider = provider !== this.firstProvider;
    if (mode === 'block') {
      this.audit('guardrail.blocked', scan, provider, crossProvider);
      const setting = crossProvider ? 'guardrails.cross_provider' : 'guardrails.secrets';
      throw new GatewayError('secret_detected', {
        message:
          `gatehouse: this conversation contains ${total === 1 ? 'a secret' : `${total} secrets`} (${summary(scan.rules)} in ${scan.locations.join(', ')}) and cost center "${this.facts.costCenter}" ` +
          `does not let secrets reach provider "${provider}" (${setting}: block). Rotate the credential, then start a new session without it ` +
          `(the history is resent every turn), or ask the cost center's owner for ${setting}: redact.`,
        param: scan.locations[0] ?? null,
      });
    }
    this.findingsSent = total;
    this.audit('guardrail.redacted', scan, provider, crossProvider);
    this.redactedRaw ??= scan.redactedRaw ?? Buffer.from(JSON.stringify(scan.redactedBody));
    return { body: scan.redactedBody, rawBody: this.redactedRaw };
  }

  /** One audit event per turn that found something new (values never leave the gateway, not even here). */
  private audit(action: 'guardrail.redacted' | 'guardrail.blocked', scan: ConversationScan, provider: string, crossProvider: boolean): void {
    // A redaction is audited when the session shows a secret for the first time; every block is audited.
    const fresh = Object.keys(scan.newRules).length > 0;
    if (this.audited.has(action) || (action === 'guardrail.redacted' && !fresh)) return;
    this.audited.add(action);
    this.context.record({
      actor: this.facts.developer,
      action,
      subject: this.facts.requestId,
      cost_center: this.facts.costCenter,
      policy_version: this.facts.policyVersion,
      details: { session_id: this.facts.sessionId, provider, cross_provider: crossProvider, rules: scan.rules, new_rules: scan.newRules, locations: scan.locations },
    });
  }
}
