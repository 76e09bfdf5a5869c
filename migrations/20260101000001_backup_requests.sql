-- Backup requests (SPEC §2): one row per accepted request. The status moves
-- only forward; workers update it with an optimistic check on the status they
-- read, so of two racing workers only one step lands.
CREATE TABLE backup_requests (
    backup_request_id           text PRIMARY KEY,
    backup_job_id               text NOT NULL CHECK (char_length(backup_job_id) BETWEEN 1 AND 50),
    data_date                   date NOT NULL,
    prepared_data_path_name     text NOT NULL CHECK (char_length(prepared_data_path_name) BETWEEN 1 AND 250),
    status_type_code            text NOT NULL CHECK (status_type_code IN
                                    ('Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed')),
    transport_type_code         text NOT NULL CHECK (transport_type_code IN ('HTTP', 'Queue')),
    requester_id                text NOT NULL DEFAULT '',
    backup_provider_code        text NOT NULL DEFAULT ''
                                    CHECK (backup_provider_code IN ('', 'Local', 'CloudA', 'CloudB')),
    storage_path_name           text,
    received_timestamp          timestamptz NOT NULL,
    checked_timestamp           timestamptz,
    sent_to_interface_timestamp timestamptz,
    reply_timestamp             timestamptz,
    reply_message_text          text,
    not_allowed_reason          text,
    -- When the row last changed: startup recovery re-emits requests still
    -- waiting in linebacker that nobody touched since the process started.
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- Recovery and the health page look for requests still waiting in linebacker.
CREATE INDEX backup_requests_waiting ON backup_requests (updated_at)
    WHERE status_type_code IN ('Received', 'Allowed');
CREATE INDEX backup_requests_by_status ON backup_requests (status_type_code);
