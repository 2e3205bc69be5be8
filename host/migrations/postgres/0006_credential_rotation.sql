-- Credential rotation with a grace period: the previous API key (hash) and JWT secret keep
-- verifying until their `*_until` time, beside the new ones.
ALTER TABLE tenants ADD COLUMN previous_api_key_hash TEXT;
ALTER TABLE tenants ADD COLUMN previous_api_key_until TIMESTAMPTZ;
ALTER TABLE tenants ADD COLUMN previous_jwt_secret TEXT;
ALTER TABLE tenants ADD COLUMN previous_jwt_secret_until TIMESTAMPTZ;
