-- Where each kind of record stands in the person index. A record's place (its person, or the
-- people it is held between) is a function of its agency, its set of identifiers and the other
-- records of its connected group, so every record with the same agency and identifiers (its
-- signature) stands in the same place. Linking keeps this table equal to the last resolution of
-- each group it read; a new record whose signature is here, and whose group no new record in its
-- batch touches, takes its place from here without reading the group's records again (they grow
-- with a person's history; signatures do not). Erasure removes its group's rows (the group is
-- read again next time).
CREATE TABLE identity_signatures (
    signature   text   PRIMARY KEY,    -- agency, then each "scheme value" in order, unit-separated
    identifiers text[] NOT NULL,       -- "scheme value" of each identifier, for finding a group's rows
    subject_id  uuid,                  -- the person, or NULL when held
    held_between uuid[]                -- the people a held record's identifiers lead to
);
CREATE INDEX identity_signatures_identifiers ON identity_signatures USING gin (identifiers);
