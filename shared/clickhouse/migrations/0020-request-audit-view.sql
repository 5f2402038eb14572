-- SOC 2 "who asked, what was served, under which policy, approved by whom": one row per request
-- of the last 90 days, joined to the policy version it was served under.
CREATE VIEW IF NOT EXISTS {db}.request_audit AS
SELECT
    s.ts                AS ts,
    s.request_id        AS request_id,
    s.session_id        AS session_id,
    s.requested_model   AS requested_model,
    s.served_model      AS served_model,
    s.provider          AS provider,
    s.cost_center       AS cost_center,
    s.developer         AS developer,
    s.identity          AS identity,
    s.key_id            AS key_id,
    s.status_code       AS status_code,
    s.error_code        AS error_code,
    s.policy_version    AS policy_version,
    pv.approved_by      AS approved_by,
    pv.signed_by        AS signed_by,
    pv.policy_hash      AS policy_hash,
    pv.proposal_id      AS proposal_id
FROM {db}.spans AS s
LEFT JOIN
(
    SELECT
        version,
        argMax(approved_by, updated_at) AS approved_by,
        argMax(signed_by, updated_at)   AS signed_by,
        argMax(hash, updated_at)        AS policy_hash,
        argMax(proposal_id, updated_at) AS proposal_id
    FROM {db}.policy_versions
    GROUP BY version
) AS pv ON pv.version = s.policy_version
WHERE s.ts >= now64(3, 'UTC') - INTERVAL 90 DAY;
