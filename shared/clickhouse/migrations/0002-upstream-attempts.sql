-- One row per upstream try of a turn (fallback hops included); joins spans on request_id.
CREATE TABLE IF NOT EXISTS {db}.upstream_attempts
(
    ts          DateTime64(3, 'UTC'),
    trace_id    String,
    span_id     String,
    request_id  String,
    model       LowCardinality(String),
    provider    LowCardinality(String),
    status_code UInt16,
    error_code  LowCardinality(String),
    hop_reason  String,
    duration_ms Float64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, request_id)
SETTINGS non_replicated_deduplication_window = 10000;
