-- One row per client request (a turn). Tokens and cost are counted once, here.
CREATE TABLE IF NOT EXISTS {db}.spans
(
    ts                   DateTime64(3, 'UTC'),
    request_id           String,
    trace_id             String,
    span_id              String,
    session_id           String,
    turn_id              String,
    turn_seq             UInt32,
    developer            LowCardinality(String),
    identity             String,
    cost_center          LowCardinality(String),
    repo                 String,
    key_id               String,
    tags                 Array(String),
    requested_model      LowCardinality(String),
    served_model         LowCardinality(String),
    provider             LowCardinality(String),
    provider_type        LowCardinality(String),
    inbound_protocol     LowCardinality(String),
    stream               Bool,
    status_code          UInt16,
    error_code           LowCardinality(String),
    error_message        String,
    input_tokens         UInt64,
    cached_input_tokens  UInt64,
    cache_write_tokens   UInt64,
    output_tokens        UInt64,
    reasoning_tokens     UInt64,
    cost_usd             Float64,
    budget_stage         LowCardinality(String),
    downgraded_from      String,
    fallback_from        String,
    hop_reason           String,
    attempts             String,
    rule_id              String,
    rule_dry_run         Bool,
    policy_version       UInt32,
    dry_run_decision     String,
    translation_warnings Array(String),
    tool_call_count      UInt32,
    input_token_estimate UInt64,
    duration_ms          Float64,
    ttfb_ms              Float64,
    client               String,
    capture              String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (cost_center, ts, request_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Virtual keys: hashes only. Latest row per id wins (revocation is a new row).
CREATE TABLE IF NOT EXISTS {db}.virtual_keys
(
    id          String,
    key_sha256  String,
    key_prefix  String,
    developer   String,
    cost_center String,
    repo        String,
    identity    String,
    tags        Array(String),
    budgets     String,
    source      LowCardinality(String),
    created_by  String,
    created_at  DateTime64(3, 'UTC'),
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;

-- Tamper-evident audit chain: each row carries the previous row's hash.
CREATE TABLE IF NOT EXISTS {db}.audit_log
(
    ts             DateTime64(3, 'UTC'),
    seq            UInt64,
    actor          String,
    action         LowCardinality(String),
    subject        String,
    cost_center    String,
    details        String,
    policy_version UInt32,
    prev_hash      String,
    hash           String
)
ENGINE = MergeTree
ORDER BY seq
SETTINGS non_replicated_deduplication_window = 10000;

-- Every policy version ever created; state changes are new rows for the same version.
CREATE TABLE IF NOT EXISTS {db}.policy_versions
(
    version      UInt32,
    hash         String,
    parent_hash  String,
    document     String,
    signature    String,
    signed_by    String,
    approved_by  String,
    proposal_id  String,
    justification String,
    status       LowCardinality(String),
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY version;

CREATE TABLE IF NOT EXISTS {db}.proposals
(
    id            String,
    status        LowCardinality(String),
    source        LowCardinality(String),
    author        String,
    justification String,
    summary       String,
    base_version  UInt32,
    base_hash     String,
    document      String,
    diff          String,
    math          String,
    digest        String,
    cost_centers  Array(String),
    decided_by    String,
    decision_reason String,
    signature     String,
    activated_version UInt32,
    created_at    DateTime64(3, 'UTC'),
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;
