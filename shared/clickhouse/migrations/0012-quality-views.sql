-- Quality beside cost: each view aggregates eval_scores (deduplicated) and spans on the same keys
-- and joins them, so a reviewer sees "avg task_completion 0.82 at $0.04/turn" in one row.
CREATE OR REPLACE VIEW {db}.quality_by_model_daily AS
WITH
    quality AS (
        SELECT toDate(ts) AS day, served_model, provider, scorer, level, count() AS scores, avg(value) AS avg_score, min(value) AS min_score
        FROM {db}.eval_scores FINAL
        GROUP BY day, served_model, provider, scorer, level
    ),
    cost AS (
        SELECT toDate(ts) AS day, served_model, provider, count() AS turns, sum(cost_usd) AS cost_usd, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
        FROM {db}.spans
        GROUP BY day, served_model, provider
    )
SELECT quality.day AS day, quality.served_model AS served_model, quality.provider AS provider, quality.scorer AS scorer, quality.level AS level,
       quality.scores AS scores, quality.avg_score AS avg_score, quality.min_score AS min_score,
       cost.turns AS turns, cost.cost_usd AS cost_usd, cost.input_tokens AS input_tokens, cost.output_tokens AS output_tokens,
       if(cost.turns = 0, 0, cost.cost_usd / cost.turns) AS cost_per_turn_usd
FROM quality
LEFT JOIN cost ON quality.day = cost.day AND quality.served_model = cost.served_model AND quality.provider = cost.provider;

CREATE OR REPLACE VIEW {db}.quality_by_cost_center_daily AS
WITH
    quality AS (
        SELECT toDate(ts) AS day, cost_center, served_model, scorer, level, count() AS scores, avg(value) AS avg_score
        FROM {db}.eval_scores FINAL
        GROUP BY day, cost_center, served_model, scorer, level
    ),
    cost AS (
        SELECT toDate(ts) AS day, cost_center, served_model, count() AS turns, sum(cost_usd) AS cost_usd
        FROM {db}.spans
        GROUP BY day, cost_center, served_model
    )
SELECT quality.day AS day, quality.cost_center AS cost_center, quality.served_model AS served_model, quality.scorer AS scorer, quality.level AS level,
       quality.scores AS scores, quality.avg_score AS avg_score, cost.turns AS turns, cost.cost_usd AS cost_usd,
       if(cost.turns = 0, 0, cost.cost_usd / cost.turns) AS cost_per_turn_usd
FROM quality
LEFT JOIN cost ON quality.day = cost.day AND quality.cost_center = cost.cost_center AND quality.served_model = cost.served_model;

CREATE OR REPLACE VIEW {db}.quality_by_rule AS
WITH
    quality AS (
        SELECT rule_id, dry_run, served_model, scorer, level, count() AS scores, avg(value) AS avg_score, min(ts) AS first_ts, max(ts) AS last_ts
        FROM {db}.eval_scores FINAL
        GROUP BY rule_id, dry_run, served_model, scorer, level
    ),
    cost AS (
        SELECT rule_id, served_model, count() AS turns, sum(cost_usd) AS cost_usd
        FROM {db}.spans
        GROUP BY rule_id, served_model
    )
SELECT quality.rule_id AS rule_id, quality.dry_run AS dry_run, quality.served_model AS served_model, quality.scorer AS scorer, quality.level AS level,
       quality.scores AS scores, quality.avg_score AS avg_score, quality.first_ts AS first_ts, quality.last_ts AS last_ts,
       cost.turns AS turns, cost.cost_usd AS cost_usd, if(cost.turns = 0, 0, cost.cost_usd / cost.turns) AS cost_per_turn_usd
FROM quality
LEFT JOIN cost ON quality.rule_id = cost.rule_id AND quality.served_model = cost.served_model;

CREATE OR REPLACE VIEW {db}.quality_by_policy_version AS
WITH
    quality AS (
        SELECT policy_version, cost_center, scorer, level, count() AS scores, avg(value) AS avg_score, min(ts) AS first_ts, max(ts) AS last_ts
        FROM {db}.eval_scores FINAL
        GROUP BY policy_version, cost_center, scorer, level
    ),
    cost AS (
        SELECT policy_version, cost_center, count() AS turns, sum(cost_usd) AS cost_usd
        FROM {db}.spans
        GROUP BY policy_version, cost_center
    )
SELECT quality.policy_version AS policy_version, quality.cost_center AS cost_center, quality.scorer AS scorer, quality.level AS level,
       quality.scores AS scores, quality.avg_score AS avg_score, quality.first_ts AS first_ts, quality.last_ts AS last_ts,
       cost.turns AS turns, cost.cost_usd AS cost_usd, if(cost.turns = 0, 0, cost.cost_usd / cost.turns) AS cost_per_turn_usd
FROM quality
LEFT JOIN cost ON quality.policy_version = cost.policy_version AND quality.cost_center = cost.cost_center;

-- The optimizer's grain: (cost center, model, input-token bucket, hour). Bucket bounds match
-- shared/tool-signals/extract-turn-signals.ts inputTokenBucket().
CREATE OR REPLACE VIEW {db}.quality_by_bucket_hour AS
WITH
    quality AS (
        SELECT cost_center, served_model, input_token_bucket, hour, scorer, level, count() AS scores, avg(value) AS avg_score, varSamp(value) AS var_score
        FROM {db}.eval_scores FINAL
        WHERE NOT dry_run
        GROUP BY cost_center, served_model, input_token_bucket, hour, scorer, level
    ),
    cost AS (
        SELECT cost_center, served_model,
               toUInt32(multiIf(input_tokens >= 256000, 256000, input_tokens >= 128000, 128000, input_tokens >= 64000, 64000, input_tokens >= 32000, 32000,
                        input_tokens >= 16000, 16000, input_tokens >= 8000, 8000, input_tokens >= 4000, 4000, input_tokens >= 2000, 2000, input_tokens >= 1000, 1000, 0)) AS input_token_bucket,
               toUInt8(toHour(ts)) AS hour, count() AS turns, sum(cost_usd) AS cost_usd
        FROM {db}.spans
        GROUP BY cost_center, served_model, input_token_bucket, hour
    )
SELECT quality.cost_center AS cost_center, quality.served_model AS served_model, quality.input_token_bucket AS input_token_bucket, quality.hour AS hour,
       quality.scorer AS scorer, quality.level AS level, quality.scores AS scores, quality.avg_score AS avg_score, quality.var_score AS var_score,
       cost.turns AS turns, cost.cost_usd AS cost_usd, if(cost.turns = 0, 0, cost.cost_usd / cost.turns) AS cost_per_turn_usd
FROM quality
LEFT JOIN cost ON quality.cost_center = cost.cost_center AND quality.served_model = cost.served_model
              AND quality.input_token_bucket = cost.input_token_bucket AND quality.hour = cost.hour;
