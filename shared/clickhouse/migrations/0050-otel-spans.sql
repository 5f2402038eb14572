-- Raw OpenTelemetry spans received on the collector's OTLP/HTTP intake (POST /v1/traces), from the
-- gateway's own tracer or any other instrumented service (Codex CLI wrappers, CI jobs, evaluators).
-- One row per span. Attributes are flattened to strings (arrays and maps as JSON text).
CREATE TABLE IF NOT EXISTS {db}.otel_spans
(
    start_time          DateTime64(9, 'UTC'),
    end_time            DateTime64(9, 'UTC'),
    duration_ns         UInt64,
    duration_ms         Float64 ALIAS duration_ns / 1e6,
    trace_id            String,
    span_id             String,
    parent_span_id      String,
    trace_state         String,
    name                String,
    kind                LowCardinality(String),
    service_name        LowCardinality(String),
    scope_name          LowCardinality(String),
    scope_version       LowCardinality(String),
    status_code         LowCardinality(String),
    status_message      String,
    attributes          Map(String, String),
    resource_attributes Map(String, String),
    events              String,
    links               String,
    dropped_attributes_count UInt32,
    dropped_events_count     UInt32,
    dropped_links_count      UInt32,
    received_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (service_name, start_time, trace_id)
SETTINGS non_replicated_deduplication_window = 10000;
