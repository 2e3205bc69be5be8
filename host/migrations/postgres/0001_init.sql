-- The canonical model on PostgreSQL: the same tables, columns, keys and indexes as
-- ../sqlite/0001_init.sql (host/tests/schema.rs compares the two). Times are TIMESTAMPTZ
-- where SQLite keeps RFC 3339 text, counters and milliseconds BIGINT, flags BOOLEAN.

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
    seq             BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL
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
    last_connected_at  TIMESTAMPTZ,
    disconnect_reason  TEXT,
    last_error         TEXT,
    -- connector-specific device credentials; NULL until paired, erased on logout
    credentials        TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
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
    last_message_at  TIMESTAMPTZ,
    unread_count     BIGINT NOT NULL DEFAULT 0,
    is_group         BOOLEAN NOT NULL DEFAULT FALSE,
    pinned           BOOLEAN NOT NULL DEFAULT FALSE,
    archived         BOOLEAN NOT NULL DEFAULT FALSE,
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
    from_me        BOOLEAN NOT NULL,
    from_jid       TEXT NOT NULL,
    from_number    TEXT,
    from_name      TEXT,
    kind           TEXT NOT NULL,
    content        TEXT NOT NULL,
    media_url      TEXT,
    status         TEXT NOT NULL,
    error          TEXT,
    timestamp      TIMESTAMPTZ NOT NULL,
    sent_at        TIMESTAMPTZ,
    delivered_at   TIMESTAMPTZ,
    read_at        TIMESTAMPTZ,
    -- SQLite's implicit row id, made explicit: the order rows were written in, which breaks
    -- ties between messages of the same second.
    rowid          BIGINT GENERATED ALWAYS AS IDENTITY,
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_by_chat ON messages (chat_id, timestamp DESC);
CREATE INDEX messages_by_wa_id ON messages (tenant_id, session_id, wa_message_id);
CREATE INDEX messages_pending ON messages (tenant_id, session_id, status) WHERE status = 'PENDING';
