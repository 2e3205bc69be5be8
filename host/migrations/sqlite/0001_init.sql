-- The canonical model (DESIGN.md). Timestamps are RFC 3339 UTC text; ids are text.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    api_key_hash    TEXT NOT NULL UNIQUE,
    jwt_secret      TEXT NOT NULL,
    jwt_public_key  TEXT,
    jwt_issuer      TEXT,
    jwt_audience    TEXT,
    tenant_claim    TEXT NOT NULL DEFAULT 'tenant',
    -- last canonical event sequence number handed out for this tenant
    seq             INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

CREATE TABLE sessions (
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    name               TEXT,
    owner              TEXT,
    connector          TEXT NOT NULL,
    status             TEXT NOT NULL,
    phone              TEXT,
    display_name       TEXT,
    last_connected_at  TEXT,
    disconnect_reason  TEXT,
    last_error         TEXT,
    -- connector-specific device credentials; NULL until paired, erased on logout
    credentials        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE chats (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    jid              TEXT NOT NULL,
    number           TEXT,
    name             TEXT,
    last_message     TEXT,
    last_message_at  TEXT,
    unread_count     INTEGER NOT NULL DEFAULT 0,
    is_group         INTEGER NOT NULL DEFAULT 0,
    pinned           INTEGER NOT NULL DEFAULT 0,
    archived         INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, session_id, jid)
);
CREATE INDEX chats_by_recency ON chats (tenant_id, session_id, last_message_at DESC);

CREATE TABLE messages (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    chat_id        TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    wa_message_id  TEXT,
    direction      TEXT NOT NULL,
    from_me        INTEGER NOT NULL,
    from_jid       TEXT NOT NULL,
    from_number    TEXT,
    from_name      TEXT,
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    media_url      TEXT,
    status         TEXT NOT NULL,
    error          TEXT,
    timestamp      TEXT NOT NULL,
    sent_at        TEXT,
    delivered_at   TEXT,
    read_at        TEXT,
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_by_chat ON messages (chat_id, timestamp DESC);
CREATE INDEX messages_by_wa_id ON messages (tenant_id, session_id, wa_message_id);
CREATE INDEX messages_pending ON messages (tenant_id, session_id, status) WHERE status = 'PENDING';
