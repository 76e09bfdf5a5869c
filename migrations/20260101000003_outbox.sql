-- The transactional outbox (SPEC §4): a use case writes its state change and
-- the events it emits in one transaction; the relay publishes rows with
-- publisher confirms and deletes a row only after the broker confirmed it.
CREATE TABLE outbox (
    id                bigserial PRIMARY KEY,
    message_id        uuid NOT NULL UNIQUE,
    event_type        text NOT NULL,
    backup_request_id text NOT NULL,
    -- The JSON envelope, as published.
    payload           jsonb NOT NULL,
    traceparent       text,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Wakes the relays when events are committed (NOTIFY is delivered at commit).
-- Once per statement: a batch of events is one wake-up.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('linebacker_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
