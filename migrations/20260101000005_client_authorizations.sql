-- Client authorizations (SPEC §8): which scopes a client (the token's subject)
-- holds: post-backup-request, get-backup-request, read-health.
CREATE TABLE client_authorizations (
    client_id   text PRIMARY KEY,
    scopes      text[] NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
