-- The durable journal: every committed event, written in the transaction that caused it, under
-- the tenant's seq. Times in these tables are Unix milliseconds, compared on every delivery pass.
CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    session_id  TEXT,
    name        TEXT NOT NULL,
    -- the canonical payload, as a socket receives it
    payload     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX events_by_age ON events (created_ms);

-- A tenant's webhook endpoints.
CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    description       TEXT,
    -- JSON array of event names and globs (`message.*`)
    events            TEXT NOT NULL,
    -- JSON array of session ids; NULL: every session
    sessions          TEXT,
    enabled           BOOLEAN NOT NULL,
    ordered           BOOLEAN NOT NULL,
    max_concurrency   BIGINT NOT NULL,
    -- `whsec_<base64>`: the receiver needs it to verify, so it is kept, never shown again
    secret            TEXT NOT NULL,
    -- the secret before the last rotation, still signing beside the new one until it expires
    previous_secret   TEXT,
    previous_until_ms BIGINT,
    -- when deliveries started failing without a success since
    failing_since_ms  BIGINT,
    disabled_reason   TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id);

-- The outbox: one row per event and endpoint, written with the event.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL,
    -- the journal's event; NULL for a test event, whose body is kept here
    seq              BIGINT,
    session_id       TEXT,
    event            TEXT NOT NULL,
    body             TEXT,
    -- pending, delivered, dead
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    -- attempts made before the last resend: the retry schedule starts over from there
    retry_base       BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    last_status      BIGINT,
    last_error       TEXT,
    created_ms       BIGINT NOT NULL,
    finished_ms      BIGINT
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_ms);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (tenant_id, seq);

-- Every attempt of a delivery.
CREATE TABLE webhook_attempts (
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    n                 BIGINT NOT NULL,
    at_ms             BIGINT NOT NULL,
    status            BIGINT,
    latency_ms        BIGINT NOT NULL,
    error             TEXT,
    response_excerpt  TEXT,
    PRIMARY KEY (delivery_id, n)
);
