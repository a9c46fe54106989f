-- Erasure (DPA 2018 s.47): an owning agency asks for a record to be erased. The record's payload,
-- identifiers, name and date of birth go from every table that holds them (events, the identifier
-- index of records, projections, the raw archive's copy of its item, a held record's identifiers);
-- what stays is the fact that a record of that type from that agency existed and was erased, when,
-- at whose request and why — no personal data. Holders of copies are sent an erasure notice.
CREATE TABLE erasures (
    event_id      uuid        PRIMARY KEY REFERENCES events (event_id),
    agency        text        NOT NULL,
    event_type    text        NOT NULL,
    requested_by  text        NOT NULL,
    reason        text        NOT NULL,
    erased_at     timestamptz NOT NULL
);

-- Events stay append-only, except for identity review (the subject) and an erasure, which the
-- hub announces in its transaction (SET LOCAL tracker.erasing = 'on') and which may only empty
-- the record's personal data.
CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'events are append-only: delete refused';
    END IF;
    IF current_setting('tracker.erasing', true) = 'on'
       AND NEW.payload = '{}'::jsonb AND NEW.identifiers = '[]'::jsonb
       AND NEW.person_name IS NULL AND NEW.date_of_birth IS NULL
       AND (to_jsonb(NEW) - ARRAY['subject_id', 'payload', 'identifiers', 'person_name', 'date_of_birth', 'avro',
                                   'schema_fingerprint', 'record_key'])
           IS NOT DISTINCT FROM
           (to_jsonb(OLD) - ARRAY['subject_id', 'payload', 'identifiers', 'person_name', 'date_of_birth', 'avro',
                                   'schema_fingerprint', 'record_key']) THEN
        RETURN NEW;
    END IF;
    IF (to_jsonb(NEW) - 'subject_id') IS DISTINCT FROM (to_jsonb(OLD) - 'subject_id') THEN
        RAISE EXCEPTION 'events are append-only: only subject_id may be set by identity review';
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'retracted', 'recalled', 'corrected', 'erased', 'published'));
