-- One row per tool call a model made, keyed by (session_id, call_id). Codex resends the whole
-- history every turn, so the same call and result are seen again and again: ReplacingMergeTree keeps
-- the row with the highest stage (0 made; 1 result seen before the turn that made the call was
-- recorded, or no result by session end; 2 call and result both known). Command text
-- is empty unless the cost center's capture is `full`. Read with FINAL.
CREATE TABLE IF NOT EXISTS {db}.tool_calls
(
    ts                DateTime64(3, 'UTC'),
    session_id        String,
    call_id           String,
    request_id        String,
    turn_id           String,
    turn_seq          UInt32,
    developer         LowCardinality(String),
    cost_center       LowCardinality(String),
    served_model      LowCardinality(String),
    provider          LowCardinality(String),
    policy_version    UInt32,
    rule_id           String,
    tool_name         LowCardinality(String),
    tool_kind         LowCardinality(String),
    validity          LowCardinality(String),
    validity_reason   String,
    category          LowCardinality(String),
    runner            LowCardinality(String),
    command           String,
    outcome           LowCardinality(String),
    exit_code         Nullable(Int32),
    result_request_id String,
    stage             UInt8,
    updated_at        DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(stage)
PARTITION BY toYYYYMM(ts)
ORDER BY (session_id, call_id);
