-- One score per (session, request, scorer); request_id and turn_id are empty for session-level
-- scores. Re-scoring (a retried job, a session that resumes after its idle window, a new scorer
-- version) writes the same key again and the latest `scored_at` wins: read with FINAL.
CREATE TABLE IF NOT EXISTS {db}.eval_scores
(
    ts                 DateTime64(3, 'UTC'),
    session_id         String,
    turn_id            String,
    request_id         String,
    level              LowCardinality(String),
    scorer             LowCardinality(String),
    scorer_version     UInt32,
    value              Float64,
    reasons            Array(String),
    served_model       LowCardinality(String),
    provider           LowCardinality(String),
    cost_center        LowCardinality(String),
    developer          LowCardinality(String),
    policy_version     UInt32,
    rule_id            String,
    requested_model    LowCardinality(String),
    input_token_bucket UInt32,
    hour               UInt8,
    dry_run            Bool,
    scored_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (session_id, request_id, scorer);
