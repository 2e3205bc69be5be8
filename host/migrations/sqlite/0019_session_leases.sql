-- Several gateway nodes on one database (cluster mode): which node runs each session, until
-- when, and the fencing token every write of that session carries; and the nodes alive.
CREATE TABLE session_leases (
    tenant_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    node       TEXT NOT NULL,
    -- grows with every new holder: a write carrying an older one is refused
    token      INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX session_leases_by_node ON session_leases (node);

CREATE TABLE cluster_nodes (
    id           TEXT PRIMARY KEY,
    started_ms   INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
