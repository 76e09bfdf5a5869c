-- The last reconciliation sweep (SPEC §9), whichever receiver ran it: one
-- row, replaced by each sweep, so that healthz/all on any receiver shows it.
CREATE TABLE reconciliation_sweep (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    swept_at  timestamptz NOT NULL,
    reemitted bigint NOT NULL,
    resent    bigint NOT NULL,
    swept_by  text NOT NULL
);
