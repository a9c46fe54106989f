-- Smaller statistics samples for the hub's own bookkeeping tables.
--
-- ANALYZE reads 300 rows per unit of the largest statistics target among a table's columns:
-- 30,000 rows at the default of 100, whatever the table's size. The tables below are written
-- with every message and read almost only by key (an event, a person, a message, an outbox
-- row), where the planner needs the table's size and a rough distinct count, not fine
-- histograms; at a target of 20 (6,000 rows) refreshing their statistics costs a quarter as much
-- (disclosure_log at 90,000 rows: 160 ms → 45 ms), and a refresh running beside the message path
-- takes that much less from it. The events table and the projections keep the default: the
-- reports filter and group them in ways the planner must estimate well.
--
-- A column added to one of these tables later starts at the default target again (set it).
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT a.attrelid::regclass AS tbl, a.attname
        FROM pg_attribute a
        WHERE a.attrelid IN ('disclosure_log'::regclass, 'outbox'::regclass, 'raw_archive'::regclass,
                             'inbox'::regclass, 'involvements'::regclass, 'record_identifiers'::regclass,
                             'identity_signatures'::regclass, 'recipient_scope'::regclass,
                             'subject_identifiers'::regclass)
          AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget <> 0
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 20', col.tbl, col.attname);
    END LOOP;
END
$$;
