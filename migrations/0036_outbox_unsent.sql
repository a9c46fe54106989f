-- The outbox's unsent rows in a table of their own, so that marking a row published is a HOT
-- update.
--
-- The publisher read its next rows through a partial index, `outbox_pending (id) WHERE
-- published_at IS NULL AND withheld_at_publish IS NULL`. A column an index names, even only in its
-- predicate, makes every update that sets it a full one: a new row version on another page and an
-- entry in each of the outbox's six indexes, two of them keyed by random UUIDs. Marking ~120
-- confirmed rows cost 4.3-5.3 ms a statement, the most expensive statement of a delivery run.
--
-- `outbox_unsent` holds the id of every row neither published nor withheld at publish, with the
-- last byte of its person's id (a notice's person is that of the delivery it names), which says
-- which publisher's partition the row is in. Statement triggers keep it, whoever writes the outbox:
-- rows inserted unsent are added; rows an update settles are removed (and a row set back to
-- unsent, which nothing does today, is added again); rows deleted are removed. The publisher reads
-- its next ids from this small table alone, in id order, then fetches those rows. The outbox now
-- indexes neither column the mark sets, and its pages keep room (fillfactor 60) for the marked row
-- versions to stay on the page they were on.
CREATE TABLE outbox_unsent (
    id          bigint   PRIMARY KEY,
    person_byte smallint NOT NULL
);

-- The byte the publisher partitions by: the last of the person's id (none: 0).
CREATE FUNCTION outbox_person_byte(person uuid) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT get_byte(uuid_send(coalesce(person, '00000000-0000-0000-0000-000000000000')), 15)::smallint
$$;

INSERT INTO outbox_unsent (id, person_byte)
SELECT o.id, outbox_person_byte(coalesce(r.subject_id, o.subject_id))
FROM outbox o LEFT JOIN outbox r ON r.message_id = o.refers_to
WHERE o.published_at IS NULL AND o.withheld_at_publish IS NULL;

CREATE FUNCTION outbox_unsent_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_unsent (id, person_byte)
    SELECT i.id, outbox_person_byte(coalesce(r.subject_id, i.subject_id))
    FROM inserted i LEFT JOIN outbox r ON r.message_id = i.refers_to
    WHERE i.published_at IS NULL AND i.withheld_at_publish IS NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION outbox_unsent_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM outbox_unsent u USING updated n
    WHERE u.id = n.id AND (n.published_at IS NOT NULL OR n.withheld_at_publish IS NOT NULL);
    INSERT INTO outbox_unsent (id, person_byte)
    SELECT n.id, outbox_person_byte(coalesce(r.subject_id, n.subject_id))
    FROM updated n JOIN before_update b ON b.id = n.id LEFT JOIN outbox r ON r.message_id = n.refers_to
    WHERE n.published_at IS NULL AND n.withheld_at_publish IS NULL
      AND (b.published_at IS NOT NULL OR b.withheld_at_publish IS NOT NULL)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION outbox_unsent_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM outbox_unsent u USING deleted d WHERE u.id = d.id;
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_unsent_inserted AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION outbox_unsent_inserted();
CREATE TRIGGER outbox_unsent_updated AFTER UPDATE ON outbox
    REFERENCING OLD TABLE AS before_update NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_unsent_updated();
CREATE TRIGGER outbox_unsent_deleted AFTER DELETE ON outbox
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION outbox_unsent_deleted();

DROP INDEX outbox_pending;
ALTER TABLE outbox SET (fillfactor = 60);
