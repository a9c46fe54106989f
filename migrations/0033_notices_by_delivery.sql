-- The notices (retractions, erasures) that name a delivery, found by the delivery they name.
-- Three reads ask whether a delivery was retracted or erased, as "NOT EXISTS (an outbox row whose
-- refers_to is this delivery)": the standing deliveries of corrected records, the deliveries of
-- records that moved to another person, and the court's view. With nothing to find notices by,
-- the first was planned as a parallel scan of the whole outbox: 75 ms a call over a year's store
-- (a million rows), 13.6 s of a year's load; 0.2 ms with this index. Only notices have
-- refers_to, so the index holds a few rows per thousand deliveries and costs the deliveries'
-- inserts nothing.
CREATE INDEX outbox_refers_to ON outbox (refers_to) WHERE refers_to IS NOT NULL;
