-- Idempotency keys (SPEC §3): a repeated POST with the same key returns the
-- original request. Keys are scoped to the requester, so two clients cannot
-- collide; the primary key settles two racing repeats.
CREATE TABLE idempotency_keys (
    requester_id      text NOT NULL,
    idempotency_key   text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 100),
    backup_request_id text NOT NULL REFERENCES backup_requests (backup_request_id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (requester_id, idempotency_key)
);
