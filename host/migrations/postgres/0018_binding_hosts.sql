-- The hosts a tenant lets a plugin binding send HTTP requests to (a JSON array of host
-- patterns; empty: none), narrowing what plugin.toml and the operator allow.
ALTER TABLE plugin_bindings ADD COLUMN allowed_hosts TEXT NOT NULL DEFAULT '[]';
