-- Restriction (DPA 2018 s.47(2)): a record that must be kept (as evidence) but no longer used is
-- restricted at its owning agency's request. It stays in the store, but no recipient is sent it
-- (holders of earlier copies are told), no report counts it (its projections are removed while
-- the restriction lasts) and the court does not see it; auditors see the restrictions. Lifting a
-- restriction projects the record again.
CREATE TABLE restrictions (
    event_id       uuid        PRIMARY KEY REFERENCES events (event_id),
    agency         text        NOT NULL,
    reason         text        NOT NULL,
    restricted_by  text        NOT NULL,
    restricted_at  timestamptz NOT NULL,
    lifted_by      text,
    lifted_at      timestamptz
);

-- Projecting a record again: a row inserted here runs the same projection function as an event
-- stored (it reads the same columns), then is removed.
CREATE TABLE reprojections (LIKE events);
CREATE TRIGGER reprojections_project AFTER INSERT ON reprojections FOR EACH ROW EXECUTE FUNCTION project_event();

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('delivery', 'retraction', 'erasure', 'correction', 'restriction'));
ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'retracted', 'recalled', 'corrected', 'erased', 'restricted', 'published'));
