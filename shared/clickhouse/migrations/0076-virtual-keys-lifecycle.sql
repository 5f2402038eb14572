-- Key lifecycle: expiry, a model list narrower than the cost center's, per-key rate limits, and rotation
-- (the previous secret's hash stays valid until previous_valid_until, the grace period chosen at rotation).
ALTER TABLE {db}.virtual_keys ADD COLUMN IF NOT EXISTS expires_at Nullable(DateTime64(3, 'UTC')) AFTER revoked_at;
ALTER TABLE {db}.virtual_keys ADD COLUMN IF NOT EXISTS allowed_models Array(String) AFTER expires_at;
ALTER TABLE {db}.virtual_keys ADD COLUMN IF NOT EXISTS limits String DEFAULT '' AFTER allowed_models;
ALTER TABLE {db}.virtual_keys ADD COLUMN IF NOT EXISTS previous_sha256 String DEFAULT '' AFTER limits;
ALTER TABLE {db}.virtual_keys ADD COLUMN IF NOT EXISTS previous_valid_until Nullable(DateTime64(3, 'UTC')) AFTER previous_sha256;
