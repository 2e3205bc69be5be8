-- The WhatsApp library's state of a session whose device lives in the database (every
-- PostgreSQL deployment, so any node can take a session over): the linked device's keys,
-- Signal sessions and keys, app-state sync, and the library's protocol caches. One row per
-- item; `space` says what kind of item it is and how `at` and `other_at` are read
-- (connector/whatsapp/devices.rs). On SQLite the library keeps its own file per session.
CREATE TABLE wa_device_items (
    tenant_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    space      TEXT NOT NULL,
    item       TEXT NOT NULL,
    value      BYTEA NOT NULL,
    -- the time the space sorts, expires or merges by (unix seconds; 0 when it has none)
    at         BIGINT NOT NULL DEFAULT 0,
    -- a second time, for the spaces that keep two
    other_at   BIGINT,
    PRIMARY KEY (tenant_id, session_id, space, item),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX wa_device_items_by_time ON wa_device_items (tenant_id, session_id, space, at);
