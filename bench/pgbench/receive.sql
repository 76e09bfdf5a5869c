-- The receiver's transaction for one POST without an Idempotency-Key
-- (adapters/postgres/src/store.rs `create`): the request row, its
-- BackupRequestReceived outbox row (whose statement trigger NOTIFYs the
-- relays), one commit. Run with `pgbench -M prepared`, as sqlx prepares.
\set n random(1, 9000000000000000)
BEGIN;
INSERT INTO backup_requests (backup_request_id, backup_job_id, data_date, prepared_data_path_name, status_type_code, transport_type_code, requester_id, backup_provider_code, storage_path_name, received_timestamp, checked_timestamp, sent_to_interface_timestamp, reply_timestamp, reply_message_text, not_allowed_reason, days_to_keep_count, hold_flag, trace_parent) VALUES ('pgbench-' || :client_id || '-' || :n, 'job-17', '2022-05-30', '/prepared/job-17/2022-05-30', 'Received', 'HTTP', '', '', NULL, now(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
INSERT INTO outbox (message_id, event_type, backup_request_id, payload, traceparent) VALUES (gen_random_uuid(), 'BackupRequestReceived', 'pgbench-' || :client_id || '-' || :n, '{"messageId":"0191e1a4-0000-7000-8000-000000000000","type":"BackupRequestReceived","occurredAt":"2026-12-01T10:00:00.000000Z","backupRequestId":"0191e1a4-0000-7000-8000-000000000001","data":{"backupJobId":"job-17","dataDate":"2022-05-30","preparedDataPathName":"/prepared/job-17/2022-05-30","requesterId":""}}', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
COMMIT;
