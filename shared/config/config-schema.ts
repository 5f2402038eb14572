import { z } from 'zod';
import { PROVIDER_DEFINITIONS, PROVIDER_TYPES } from '../../gateway/providers/registry.ts';
import { OPENAI_COMPATIBLE_PRESET_NAMES } from './openai-compatible-preset-names.ts';

/** Provider wire types Gatehouse can speak to, read from the provider definitions. @see ../../gateway/providers/README.md */
export const ProviderTypeSchema = z.enum(PROVIDER_TYPES);

export const ProviderConfigSchema = z
  .object({
    type: ProviderTypeSchema,
    /**
     * Upstream base URL, e.g. `https://api.openai.com/v1`. When absent, each type uses its own vendor's
     * endpoint (openai: api.openai.com, anthropic: api.anthropic.com, gemini: generativelanguage.googleapis.com,
     * bedrock: bedrock-runtime.<region>.amazonaws.com, openai-chat: its preset's, else api.openai.com);
     * azure-openai requires it.
     */
    base_url: z.string().url().optional(),
    /** Secret key; never logged. */
    api_key: z.string().optional(),
    /** Azure OpenAI `api-version` query parameter. */
    api_version: z.string().optional(),
    /** How the key is sent for OpenAI-compatible servers. @defaultValue bearer */
    auth_style: z.enum(['bearer', 'api-key', 'x-api-key', 'none']).optional(),
    /** Preset name for OpenAI-compatible servers (vllm, ollama, groq, …) filling `base_url`/`auth_style`; an unknown name is refused at start. */
    preset: z
      .string()
      .refine((name) => (OPENAI_COMPATIBLE_PRESET_NAMES as readonly string[]).includes(name), { error: (issue) => `unknown preset "${String(issue.input)}"; known presets: ${OPENAI_COMPATIBLE_PRESET_NAMES.join(', ')}` })
      .optional(),
    /** Bedrock */
    region: z.string().optional(),
    access_key_id: z.string().optional(),
    secret_access_key: z.string().optional(),
    session_token: z.string().optional(),
    /** Extra static headers sent upstream (e.g. an org header). */
    headers: z.record(z.string(), z.string()).optional(),
    /** Maximum concurrent requests to this upstream. @defaultValue 256 */
    max_concurrency: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((provider, context) => {
    // Most types default to their own vendor's endpoint; a definition with a base_url example has none (Azure).
    const example = PROVIDER_DEFINITIONS.find((definition) => definition.type === provider.type)?.baseUrlExample;
    if (example !== undefined && provider.base_url === undefined) {
      context.addIssue({ code: 'custom', path: ['base_url'], message: `${provider.type} needs base_url (${example}): there is no default endpoint` });
    }
  });
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;

export const AdminTokenSchema = z
  .object({
    name: z.string().min(1),
    role: z.enum(['admin', 'approver', 'analyst']),
    token: z.string().min(16, 'admin tokens must be at least 16 characters').optional(),
    token_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict()
  .refine((t) => t.token !== undefined || t.token_sha256 !== undefined, { message: 'give token or token_sha256' });

export const TimeoutsSchema = z
  .object({
    /** TCP/TLS connect timeout. @defaultValue 5000 */
    connect_ms: z.number().int().positive().default(5_000),
    /** Time until the upstream's response headers arrive. @defaultValue 60000 */
    first_byte_ms: z.number().int().positive().default(60_000),
    /** Longest silence between two stream chunks. @defaultValue 120000 */
    idle_ms: z.number().int().positive().default(120_000),
    /** Whole request. @defaultValue 900000 */
    total_ms: z.number().int().positive().default(900_000),
  })
  .strict();

export const DeploymentConfigSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8787),
        /** Largest accepted request body. @defaultValue 33554432 (32 MiB: Codex resends long histories) */
        body_limit_bytes: z.number().int().positive().default(32 * 1024 * 1024),
        /** Client must send the whole request within this time. @defaultValue 30000 */
        request_timeout_ms: z.number().int().positive().default(30_000),
        /** How long SIGTERM waits for in-flight streams. @defaultValue 30000 */
        drain_timeout_ms: z.number().int().positive().default(30_000),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8787, body_limit_bytes: 32 * 1024 * 1024, request_timeout_ms: 30_000, drain_timeout_ms: 30_000 }),
    /** Folder for the embedded ClickHouse data, the span spool and local state. @defaultValue .gatehouse */
    data_dir: z.string().default('.gatehouse'),
    clickhouse: z
      .object({
        /** `embedded` (chDB in-process) or an http(s) URL of a ClickHouse server. */
        url: z.union([z.literal('embedded'), z.string().url()]).default('embedded'),
        database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('gatehouse'),
        username: z.string().optional(),
        password: z.string().optional(),
        /**
         * Server mode: the dedicated read-only user analyst SQL runs as (docs/DEPLOY.md has its grants).
         * Absent = analyst SQL uses `username`, still gated and `readonly = 1`, but without the server's own fence.
         */
        analyst_username: z.string().optional(),
        analyst_password: z.string().optional(),
        /** A span/audit insert that has not answered after this long counts as failed and its batch goes to the spool. @defaultValue 10000 */
        insert_timeout_ms: z.number().int().positive().default(10_000),
      })
      .strict()
      .default({ url: 'embedded', database: 'gatehouse', insert_timeout_ms: 10_000 }),
    /** Limits of analyst SQL (`/admin/sql`, `gatehouse sql`, the console, `/clickhouse` for analysts); queries cannot change them. */
    analyst_sql: z
      .object({
        /** Engine time limit of one query; past it the query is cancelled in the engine. @defaultValue 30 */
        max_execution_seconds: z.number().int().positive().default(30),
        /** A result with more rows is refused (add LIMIT or aggregate). @defaultValue 100000 */
        max_result_rows: z.number().int().positive().default(100_000),
        /** @defaultValue 268435456 (256 MiB) */
        max_result_bytes: z.number().int().positive().default(256 * 1024 * 1024),
        /** Engine memory one query may use. @defaultValue 1073741824 (1 GiB) */
        max_memory_bytes: z.number().int().positive().default(1024 * 1024 * 1024),
        /** Engine threads one query may use; the gateway keeps the rest of the cores. @defaultValue 1 */
        max_threads: z.number().int().positive().default(1),
        /** Analyst queries running at once; more wait (see max_queue_wait_ms), then get 429 `analyst_sql_busy`. @defaultValue 2 */
        max_concurrent: z.number().int().positive().max(16).default(2),
        /** How long a query waits for a free slot (a few waiters per slot; 0 = refuse at once). @defaultValue 10000 */
        max_queue_wait_ms: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ max_execution_seconds: 30, max_result_rows: 100_000, max_result_bytes: 256 * 1024 * 1024, max_memory_bytes: 1024 * 1024 * 1024, max_threads: 1, max_concurrent: 2, max_queue_wait_ms: 10_000 }),
    redis: z
      .object({
        url: z.string().optional(),
        key_prefix: z.string().default('gatehouse:'),
        /** When Redis is unreachable: `open` serves with local counters reconciled later, `closed` refuses. @defaultValue open */
        on_unavailable: z.enum(['open', 'closed']).default('open'),
      })
      .strict()
      .default({ key_prefix: 'gatehouse:', on_unavailable: 'open' }),
    admin: z
      .object({
        tokens: z.array(AdminTokenSchema).default([]),
        /**
         * `/metrics` answers only with `Authorization: Bearer <admin token>` (any role: give the scraper an analyst
         * token). Its series carry spend per cost center and model. @defaultValue false (open, as Prometheus expects)
         */
        metrics_requires_token: z.boolean().default(false),
      })
      .strict()
      .default({ tokens: [], metrics_requires_token: false }),
    providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'provider names are lower-case'), ProviderConfigSchema).default({}),
    /** Path of the bootstrap policy; becomes version 1 on a fresh data dir. */
    policy: z.string().default('policy.example.yaml'),
    evaluator: z
      .object({
        session_idle_seconds: z.number().positive().default(600),
        concurrency: z.number().int().positive().default(4),
        llm_judge: z.object({ enabled: z.boolean().default(false), model: z.string().optional() }).strict().optional(),
      })
      .strict()
      .default({ session_idle_seconds: 600, concurrency: 4 }),
    optimizer: z
      .object({
        /** Cron-like interval between scheduled optimizer runs. @defaultValue 86400 */
        interval_seconds: z.number().positive().default(86_400),
        seed: z.number().int().default(42),
        /** How often the rollback guard looks at eval scores after an optimizer rule went live. @defaultValue 60 */
        guard_interval_seconds: z.number().positive().default(60),
        /** How long a published exploration plan lives without a newer run (a dead optimizer stops exploration). @defaultValue 2 × interval_seconds */
        exploration_ttl_seconds: z.number().positive().optional(),
      })
      .strict()
      .default({ interval_seconds: 86_400, seed: 42, guard_interval_seconds: 60 }),
    timeouts: TimeoutsSchema.default({ connect_ms: 5_000, first_byte_ms: 60_000, idle_ms: 120_000, total_ms: 900_000 }),
    governance: z
      .object({
        /**
         * Four-eyes rule: an approver may not approve a proposal they made themselves (proposer = the
         * admin token's name, or the approver id after OIDC sign-in). @defaultValue true
         */
        require_distinct_approver: z.boolean().default(true),
        /**
         * How often the signed audit checkpoint (head seq and hash) is sent to the SIEM webhook and
         * recorded as `audit.checkpoint`, when the chain moved. @defaultValue 300
         */
        audit_checkpoint_interval_seconds: z.number().positive().default(300),
      })
      .strict()
      .default({ require_distinct_approver: true, audit_checkpoint_interval_seconds: 300 }),
    spool: z
      .object({
        /** Upper bound of the on-disk span/audit spool. @defaultValue 268435456 */
        max_bytes: z.number().int().positive().default(256 * 1024 * 1024),
      })
      .strict()
      .default({ max_bytes: 256 * 1024 * 1024 }),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    /** Private key (PEM, Ed25519) the system signs automatic rollbacks with; generated under data_dir when absent. */
    system_key_file: z.string().optional(),
    /** Where else turn spans go (besides ClickHouse): any OTLP/HTTP endpoint. */
    telemetry: z
      .object({
        otlp: z
          .object({
            /** OTLP/HTTP endpoint: a base (`http://otel-collector:4318`, `/v1/traces` is added) or the full traces URL. */
            endpoint: z.string().url(),
            /** Sent with every export (API keys of Honeycomb, Datadog, Langfuse…). */
            headers: z.record(z.string(), z.string()).default({}),
            protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
            /** Spans waiting for export; beyond it new spans are dropped and counted, never buffered. */
            max_queue_size: z.number().int().positive().default(4096),
            max_batch_size: z.number().int().positive().default(512),
            interval_ms: z.number().int().positive().default(2_000),
            timeout_ms: z.number().int().positive().default(10_000),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type DeploymentConfig = z.infer<typeof DeploymentConfigSchema>;
export type AdminRole = 'admin' | 'approver' | 'analyst';
