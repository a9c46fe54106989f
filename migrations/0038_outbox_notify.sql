-- Publishers are told of new rows to publish, whichever hub process decided them.
--
-- A publisher holds some of the outbox's partitions (by person); another hub process's consumer
-- may decide rows for them. Until now that publisher found them when it next read the outbox:
-- at once while it was busy (it read again after every confirm and every mark, most reads
-- finding nothing) and at its next tick, up to a second later, while it was idle. The trigger
-- that lists new unsent rows now also sends a notification on `tracker_outbox`; PostgreSQL
-- delivers it at commit, once per transaction, to every listening publisher on this database,
-- which then reads. A publisher whose last read saw everything no longer reads again until told.
CREATE OR REPLACE FUNCTION outbox_unsent_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_unsent (id, person_byte)
    SELECT i.id, outbox_person_byte(coalesce(r.subject_id, i.subject_id))
    FROM inserted i LEFT JOIN outbox r ON r.message_id = i.refers_to
    WHERE i.published_at IS NULL AND i.withheld_at_publish IS NULL;
    IF FOUND THEN
        PERFORM pg_notify('tracker_outbox', '');
    END IF;
    RETURN NULL;
END $$;
