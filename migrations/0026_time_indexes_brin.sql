-- The disclosure log's and the outbox's indexes on the time a row was written become block range
-- (BRIN) indexes. Both tables are written in time order, three rows per update delivered to
-- three recipients, and each B-tree on them costs an index insertion per row (the outbox's again
-- when a row is marked published: that update cannot be HOT). No query of the hub or of the
-- reports searches these columns by range through a B-tree (the reports cut by local calendar
-- day, an expression over the column); a BRIN index still narrows an audit of a time range to
-- the blocks written then, at almost no cost to inserts.
DROP INDEX disclosure_log_logged;
CREATE INDEX disclosure_log_logged_brin ON disclosure_log USING brin (logged_at);
DROP INDEX outbox_decided;
CREATE INDEX outbox_decided_brin ON outbox USING brin (decided_at);
