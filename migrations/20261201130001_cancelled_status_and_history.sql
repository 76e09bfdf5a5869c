-- Cancel (SPEC §2): `Cancelled` becomes a stored status. The check constraint
-- of the first migration lists the statuses, so it is replaced.
ALTER TABLE backup_requests DROP CONSTRAINT backup_requests_status_type_code_check;
ALTER TABLE backup_requests ADD CONSTRAINT backup_requests_status_type_code_check
    CHECK (status_type_code IN
        ('Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed', 'Cancelled'));

-- History (SPEC §3): one row per status change, written in the transaction
-- that makes the change, so the history never shows a change that did not
-- commit nor misses one that did. `history_id` orders the changes of a
-- request even when two land within the same microsecond.
CREATE TABLE backup_request_history (
    history_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    backup_request_id text NOT NULL REFERENCES backup_requests (backup_request_id) ON DELETE CASCADE,
    status_type_code  text NOT NULL,
    changed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The process instance that made the change (`check-allowed-0`).
    changed_by        text NOT NULL,
    -- The reason it was not allowed or cancelled, or the interface's reply text.
    detail            text
);
CREATE INDEX backup_request_history_by_request ON backup_request_history (backup_request_id, history_id);

-- Requests stored before this migration get their first change and, when
-- they moved on since, their current status as last changed, so that no
-- history is empty or ends in another status than the request.
INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_at, changed_by)
    SELECT backup_request_id, 'Received', received_timestamp, 'migration' FROM backup_requests;
INSERT INTO backup_request_history (backup_request_id, status_type_code, changed_at, changed_by, detail)
    SELECT backup_request_id, status_type_code, updated_at, 'migration', coalesce(not_allowed_reason, reply_message_text)
    FROM backup_requests WHERE status_type_code <> 'Received';
