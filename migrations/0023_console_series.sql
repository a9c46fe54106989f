-- The console charts messages, events and refusals per hour over the last day. BRIN indexes on
-- the times rows were written: rows arrive in time order, so a block range index finds a day
-- in a large table at almost no cost to inserts.
CREATE INDEX inbox_processed_brin ON inbox USING brin (processed_at);
CREATE INDEX refusals_refused_brin ON refusals USING brin (refused_at);
