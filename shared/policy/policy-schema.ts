import { z } from 'zod';
import { REASONING_EFFORTS } from './reasoning-effort.ts';
import { catalogPrice } from '../pricing/model-catalog.ts';

const TokenRatesSchema = z.object({
  input: z.number().nonnegative(),
  cached_input: z.number().nonnegative().optional(),
  /** Anthropic/Bedrock cache writes; defaults to `input`. */
  cache_write: z.number().nonnegative().optional(),
  output: z.number().nonnegative(),
});

/** USD per million tokens. */
export const PriceSchema = TokenRatesSchema.extend({
  /** Rates for a turn whose input exceeds `above_input_tokens` (long-context pricing, e.g. above 272K). */
  long_context: TokenRatesSchema.extend({ above_input_tokens: z.number().int().positive() }).strict().optional(),
}).strict();
export type Price = z.infer<typeof PriceSchema>;

export const ModelSchema = z
  .object({
    /** Name of a provider in the deployment config (`providers`). */
    provider: z.string().min(1),
    /** Model id sent upstream (an alias may differ from the public name). */
    upstream: z.string().min(1),
    /** Absent = the model catalog's price (docs/CONFIG.md#model-catalog); the policy's price wins. */
    price: PriceSchema.optional(),
    /**
     * The `max_tokens` sent to an Anthropic upstream, which requires one, when the client sets none (else
     * 32000); such a request's output reservation is this cap.
     */
    default_max_output_tokens: z.number().int().positive().optional(),
    /**
     * The most output tokens the model can produce in one answer. Budget and tpm reservations count
     * min(the request's own cap, this) (docs/CONFIG.md#output-reservation). @defaultValue 32000, or less when
     * the catalog's context window leaves less room after the input
     */
    max_output_tokens: z.number().int().positive().optional(),
  })
  .strict();
export type ModelDefinition = z.infer<typeof ModelSchema>;

const BudgetPairSchema = z
  .object({ daily_usd: z.number().positive().optional(), monthly_usd: z.number().positive().optional() })
  .strict();
export type BudgetPair = z.infer<typeof BudgetPairSchema>;

export const StagesSchema = z
  .object({
    alert: z.number().positive().default(0.8),
    downgrade: z.number().positive().default(0.95),
    pause: z.number().positive().default(1.1),
  })
  .strict();

/**
 * Optimizer settings of the policy: global under `optimizer`, per cost center under
 * `cost_centers.<name>.optimizer` (a field set there wins). Every field is optional; the defaults
 * live in `shared/policy/optimizer-settings.ts` so one resolved view serves gateway and optimizer.
 */
export const OptimizerPolicySchema = z
  .object({
    /** Data a cost center needs before the optimizer proposes anything. */
    warm_up: z
      .object({
        min_days: z.number().int().nonnegative().optional(),
        min_turns: z.number().int().nonnegative().optional(),
        /** Scored turns each arm needs (baseline on the requested model, target on the cheaper one). */
        min_scored_turns: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    /** Share of an activated optimizer rule's matching sessions that keep the old route (the concurrent control). */
    holdout_share: z.number().min(0).max(0.5).optional(),
    /** Share of sessions the optimizer may route to a candidate it is still learning. Capped at 0.05. */
    exploration_share: z.number().min(0).max(0.05, { message: 'exploration_share is capped at 0.05 (5% of sessions)' }).optional(),
    /** Weights of the quality components in the optimizer's objective and the rollback guard (normalised to sum 1). */
    quality_weights: z
      .object({ tool_use_accuracy: z.number().nonnegative().optional(), task_completion: z.number().nonnegative().optional(), code_correctness: z.number().nonnegative().optional() })
      .strict()
      .optional(),
  })
  .strict();
export type OptimizerPolicy = z.infer<typeof OptimizerPolicySchema>;

const isValidRegex = (source: string): boolean => {
  try {
    new RegExp(source, 'g');
    return true;
  } catch {
    return false;
  }
};

/**
 * External guardrail hook of a cost center (docs/GUARDRAILS.md): an HTTP classifier the gateway asks about
 * each new conversation item before the hop and/or about the answer after it.
 */
export const GuardrailHookSchema = z
  .object({
    /** The classifier's endpoint; receives `POST` with the JSON of docs/GUARDRAILS.md. */
    url: z
      .string()
      .url()
      .refine((url) => /^https?:\/\//.test(url), { message: 'an http:// or https:// URL' }),
    /** How long the classifier may take per call before `on_error` decides. @defaultValue 1000 */
    timeout_ms: z.number().int().positive().max(60_000).default(1000),
    /** What a timeout, a refused connection or an unreadable answer means: `open` sends on, `closed` refuses the turn. @defaultValue closed */
    on_error: z.enum(['open', 'closed']).default('closed'),
    /** `before_hop`: the new items of each turn before each upstream hop; `after_hop`: the model's answer; `both`. @defaultValue before_hop */
    when: z.enum(['before_hop', 'after_hop', 'both']).default('before_hop'),
    /** Headers sent to the classifier as written (the policy is stored and shown: no secret here). */
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), z.string()).default({}),
    /** Headers whose value is read from the gateway's environment at call time (`authorization: GUARD_AUTH`): a credential stays out of the policy. */
    headers_from_env: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name'), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default({}),
  })
  .strict();
export type GuardrailHook = z.infer<typeof GuardrailHookSchema>;

/**
 * Secret guardrail of a cost center (docs/CONFIG.md#guardrails): what happens before every upstream hop
 * to a secret found in what would be sent. Absent = off.
 */
export const GuardrailsSchema = z
  .object({
    /** `off` sends as is; `redact` replaces each secret with «secret:<rule>:<hash>»; `block` refuses the turn (400 secret_detected). */
    secrets: z.enum(['off', 'redact', 'block']).default('off'),
    /** What a fallback hop to another provider than the first one does with a found secret; `same` = as `secrets`. */
    cross_provider: z.enum(['same', 'redact', 'block']).default('same'),
    /** Extra patterns beside the maintained rule set (secretlint's recommended preset). */
    patterns: z
      .array(
        z
          .object({
            id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, ".", "_" or "-"'),
            regex: z.string().min(1).refine(isValidRegex, { message: 'not a valid JavaScript regular expression' }),
          })
          .strict(),
      )
      .default([]),
    /** Optional external classifier (docs/GUARDRAILS.md). Absent = none, and no cost. */
    hook: GuardrailHookSchema.optional(),
  })
  .strict();
export type Guardrails = z.infer<typeof GuardrailsSchema>;

export const CostCenterSchema = z
  .object({
    allowed_models: z.array(z.string()).default([]),
    /** Empty = any provider of an allowed model. */
    allowed_providers: z.array(z.string()).default([]),
    budgets: z.object({ developer: BudgetPairSchema.optional(), cost_center: BudgetPairSchema.optional() }).strict().default({}),
    stages: StagesSchema.default({ alert: 0.8, downgrade: 0.95, pause: 1.1 }),
    downgrade: z.record(z.string(), z.string()).default({}),
    fallback: z.record(z.string(), z.array(z.string())).default({}),
    retry_cap: z.number().int().nonnegative().default(3),
    capture: z.enum(['metadata', 'redacted', 'full']).default('metadata'),
    /** Log what would be denied/routed without enforcing it. */
    dry_run: z.boolean().default(false),
    /** IANA time zone for budget periods and rule hours. @defaultValue UTC */
    timezone: z.string().default('UTC'),
    /** Largest quality regression the optimizer may propose and the rollback guard tolerates. @defaultValue 0.005 */
    quality_regression_limit: z.number().nonnegative().max(1).default(0.005),
    /** Seconds a session stays on a fallback target once it was served there. @defaultValue 900 */
    affinity_seconds: z.number().nonnegative().default(900),
    /** Share of eligible turns routed to a random allowed cheaper model to learn its quality. @defaultValue 0 */
    exploration: z.object({ rate: z.number().min(0).max(0.2), models: z.array(z.string()) }).strict().optional(),
    /** Overrides of the global `optimizer` settings for this cost center. */
    optimizer: OptimizerPolicySchema.optional(),
    /** Requests and tokens per minute: per developer key (`rpm`, `tpm`; a key's own limits win) and for the whole cost center. */
    limits: z
      .object({
        rpm: z.number().int().positive().optional(),
        tpm: z.number().int().positive().optional(),
        cost_center: z.object({ rpm: z.number().int().positive().optional(), tpm: z.number().int().positive().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
    /** Secret guardrail before every upstream hop. Absent = off. */
    guardrails: GuardrailsSchema.optional(),
  })
  .strict();
export type CostCenter = z.infer<typeof CostCenterSchema>;

export const KeySchema = z
  .object({
    key: z.string().min(6).optional(),
    key_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    developer: z.string().min(1),
    cost_center: z.string().min(1),
    repo: z.string().optional(),
    /** Identity claim the key was issued to (e.g. an email or OIDC subject). */
    identity: z.string().optional(),
    tags: z.array(z.string()).default([]),
    budgets: BudgetPairSchema.optional(),
  })
  .strict()
  .refine((k) => k.key !== undefined || k.key_sha256 !== undefined, { message: 'give key or key_sha256' });

export const DaySchema = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

export const RuleSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/),
    description: z.string().optional(),
    /** Empty = every cost center. */
    cost_centers: z.array(z.string()).default([]),
    when: z
      .object({
        requested_models: z.array(z.string()).optional(),
        input_tokens: z.object({ min: z.number().int().nonnegative().optional(), max: z.number().int().positive().optional() }).strict().optional(),
        /** [start, end) hours in the cost center's time zone; start > end wraps midnight. */
        hours: z.tuple([z.number().int().min(0).max(23), z.number().int().min(1).max(24)]).optional(),
        days: z.array(DaySchema).optional(),
        budget_stages: z.array(z.enum(['ok', 'alert', 'downgrade'])).optional(),
        developer_tags: z.array(z.string()).optional(),
      })
      .strict()
      .default({}),
    route_to: z.string().min(1),
    /** Lower the client's reasoning effort to this on the turns the rule routes (a client asking for less keeps its own). Set by the optimizer's exploration proposals. */
    reasoning_effort: z.enum(REASONING_EFFORTS).optional(),
    dry_run: z.boolean().default(false),
    /** Set by the optimizer: the proposal this rule came from. */
    proposal_id: z.string().optional(),
  })
  .strict();
export type RoutingRule = z.infer<typeof RuleSchema>;

export const ApproverSchema = z
  .object({
    id: z.string().min(1),
    /** Ed25519 public key, PEM (SPKI). */
    public_key: z.string().includes('BEGIN PUBLIC KEY'),
    /** Cost centers this approver may approve changes for; `*` = all, including approvers. */
    scopes: z.array(z.string()).min(1),
    /** OIDC subject that maps to this approver, when OIDC sign-in is configured. */
    oidc_subject: z.string().optional(),
  })
  .strict();

export const PolicySchema = z
  .object({
    models: z.record(z.string(), ModelSchema),
    cost_centers: z.record(z.string(), CostCenterSchema),
    keys: z.array(KeySchema).default([]),
    rules: z.array(RuleSchema).default([]),
    approvers: z.array(ApproverSchema).default([]),
    alerts: z.object({ webhook_url: z.string().url().optional() }).strict().default({}),
    /** Whole-gateway dry run: every cost center behaves as `dry_run: true`. */
    dry_run: z.boolean().default(false),
    /** Optimizer settings every cost center inherits (each may override under its own `optimizer`). */
    optimizer: OptimizerPolicySchema.optional(),
    oidc: z.object({ issuer: z.string(), audience: z.string(), jwks_url: z.string().url() }).strict().optional(),
  })
  .strict()
  .superRefine((policy, context) => {
    for (const issue of policyReferenceIssues(policy)) context.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

type Loose = Record<string, unknown>;
const asRecord = (value: unknown): Loose => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/**
 * Cross-references (models named by cost centers, rules and keys exist). Works on loosely shaped
 * input too, so a file with type errors still gets its reference errors listed in the same run.
 */
export function policyReferenceIssues(raw: unknown): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const policy = asRecord(raw);
  const models = asRecord(policy.models);
  const centers = asRecord(policy.cost_centers);
  for (const [name, modelValue] of Object.entries(models)) {
    const model = asRecord(modelValue);
    if (model.price === undefined && typeof model.upstream === 'string' && catalogPrice(model.upstream) === undefined) {
      issues.push({ path: ['models', name, 'price'], message: `the model catalog has no price for "${model.upstream}": give price { input, cached_input, output } in USD per million tokens` });
    }
  }
  const checkModel = (model: unknown, path: (string | number)[]) => {
    if (typeof model === 'string' && !(model in models)) issues.push({ path, message: `unknown model "${model}" (define it under models)` });
  };
  for (const [centerName, centerValue] of Object.entries(centers)) {
    const center = asRecord(centerValue);
    asArray(center.allowed_models).forEach((model, index) => checkModel(model, ['cost_centers', centerName, 'allowed_models', index]));
    for (const [from, to] of Object.entries(asRecord(center.downgrade))) {
      checkModel(from, ['cost_centers', centerName, 'downgrade', from]);
      checkModel(to, ['cost_centers', centerName, 'downgrade', from]);
    }
    for (const [from, chain] of Object.entries(asRecord(center.fallback))) {
      checkModel(from, ['cost_centers', centerName, 'fallback', from]);
      asArray(chain).forEach((model, index) => checkModel(model, ['cost_centers', centerName, 'fallback', from, index]));
    }
  }
  asArray(policy.keys).forEach((keyValue, index) => {
    const costCenter = asRecord(keyValue).cost_center;
    if (typeof costCenter === 'string' && !(costCenter in centers)) issues.push({ path: ['keys', index, 'cost_center'], message: `unknown cost center "${costCenter}"` });
  });
  asArray(policy.rules).forEach((ruleValue, index) => {
    const rule = asRecord(ruleValue);
    checkModel(rule.route_to, ['rules', index, 'route_to']);
    asArray(rule.cost_centers).forEach((center, position) => {
      if (typeof center === 'string' && !(center in centers)) issues.push({ path: ['rules', index, 'cost_centers', position], message: `unknown cost center "${center}"` });
    });
  });
  return issues;
}

export type PolicyDocument = z.infer<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;
