-- The notification of new rows to publish names the connection that wrote them.
--
-- A hub process wakes its own publisher directly when it commits rows to publish, and heard the
-- same commit again a moment later as PostgreSQL's notification (migration 0038): a second read
-- of the outbox, finding nothing, after every batch stored. Each hub process's connections now
-- carry a name of their own (`application_name`, `tracker <random id>`), sent as the
-- notification's payload: a publisher passes over the notifications of its own process and
-- reads at once on another's.
CREATE OR REPLACE FUNCTION outbox_unsent_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_unsent (id, person_byte)
    SELECT i.id, outbox_person_byte(coalesce(r.subject_id, i.subject_id))
    FROM inserted i LEFT JOIN outbox r ON r.message_id = i.refers_to
    WHERE i.published_at IS NULL AND i.withheld_at_publish IS NULL;
    IF FOUND THEN
        PERFORM pg_notify('tracker_outbox', current_setting('application_name'));
    END IF;
    RETURN NULL;
END $$;
