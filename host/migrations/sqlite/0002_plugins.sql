-- Plugin bindings per tenant and each plugin's per-tenant key/value state.

CREATE TABLE plugin_bindings (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin      TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    -- the tenant's own config (JSON object); plugin.toml defaults are merged in at use
    config      TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    on_error    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);

CREATE TABLE plugin_kv (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plugin     TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, plugin, key)
);
