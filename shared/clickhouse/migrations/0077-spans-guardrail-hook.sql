-- The external guardrail hook's decisions of a turn (`before_hop:allow after_hop:block`, docs/GUARDRAILS.md):
-- what the classifier said, never what it was shown.
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS guardrail_hook LowCardinality(String) DEFAULT '' AFTER guardrail_findings;
