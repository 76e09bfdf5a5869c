-- The job's retention terms, kept when the job allows a request, so that the
-- Backup can be recorded from the reply without asking the job service again.
ALTER TABLE backup_requests
    ADD COLUMN days_to_keep_count integer CHECK (days_to_keep_count >= 0),
    ADD COLUMN hold_flag boolean;
