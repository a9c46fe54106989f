-- Corrections (DPA 2018 s.38(5)(c)): an agency re-sends a record it sent before — the same record
-- by its key as the connector declares it (a court's result for the same case and hearing, an
-- amended custody row) — and the new record supersedes the old. Events stay append-only: the
-- supersession is a row here; the old record's projections are removed, so reports and the court
-- count the record as corrected; every earlier recipient of the old one is sent the correction.
-- A record its source withdraws (a probation event marked deleted) is superseded by nothing.
ALTER TABLE events ADD COLUMN record_key text;
CREATE INDEX events_record_key ON events (agency, event_type, record_key) WHERE record_key IS NOT NULL;

CREATE TABLE corrections (
    event_id      uuid        PRIMARY KEY REFERENCES events (event_id),
    corrected_by  uuid        REFERENCES events (event_id),
    corrected_at  timestamptz NOT NULL
);
CREATE INDEX corrections_by ON corrections (corrected_by);

-- A delivery of a corrected record to a recipient of the record it corrects names that
-- delivery (its message id) and the fields that changed which the recipient may see; a
-- recipient no longer allowed the record gets a notice of kind 'correction' instead.
ALTER TABLE outbox ADD COLUMN corrects uuid;
ALTER TABLE outbox ADD COLUMN corrected_fields text[];
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('delivery', 'retraction', 'erasure', 'correction'));
ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'retracted', 'recalled', 'corrected', 'published'));

-- The projections of records since corrected: removed (the correction's own are in place).
CREATE FUNCTION forget_projections(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM custody_events WHERE event_id = ANY(ids);
    DELETE FROM charges WHERE event_id = ANY(ids);
    DELETE FROM bail_decisions WHERE event_id = ANY(ids);
    DELETE FROM offences_pleas WHERE event_id = ANY(ids);
    DELETE FROM hearings WHERE event_id = ANY(ids);
    DELETE FROM order_requirements WHERE event_id = ANY(ids);
    DELETE FROM orders WHERE event_id = ANY(ids);
    DELETE FROM warrants WHERE event_id = ANY(ids);
    DELETE FROM supervision_requirements WHERE event_id = ANY(ids);
    DELETE FROM supervisions WHERE event_id = ANY(ids);
    DELETE FROM appointments WHERE event_id = ANY(ids);
    DELETE FROM breaches WHERE event_id = ANY(ids);
    DELETE FROM order_terminations WHERE event_id = ANY(ids);
    DELETE FROM pre_sentence_reports WHERE event_id = ANY(ids);
    DELETE FROM risk_registrations WHERE event_id = ANY(ids);
    DELETE FROM drug_tests WHERE event_id = ANY(ids);
    DELETE FROM treatment_episodes WHERE event_id = ANY(ids);
    DELETE FROM consents WHERE event_id = ANY(ids);
END $$;
