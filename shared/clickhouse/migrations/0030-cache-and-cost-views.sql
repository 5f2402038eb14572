-- Views for cost control (issue 5): prompt-cache hit rate per developer/repo/day and per session,
-- and spend per cost center per day. Days are UTC calendar days. Token columns follow OpenAI's
-- convention (input_tokens includes cached_input_tokens). Inner queries rename the raw columns so
-- the output columns can keep their natural names without aliases shadowing columns.

CREATE VIEW IF NOT EXISTS {db}.cache_hit_rate_daily AS
SELECT
    day,
    developer,
    repo,
    count() AS requests,
    sum(in_tokens) AS input_tokens,
    sum(cached_tokens) AS cached_input_tokens,
    if(input_tokens = 0, 0, cached_input_tokens / input_tokens) AS hit_rate,
    sum(cost) AS cost_usd
FROM
(
    SELECT toDate(ts) AS day, developer, repo, input_tokens AS in_tokens, least(cached_input_tokens, input_tokens) AS cached_tokens, cost_usd AS cost
    FROM {db}.spans
)
GROUP BY day, developer, repo;

-- One row per session: hit rate, spend, and the uncached input tokens per served model (so a
-- report can price what the misses cost above the cached price).
CREATE VIEW IF NOT EXISTS {db}.cache_hit_rate_by_session AS
SELECT
    session_id,
    any(dev) AS developer,
    any(repository) AS repo,
    any(center) AS cost_center,
    min(at) AS first_ts,
    max(at) AS last_ts,
    count() AS turns,
    sum(in_tokens) AS input_tokens,
    sum(cached_tokens) AS cached_input_tokens,
    if(input_tokens = 0, 0, cached_input_tokens / input_tokens) AS hit_rate,
    sum(cost) AS cost_usd,
    sumMap(map(model, in_tokens - cached_tokens)) AS uncached_tokens_by_model,
    groupUniqArray(model) AS served_models
FROM
(
    SELECT session_id, ts AS at, developer AS dev, repo AS repository, cost_center AS center, served_model AS model,
           input_tokens AS in_tokens, least(cached_input_tokens, input_tokens) AS cached_tokens, cost_usd AS cost
    FROM {db}.spans
    WHERE session_id != ''
)
GROUP BY session_id;

CREATE VIEW IF NOT EXISTS {db}.cost_by_cost_center_daily AS
SELECT
    day,
    cost_center,
    count() AS requests,
    uniqExact(dev) AS developers,
    countIf(status >= 400) AS failed_requests,
    sum(in_tokens) AS input_tokens,
    sum(cached_tokens) AS cached_input_tokens,
    sum(out_tokens) AS output_tokens,
    sum(reasoning) AS reasoning_tokens,
    sum(cost) AS cost_usd,
    countIf(downgraded != '') AS downgraded_requests
FROM
(
    SELECT toDate(ts) AS day, cost_center, developer AS dev, status_code AS status, input_tokens AS in_tokens,
           cached_input_tokens AS cached_tokens, output_tokens AS out_tokens, reasoning_tokens AS reasoning, cost_usd AS cost,
           downgraded_from AS downgraded
    FROM {db}.spans
)
GROUP BY day, cost_center;
