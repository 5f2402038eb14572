-- Which arm of an optimizer experiment served the turn: '' (none), 'treatment' (an optimizer rule
-- routed it), 'holdout' (the rule matched but the session is in its concurrent control and kept the
-- old route), 'exploration' (the optimizer is learning a candidate history cannot score).
ALTER TABLE {db}.spans ADD COLUMN IF NOT EXISTS experiment_arm LowCardinality(String) AFTER rule_dry_run;
