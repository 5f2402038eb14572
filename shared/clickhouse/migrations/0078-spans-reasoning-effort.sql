-- The reasoning effort a turn was served with and the one its client asked for ('' = none): an
-- optimizer exploration turn of a lowered-effort candidate differs between the two, and the optimizer
-- reads its evidence from them (optimizer/optimizer-queries.ts explorationEvidenceQuery).
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS reasoning_effort LowCardinality(String) DEFAULT '' AFTER experiment_arm;
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS requested_reasoning_effort LowCardinality(String) DEFAULT '' AFTER reasoning_effort;
