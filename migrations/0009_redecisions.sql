-- Late facts decide again. A message that brings a fact bearing on an earlier decision (an order
-- made before an arrest that was withheld for want of one) decides the affected updates again;
-- the new decision is a further log entry at stage 'redecided'. Finding the latest decision of
-- every (update, recipient) of a person needs the log by event.
ALTER TABLE disclosure_log DROP CONSTRAINT disclosure_log_stage_check;
ALTER TABLE disclosure_log ADD CONSTRAINT disclosure_log_stage_check
    CHECK (stage IN ('decided', 'redecided', 'published'));
CREATE INDEX disclosure_log_event ON disclosure_log (event_id, recipient, id);
