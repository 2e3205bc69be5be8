-- Everything a message carries beside its text, by kind (location, contact card, poll with
-- its votes, the quoted message, mentions) as one JSON document, and what happens to a
-- message after it was stored: reactions (JSON array), an edit, a revoke.
ALTER TABLE messages ADD COLUMN details TEXT;
ALTER TABLE messages ADD COLUMN reactions TEXT;
ALTER TABLE messages ADD COLUMN edited_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN revoked_at TIMESTAMPTZ;

-- A send retried with the same Idempotency-Key answers with the message the first one made.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, session_id, key),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
