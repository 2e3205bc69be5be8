-- What the operator and tenant administrators did: who, when, to what. An entry outlives the
-- tenant it names (the deletion is itself an entry); entries are pruned by age and by count.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    -- NULL: the gateway as a whole (a plugin reload)
    tenant_id   TEXT,
    -- `operator`, `api_key`, `user`, `watcher`
    actor_kind  TEXT NOT NULL,
    actor_user  TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_by_age ON audit_log (at_ms);
