-- Backup records (SPEC §2): created once per request, on its first successful
-- reply. The unique request id makes a second Backup for one request
-- impossible, whatever the consumers do.
CREATE TABLE backups (
    backup_id              text PRIMARY KEY,
    backup_request_id      text NOT NULL UNIQUE REFERENCES backup_requests (backup_request_id),
    backup_job_id          text NOT NULL,
    data_date              date NOT NULL,
    backup_provider_code   text NOT NULL,
    days_to_keep_count     integer NOT NULL CHECK (days_to_keep_count >= 0),
    hold_flag              boolean NOT NULL,
    storage_path_name      text NOT NULL,
    backup_byte_count      bigint NOT NULL CHECK (backup_byte_count >= 0),
    copy_start_timestamp   timestamptz NOT NULL,
    copy_end_timestamp     timestamptz NOT NULL,
    verify_start_timestamp timestamptz,
    verify_end_timestamp   timestamptz,
    verify_hash_text       text,
    due_to_delete_date     date NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now()
);
