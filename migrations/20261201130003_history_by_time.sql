-- The dashboard's throughput plot counts the status changes made since its
-- last sample (every few seconds); this index keeps that a range read of
-- the newest history rows instead of a scan of the whole history.
CREATE INDEX backup_request_history_by_time ON backup_request_history (changed_at);
