-- Where a turn's price came from (`policy`, or `catalog:@pydantic/genai-prices@<version>:<provider>/<model>`),
-- so a cost can be explained after the catalog or the policy changed; and how many secrets the guardrail
-- found in what the turn sent upstream (rule ids in translation_warnings-style detail live in the audit log).
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS price_source LowCardinality(String) DEFAULT '' AFTER cost_usd;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS guardrail_findings UInt32 DEFAULT 0 AFTER price_source;
