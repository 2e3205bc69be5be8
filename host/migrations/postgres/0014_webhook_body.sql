-- What an endpoint's bodies are: `canonical` (the event as the journal holds it) or `plugins`
-- (what the tenant's webhook plugins make of it, at delivery time). A delivery a plugin skips
-- ends in the state `skipped`.
ALTER TABLE webhook_endpoints ADD COLUMN body TEXT NOT NULL DEFAULT 'canonical';
