-- Which sessions a user token (without the `admin` role) may read, send from and subscribe
-- to: 'all' (every session of the tenant), 'owned' (owner = the user), 'listed' (named by
-- the identity). 'all' keeps what existing frontends were written for.
ALTER TABLE tenants ADD COLUMN session_access TEXT NOT NULL DEFAULT 'all';
