-- The W3C `traceparent` a request was received under. The BZI's status reply
-- carries no trace context, so interface-listener looks the trace up here
-- and the reply's log lines continue the request's trace (SPEC §4, §7).
-- Empty for requests stored before this column existed.
ALTER TABLE backup_requests ADD COLUMN trace_parent text;
