-- Record identifiers are read by identifier, never by record.
--
-- record_identifiers had a primary key (event_id, scheme, value) and an index (scheme, value).
-- Linking reads it by identifier (which records hold this one?); the records' other identifiers
-- come from the records themselves (events.identifiers, the JSON the rows were made from), and an
-- erasure deletes a record's rows by its identifiers. The key's only other use was to refuse a
-- duplicate, and there is none to refuse: the rows are written once, in the statement after the
-- records they come from were stored for the first time, one per distinct identifier. Keyed by a
-- derived UUID, it cost an insertion at a random place in a B-tree per row, 2.3 rows an event.
ALTER TABLE record_identifiers DROP CONSTRAINT record_identifiers_pkey;
