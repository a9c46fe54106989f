-- Identity from the whole set of records. Which records are one person is now a function of every
-- record held (identity::resolve), so linking a message reads the records that share identifiers
-- with it, transitively: this table finds them by identifier. A record whose person changes when
-- a later record arrives moves; a conflict that a later record resolves is marked 'resolved'.
CREATE TABLE record_identifiers (
    event_id uuid NOT NULL REFERENCES events (event_id),
    scheme   text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (event_id, scheme, value)
);
CREATE INDEX record_identifiers_lookup ON record_identifiers (scheme, value);
INSERT INTO record_identifiers (event_id, scheme, value)
SELECT DISTINCT e.event_id, i->>'scheme', i->>'value'
FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.identifiers) AS i
WHERE i ? 'scheme' AND i ? 'value';

ALTER TABLE identity_conflicts DROP CONSTRAINT identity_conflicts_status_check;
ALTER TABLE identity_conflicts ADD CONSTRAINT identity_conflicts_status_check
    CHECK (status IN ('open', 'linked', 'kept_apart', 'resolved'));
