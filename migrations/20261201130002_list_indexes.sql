-- The list of SPEC §3 reads newest first with a keyset on
-- (received_timestamp, backup_request_id). One index per filter that narrows
-- by equality, each ending in the keyset, so that every filter combination
-- walks an index in order and stops after one page, instead of scanning and
-- sorting `backup_requests`. Filters on the received time use the first.
CREATE INDEX backup_requests_newest_first
    ON backup_requests (received_timestamp DESC, backup_request_id DESC);
CREATE INDEX backup_requests_by_status_newest_first
    ON backup_requests (status_type_code, received_timestamp DESC, backup_request_id DESC);
CREATE INDEX backup_requests_by_job_newest_first
    ON backup_requests (backup_job_id, received_timestamp DESC, backup_request_id DESC);
CREATE INDEX backup_requests_by_requester_newest_first
    ON backup_requests (requester_id, received_timestamp DESC, backup_request_id DESC);
