-- Two reads that every batch makes for the people it names, and that grew with their history: in
-- a generated year's load they took 91 s of the 412 (15 and 10 ms a batch at the end).
--
-- 1. A person's orders (`store::events::order_marks`) went through `events_subject_time`, which
--    lists every event of the person, and fetched each from the heap to test its type: 5,029 rows
--    read for 472 kept, 16 ms. A partial index lists only the three types the rule reads: 2 ms.
CREATE INDEX events_order_marks ON events (subject_id)
    WHERE event_type IN ('OrderMade', 'SupervisionStarted', 'OrderTerminated');

-- 2. A person's naming events (`store::involvements::of_people`): the index already held the
--    subject, agency and time; with the event id too the read never visits the heap, whose rows
--    for one person lie scattered over the months they arrived in (6,232 rows on 3,793 pages,
--    115 ms cold; 1 ms from the index alone). An index-only scan needs the visibility map kept,
--    which VACUUM does: the hub's store maintenance vacuums tables that have grown by a fifth, as
--    autovacuum does.
CREATE INDEX involvements_subject_covering ON involvements (subject_id, agency, occurred_at) INCLUDE (event_id);
DROP INDEX involvements_subject;
