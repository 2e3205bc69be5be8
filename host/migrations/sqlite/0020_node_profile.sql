-- Where a cluster node takes requests forwarded by the others (for the sessions it runs), and
-- the plugins it serves (a JSON array of {name, version, sha256}), for the operator's view.
ALTER TABLE cluster_nodes ADD COLUMN url TEXT;
ALTER TABLE cluster_nodes ADD COLUMN plugins TEXT NOT NULL DEFAULT '[]';
