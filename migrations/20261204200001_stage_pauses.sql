-- Paused stages (SPEC §10): a row while an operator holds a stage paused,
-- deleted on resume, so that every copy of the stage on every host (each
-- reads this table every second) stops and starts together, and a copy
-- that restarts stays paused. Stages not listed are running.
CREATE TABLE stage_pauses (
    stage     text PRIMARY KEY,
    paused_by text NOT NULL,
    paused_at timestamptz NOT NULL
);
