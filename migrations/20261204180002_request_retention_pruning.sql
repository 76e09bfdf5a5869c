-- Retention (SPEC §10): terminal requests are deleted once past their
-- status's retention, with their history and idempotency keys, while their
-- Backups are never deleted. A Backup keeps its request's id as a value, so
-- its foreign key goes; an idempotency key goes with its request.
ALTER TABLE backups DROP CONSTRAINT backups_backup_request_id_fkey;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_backup_request_id_fkey,
    ADD CONSTRAINT idempotency_keys_backup_request_id_fkey
        FOREIGN KEY (backup_request_id) REFERENCES backup_requests (backup_request_id) ON DELETE CASCADE;
-- The cascade finds a deleted request's keys through this index, not a scan.
CREATE INDEX idempotency_keys_by_request ON idempotency_keys (backup_request_id);

-- A pruning batch takes the oldest requests of one terminal status by that
-- status's clock (the reply, the check, or the cancel, which is the last
-- change of a cancelled request): one index over the terminal rows alone, so
-- a batch reads its rows in order on millions of requests.
CREATE INDEX backup_requests_retention ON backup_requests (
    status_type_code,
    (CASE status_type_code
        WHEN 'NotAllowed' THEN checked_timestamp
        WHEN 'Cancelled' THEN updated_at
        ELSE reply_timestamp
    END),
    backup_request_id
) WHERE status_type_code IN ('Succeeded', 'Failed', 'NotAllowed', 'Cancelled');
