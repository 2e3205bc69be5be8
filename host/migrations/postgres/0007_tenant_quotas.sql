-- The operator's per-tenant quota overrides, a JSON object of the limits it changes
-- (`{"maxSessions": 5}`); NULL = the configured defaults throughout.
ALTER TABLE tenants ADD COLUMN quotas TEXT;
