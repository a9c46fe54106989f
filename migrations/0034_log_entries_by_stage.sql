-- Fewer random-key indexes on the two tables every update writes most.
--
-- 1. The disclosure log was indexed twice by (update, recipient): disclosure_log_decided (unique,
--    first decisions only: one per pair, the guard that no pair is decided twice) and
--    disclosure_log_event (every entry, for "the latest entry about this pair"). Nearly every
--    entry is a first decision (2,747,241 of 2,747,838 over a generated year), so the second
--    index repeated the first: each entry paid for two insertions at random places in two
--    B-trees of ~200 MB (~10 us each, measured on 5,000 entries over that year's store). The later
--    stages (redecided, retracted, corrected, ...) now have a small index of their own, and the
--    view below splits the log by stage so that a read by (update, recipient) uses both indexes:
--    PostgreSQL pushes the read's conditions into each branch of the UNION ALL.
-- 2. events_message (agency, message_id): no query reads events by message (the inbox and the
--    raw archive answer "which message"); one insertion per event for nothing.
DROP INDEX disclosure_log_event;
CREATE INDEX disclosure_log_later ON disclosure_log (event_id, recipient, id) WHERE stage <> 'decided';
DROP INDEX events_message;

CREATE VIEW disclosure_log_by_stage AS
    SELECT * FROM disclosure_log WHERE stage = 'decided'
    UNION ALL
    SELECT * FROM disclosure_log WHERE stage <> 'decided';
