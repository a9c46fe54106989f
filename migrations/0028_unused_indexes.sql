-- Two indexes no query reads, each an insertion per row on the tables every update writes:
-- - events_type_time (event_type, occurred_at): every query on events that names a type also
--   names the person (events_subject_time) or the record key (events_record_key); the reports
--   read the projection tables.
-- - disclosure_log_recipient (recipient, logged_at): the log is read by event (its chain,
--   disclosure_log_event), by person (a subject access request) or by local calendar day (the
--   reports' detail, an expression the index cannot serve); three entries per update paid for it.
DROP INDEX events_type_time;
DROP INDEX disclosure_log_recipient;
